/**
 * The schema on a cluster with Keeper (`CLICKHOUSE_CLUSTER_REPLICATED=true`). No Keeper runs on this
 * machine, so the Replicated DDL cannot be executed here; what can be checked is checked: every
 * statement of every migration parses in ClickHouse itself (`formatQuery`, the server's own parser),
 * every DDL statement runs ON CLUSTER (data is written through the Distributed tables), and every
 * MergeTree-family table is Replicated under a per-shard Keeper path.
 * The same statements without `replicated` run on the two-shard test cluster (store-cluster.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedStore, type Store } from '@daa/collector'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIGRATIONS } from '../../collector/src/store/migrations.js'

const dataDir = mkdtempSync(join(tmpdir(), 'daa-replicated-ddl-'))
let store: Store
beforeAll(async () => {
  store = await createEmbeddedStore({ path: dataDir, database: 'ddl' })
})
afterAll(async () => {
  await store?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

const context = { database: 'daa', retentionDays: 400, cluster: { name: 'daa_cluster', replicated: true } }
const statements = MIGRATIONS.flatMap((migration) =>
  migration.statements(context).map((sql) => ({ version: migration.version, sql })),
)

describe('migrations for a replicated cluster (Keeper)', () => {
  it('parse in ClickHouse, every one', async () => {
    expect(statements.length).toBeGreaterThan(40)
    for (const { version, sql } of statements) {
      const [parsed] = await store
        .query<{ text: string }>('SELECT formatQuery({sql:String}) AS text', { sql })
        .catch((error: unknown) => {
          throw new Error(`migration ${version} does not parse: ${sql}\n${String(error)}`)
        })
      expect(parsed?.text.length, sql).toBeGreaterThan(0)
    }
  })

  it('run ON CLUSTER, and keep every MergeTree table in Keeper per shard and replica', () => {
    let replicated = 0
    for (const { sql } of statements) {
      // Data (migration 6 copies the people rows) is written once, through the Distributed tables, after
      // ON CLUSTER made them on every node.
      if (/^\s*INSERT\b/.test(sql)) {
        expect(sql, sql).not.toMatch(/_local\b/)
        continue
      }
      expect(sql, sql).toMatch(/ ON CLUSTER `?daa_cluster`?(\s|$)/)
      const engine = /ENGINE = (\w+)\(([^)]*)\)/.exec(sql)
      if (!engine || engine[1] === 'Distributed') continue
      replicated++
      expect(engine[1], sql).toMatch(/^Replicated\w*MergeTree$/)
      const table = /CREATE TABLE IF NOT EXISTS `?(\w+)`?/.exec(sql)![1]
      expect(engine[2], sql).toContain(`'/clickhouse/tables/{shard}/daa/${table}', '{replica}'`)
    }
    // spans, runs, outcomes, api keys, run_facts, the rollups, the change logs, claims, refreshes.
    expect(replicated).toBeGreaterThanOrEqual(20)
  })

  it('spread the sharded tables with Distributed tables over the local ones', () => {
    const distributed = statements.filter(({ sql }) => sql.includes('ENGINE = Distributed('))
    expect(distributed.map(({ sql }) => /CREATE TABLE IF NOT EXISTS `?(\w+)`?/.exec(sql)![1])).toEqual(
      expect.arrayContaining(['spans', 'runs', 'outcomes', 'run_facts', 'quarter_totals', 'bucket_totals']),
    )
    for (const { sql } of distributed)
      expect(sql).toMatch(/Distributed\(`?daa_cluster`?, `?daa`?, `?\w+_local`?/)
  })
})
