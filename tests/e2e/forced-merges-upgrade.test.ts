/**
 * A database made by the previous release (schema version 7) is upgraded in place by migration 8:
 * the rollups that queries read whole get forced merges (FORCED_MERGES), so that a large part a
 * catch-up wrote beside a month's base part is merged into it instead of being merged by every FINAL.
 * The upgraded tables end up as a new database's, and their rows stay.
 */
import { createServerStore, migrate, type Store } from '@daa/collector'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { FORCE_MERGED_TABLES, FORCED_MERGES } from '../../collector/src/queries/rollup-schema.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'

let clickhouse: RunningClickHouse
let store: Store
let fresh: Store
beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  store = await createServerStore({ url: clickhouse.url, database: 'upgrade' })
  fresh = await createServerStore({ url: clickhouse.url, database: 'fresh' })
}, 120_000)
afterAll(async () => {
  await store?.close()
  await fresh?.close()
  await clickhouse?.stop()
})

/** Each table's engine with its settings, as system.tables shows them. */
async function enginesOf(database: Store): Promise<Record<string, string>> {
  const rows = await database.query<{ name: string; engine_full: string }>(
    'SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() ORDER BY name',
  )
  return Object.fromEntries(rows.map((row) => [row.name, row.engine_full]))
}

it('gives a version-7 database forced merges on the rollups read whole, as a new database has them', async () => {
  await migrate(fresh, { retentionDays: 0 })
  await migrate(store, { retentionDays: 0 })
  // What version 7 left: the tables without the setting, and no migration 8 recorded.
  for (const table of FORCE_MERGED_TABLES) {
    await store.command(`ALTER TABLE ${table.name} RESET SETTING min_age_to_force_merge_seconds`)
  }
  await store.command('ALTER TABLE daa_migrations DELETE WHERE version = 8 SETTINGS mutations_sync = 1')
  await store.command(
    "INSERT INTO agent_days (project_id, day, agent_id, worked, delivered, runs) VALUES ('p', '2026-10-01', 'a', 1, 1, 1)",
  )
  const before = await enginesOf(store)
  for (const table of FORCE_MERGED_TABLES) expect(before[table.name]).not.toContain(FORCED_MERGES)

  expect((await migrate(store, { retentionDays: 0 })).applied).toEqual([8])

  const after = await enginesOf(store)
  for (const table of FORCE_MERGED_TABLES) expect(after[table.name]).toContain(FORCED_MERGES)
  // Every table as a new database has it, the ones the migration left alone included.
  expect(after).toEqual(await enginesOf(fresh))
  const [kept] = await store.query<{ runs: number }>('SELECT sum(runs) AS runs FROM agent_days FINAL')
  expect(Number(kept!.runs)).toBe(1)
})
