/**
 * A database made by the previous release (schema version 4) is upgraded in place by migration 5:
 * the run-id bloom filters of spans and runs are rebuilt at 0.01% for the rows already stored, and
 * the spans change feed is replaced by one that logs only spans adding to a run's facts. Its data
 * stays, and a late outcome sent afterwards through a collector logs its run as an outcome change only.
 */
import { createServerStore, migrate, type Store } from '@daa/collector'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { GoldenRun } from '../golden/golden-dataset.js'
import { callSpan, lateOutcomeSpans, runSpan } from '../golden/golden-otlp.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { withCollector } from '../support/collector-session.js'

let clickhouse: RunningClickHouse
let store: Store
beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  store = await createServerStore({ url: clickhouse.url, database: 'upgrade' })
}, 120_000)
afterAll(async () => {
  await store?.close()
  await clickhouse?.stop()
})

const indexOf = async (table: string) =>
  (
    await store.query<{ type: string }>(
      `SELECT type_full AS type FROM system.data_skipping_indices
       WHERE database = currentDatabase() AND table = {table:String} AND name = 'idx_run_id'`,
      { table },
    )
  )[0]?.type
const views = async () =>
  (
    await store.query<{ name: string }>(
      "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView' ORDER BY name",
    )
  ).map((row) => row.name)

it('upgrades a version-4 database in place, keeping its rows', async () => {
  await migrate(store, { retentionDays: 0 })
  // What version 4 left: 1% filters, and a spans feed that logged every attributed span.
  for (const table of ['spans', 'runs']) {
    await store.command(`ALTER TABLE ${table} DROP INDEX idx_run_id`)
    await store.command(
      `ALTER TABLE ${table} ADD INDEX idx_run_id run_id TYPE bloom_filter(0.01) GRANULARITY 1`,
    )
  }
  await store.command('DROP VIEW run_changes_from_counted_spans SYNC')
  await store.command(
    "CREATE MATERIALIZED VIEW run_changes_from_spans TO run_changes AS SELECT project_id, run_id, now64(3) AS changed_at, 'spans' AS source FROM spans WHERE run_id != '' GROUP BY project_id, run_id",
  )
  await store.command('ALTER TABLE daa_migrations DELETE WHERE version = 5 SETTINGS mutations_sync = 1')
  // A run with an LLM call, stored before the upgrade.
  await store.command(
    `INSERT INTO spans (project_id, timestamp, trace_id, span_id, run_id, operation, span_name)
     VALUES ('p', now64(9), 't1', 'r1', 'r1', 'invoke_agent', 'invoke_agent a'),
            ('p', now64(9), 't1', 'c1', 'r1', 'chat', 'chat m')`,
  )
  expect(await indexOf('spans')).toBe('bloom_filter(0.01)')

  expect((await migrate(store, { retentionDays: 0 })).applied).toEqual([5])

  expect(await indexOf('spans')).toBe('bloom_filter(0.0001)')
  expect(await indexOf('runs')).toBe('bloom_filter(0.0001)')
  expect(await views()).toEqual([
    'pending_traces_from_spans',
    'run_changes_from_counted_spans',
    'run_changes_from_outcomes',
    'run_changes_from_runs',
    'run_spans_from_spans',
    'trace_changes_from_spans',
  ])
  // The rows stored before are there, and the rebuilt filter finds them by run id.
  const [stored] = await store.query<{ n: number }>(
    "SELECT count() AS n FROM spans FINAL WHERE run_id = 'r1'",
  )
  expect(stored!.n).toBe(2)

  // After the upgrade, sent through a collector as a sender would: a late daa.outcome span for the
  // run logs it once, as an outcome change; a tool call of the run still logs it as a span change.
  // (The collector's refresher runs, as deployed; it logs nothing for the outcome span.)
  const run: GoldenRun = {
    project: 'p',
    runId: 'f00d000000000001',
    traceId: 'f00d0000000000000000000000000001',
    parentRunId: '',
    agentId: 'agent',
    userId: '',
    startNs: BigInt(Date.now()) * 1_000_000n,
    durationNs: 1_000_000,
    statusError: false,
    ownCostUsd: 0,
    calls: [],
    outcomes: [],
    runArrivesLate: false,
  }
  await withCollector(store, async ({ send }) => {
    await send([runSpan(run)])
    const since = (await store.query<{ now: string }>("SELECT toString(now64(3, 'UTC')) AS now"))[0]!.now
    const changes = async () =>
      (
        await store.query<{ source: string }>(
          `SELECT source FROM run_changes WHERE changed_at >= {since:DateTime64(3, 'UTC')} AND run_id = {run:String} ORDER BY source`,
          { since, run: run.runId },
        )
      ).map((row) => row.source)
    const recordedAt = BigInt(Date.now()) * 1_000_000n
    await send(
      lateOutcomeSpans({
        ...run,
        outcomes: [
          {
            status: 'delivered',
            value: 1,
            unit: 'USD',
            reason: '',
            recordedAt,
            sourceSpanId: 'f00d0000000000a1',
            late: true,
          },
        ],
      }),
    )
    expect(await changes()).toEqual(['outcomes'])
    const tool = {
      spanId: 'f00d0000000000b1',
      kind: 'tool' as const,
      startNs: run.startNs,
      durationNs: 1_000,
      costUsd: 0,
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      reasoningTokens: 0,
      failed: false,
      attributedLate: false,
    }
    // The tool call arrives after its run, so the collector's refresh attributes it to the run; the
    // re-inserted row (run_id set) is what logs the change.
    await send([callSpan(run, tool)])
    while (!(await changes()).includes('spans')) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await changes()).toEqual(['outcomes', 'spans'])
  })
})
