/**
 * A database made by an earlier release (schema version 7) is upgraded in place by the migrations
 * that only change how tables are stored:
 * - 8: the rollups that queries read whole get forced merges (FORCED_MERGES), so that a large part a
 *   catch-up wrote beside a month's base part is merged into it instead of by every FINAL;
 * - 9: the rollups a refresh reads by key get small compressed blocks (SMALL_BLOCKS), so that
 *   reading a key's granule decompresses that granule rather than eight;
 * - 10: every rollup column is compressed with ROLLUP_COMPRESSION (LZ4) instead of ZSTD(1), which
 *   the dashboard's queries decompress faster.
 * The upgraded tables end up as a new database's, and their rows stay.
 */
import { migrate, type Store } from '@daa/collector'
import { expect, it } from 'vitest'
import {
  FORCE_MERGED_TABLES,
  FORCED_MERGES,
  ROLLUP_COMPRESSION,
  ROLLUP_TABLES,
  SMALL_BLOCK_TABLES,
  SMALL_BLOCKS,
} from '../../collector/src/queries/rollup-schema.js'
import { useUpgradeDatabases } from '../support/upgrade-databases.js'

const databases = useUpgradeDatabases('settings')

/** Each table's engine with its settings, as system.tables shows them. */
async function enginesOf(database: Store): Promise<Record<string, string>> {
  const rows = await database.query<{ name: string; engine_full: string }>(
    'SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() ORDER BY name',
  )
  return Object.fromEntries(rows.map((row) => [row.name, row.engine_full]))
}

/** Each table's columns with their types, defaults and codecs, as system.columns shows them. */
async function columnsOf(database: Store): Promise<Record<string, string[]>> {
  const rows = await database.query<{ table: string; column: string }>(
    `SELECT table, concat(name, ' ', type, ' ', default_expression, ' ', compression_codec) AS column
     FROM system.columns WHERE database = currentDatabase() ORDER BY table, position`,
  )
  const tables: Record<string, string[]> = {}
  for (const row of rows) tables[row.table] = [...(tables[row.table] ?? []), row.column]
  return tables
}

/** What each settings migration changes: its version, its tables, and the setting (`name = value`). */
const SETTINGS_MIGRATIONS = [
  { version: 8, tables: FORCE_MERGED_TABLES, setting: FORCED_MERGES },
  { version: 9, tables: SMALL_BLOCK_TABLES, setting: SMALL_BLOCKS },
]

it('gives a version-7 database the settings of migrations 8 and 9 and the codecs of 10, as a new database has them', async () => {
  await migrate(databases.fresh, { retentionDays: 0 })
  await migrate(databases.upgraded, { retentionDays: 0 })
  // What version 7 left: the tables without the settings, their columns compressed with ZSTD(1),
  // and no migration 8, 9 or 10 recorded.
  for (const { tables, setting } of SETTINGS_MIGRATIONS) {
    expect(tables.length).toBeGreaterThan(0)
    const name = setting.split(' = ')[0]
    for (const table of tables)
      await databases.upgraded.command(`ALTER TABLE ${table.name} RESET SETTING ${name}`)
  }
  for (const table of ROLLUP_TABLES) {
    const columns = await databases.upgraded.query<{ name: string; codec: string }>(
      `SELECT name, compression_codec AS codec FROM system.columns
       WHERE database = currentDatabase() AND table = {table:String} AND compression_codec != ''`,
      { table: table.name },
    )
    expect(columns.length).toBeGreaterThan(0)
    const older = columns.map(
      ({ name, codec }) => `MODIFY COLUMN ${name} ${codec.replace(ROLLUP_COMPRESSION, 'ZSTD(1)')}`,
    )
    await databases.upgraded.command(`ALTER TABLE ${table.name} ${older.join(', ')}`)
  }
  await databases.upgraded.command(
    'ALTER TABLE daa_migrations DELETE WHERE version IN (8, 9, 10) SETTINGS mutations_sync = 1',
  )
  await databases.upgraded.command(
    "INSERT INTO agent_days (project_id, day, agent_id, worked, delivered, runs) VALUES ('p', '2026-10-01', 'a', 1, 1, 1)",
  )
  await databases.upgraded.command(
    "INSERT INTO quarter_totals (project_id, agent_id, quarter, runs) VALUES ('p', 'a', '2026-10-01 00:00:00', 1)",
  )
  const before = await enginesOf(databases.upgraded)
  for (const { tables, setting } of SETTINGS_MIGRATIONS) {
    for (const table of tables) expect(before[table.name]).not.toContain(setting)
  }
  const columnsBefore = await columnsOf(databases.upgraded)
  for (const table of ROLLUP_TABLES) {
    expect(columnsBefore[table.name]!.join('\n')).not.toContain(ROLLUP_COMPRESSION)
  }

  expect((await migrate(databases.upgraded, { retentionDays: 0 })).applied).toEqual([8, 9, 10])

  const after = await enginesOf(databases.upgraded)
  for (const { tables, setting } of SETTINGS_MIGRATIONS) {
    for (const table of tables) expect(after[table.name]).toContain(setting)
  }
  // Every table as a new database has it, the ones the migrations left alone included.
  expect(after).toEqual(await enginesOf(databases.fresh))
  expect(await columnsOf(databases.upgraded)).toEqual(await columnsOf(databases.fresh))
  const [days] = await databases.upgraded.query<{ runs: number }>(
    'SELECT sum(runs) AS runs FROM agent_days FINAL',
  )
  expect(Number(days!.runs)).toBe(1)
  const [quarters] = await databases.upgraded.query<{ runs: number }>(
    'SELECT sum(runs) AS runs FROM quarter_totals FINAL',
  )
  expect(Number(quarters!.runs)).toBe(1)
})
