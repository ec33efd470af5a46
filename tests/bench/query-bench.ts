/**
 * npm run bench:query — times every saved query on a realistic volume: about 10 million runs over
 * 30 days from 20,000 agents (BENCH_RUNS, BENCH_AGENTS to change), with their spans and outcomes,
 * in a real ClickHouse server (tests/support). The data is generated inside ClickHouse with
 * INSERT … SELECT FROM numbers(), then the rollup is built with refreshRollups, as a collector would.
 *
 * For each query it reports the median over several runs on the rollup (what the API, the CLI and
 * the dashboards run) and on the raw path (the same facts computed from spans, runs and outcomes at
 * query time), and their ratio. Targets: the 30-day DAA series under 200 ms; all dashboard queries
 * together under 2 s.
 *
 * Run with tsx (it imports the collector's TypeScript sources): `npx tsx tests/bench/query-bench.ts`.
 */
import { createServerStore, migrate } from '../../collector/src/index.js'
import { refreshRollups, runSavedQuery, savedQueries } from '../../collector/src/queries/index.js'
import { ROLLUP_TABLES } from '../../collector/src/queries/rollup-schema.js'
import { startClickHouseServer } from '../support/clickhouse-server.js'
import { loadBenchData } from './query-bench-data.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 10_000_000)
const AGENTS = Number(process.env.BENCH_AGENTS ?? 20_000)
const PEOPLE = 500_000
const DAYS = 30
const ROLLUP_REPEATS = Number(process.env.BENCH_REPEATS ?? 5)
const RAW_REPEATS = Number(process.env.BENCH_RAW_REPEATS ?? 1)
const PROJECT = 'bench'
const FIRST_DAY = '2026-10-01'
const LAST_DAY = '2026-10-30'
const TARGET_DAA_MS = 200
const TARGET_DASHBOARD_MS = 2000

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now()
  const result = await work()
  return { result, ms: performance.now() - started }
}

const ratio = (raw: number, rollup: number) => (Number.isNaN(raw) ? 'n/a' : `${(raw / rollup).toFixed(1)}×`)
const format = (ms: number) => (Number.isNaN(ms) ? 'n/a' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1))

async function main(): Promise<void> {
  console.log(`query bench: ${RUNS.toLocaleString()} runs, ${AGENTS.toLocaleString()} agents, ${DAYS} days`)
  const server = await startClickHouseServer()
  const store = await createServerStore({ url: server.url, database: 'bench', requestTimeoutMs: 3_600_000 })
  try {
    await migrate(store, { retentionDays: 0 })
    const loaded = await timed(() =>
      loadBenchData(store, {
        runs: RUNS,
        agents: AGENTS,
        people: PEOPLE,
        days: DAYS,
        project: PROJECT,
        firstDay: FIRST_DAY,
      }),
    )
    const [counts] = await store.query<{ runs: number; spans: number; outcomes: number }>(
      'SELECT (SELECT count() FROM runs) AS runs, (SELECT count() FROM spans) AS spans, (SELECT count() FROM outcomes) AS outcomes',
    )
    console.log(
      `loaded in ${(loaded.ms / 1000).toFixed(1)} s: ${counts!.runs.toLocaleString()} run rows, ` +
        `${counts!.spans.toLocaleString()} span rows, ${counts!.outcomes.toLocaleString()} outcome rows (1% of runs retried)`,
    )
    const refresh = await timed(() => refreshRollups(store))
    console.log(
      `rollup: ${refresh.result.mode} refresh of ${refresh.result.runsRefreshed.toLocaleString()} runs ` +
        `(${refresh.result.keysRefreshed} UTC days of rollup keys recomputed) in ${(refresh.ms / 1000).toFixed(1)} s`,
    )
    const sizes = await store.query<{ table: string; rows: number }>(
      `SELECT table, sum(rows) AS rows FROM system.parts
       WHERE active AND database = currentDatabase() AND table IN {tables:Array(String)}
       GROUP BY table ORDER BY table`,
      { tables: ROLLUP_TABLES.map((table) => table.name) },
    )
    console.log(
      `rollup rows: ${sizes.map((size) => `${size.table} ${size.rows.toLocaleString()}`).join(', ')}`,
    )
    // Steady state: old days' parts are merged by the background merges; do it now rather than wait.
    const merged = await timed(async () => {
      for (const table of ROLLUP_TABLES) await store.command(`OPTIMIZE TABLE ${table.name} FINAL`)
    })
    console.log(`rollups merged (OPTIMIZE FINAL) in ${(merged.ms / 1000).toFixed(1)} s`)

    // An incremental refresh after a minute of traffic: late outcomes for 0.1% of runs.
    await store.command(
      `INSERT INTO outcomes (project_id, run_id, status, value, unit, reason, recorded_at, source_span_id)
       SELECT '${PROJECT}', leftPad(lower(hex(number)), 16, '0'), 'delivered', 1, 'USD', '', now64(9), 'later'
       FROM numbers({runs:UInt64}) WHERE number % 1000 = 7`,
      { runs: RUNS },
    )
    const incremental = await timed(() => refreshRollups(store, { since: refresh.result.startedAt }))
    console.log(
      `rollup: incremental refresh of ${incremental.result.runsRefreshed.toLocaleString()} changed runs ` +
        `(${incremental.result.keysRefreshed.toLocaleString()} rollup keys recomputed, spread over every day) in ` +
        `${(incremental.ms / 1000).toFixed(1)} s`,
    )

    const request = { from: FIRST_DAY, to: LAST_DAY, tz: 'UTC' }
    const cases = [
      ...[...savedQueries().keys()].map((name) => ({ label: name, name, request })),
      { label: 'daa (Asia/Kathmandu)', name: 'daa', request: { ...request, tz: 'Asia/Kathmandu' } },
    ]
    const rows: { label: string; rollup: number; raw: number }[] = []
    for (const { label, name, request: params } of cases) {
      await runSavedQuery(store, PROJECT, name, params) // warm-up
      const rollup: number[] = []
      for (let i = 0; i < ROLLUP_REPEATS; i++) {
        rollup.push((await timed(() => runSavedQuery(store, PROJECT, name, params))).ms)
      }
      const raw: number[] = []
      for (let i = 0; i < RAW_REPEATS; i++) {
        try {
          raw.push((await timed(() => runSavedQuery(store, PROJECT, name, params, { source: 'raw' }))).ms)
        } catch (error) {
          // The raw path recomputes every run's facts per rollup it stands in for; at 10M runs some
          // queries exceed the server's memory. Reported as n/a rather than ending the bench.
          console.log(`  ${label}: raw path failed: ${String(error).slice(0, 120)}`)
          break
        }
      }
      rows.push({ label, rollup: median(rollup), raw: raw.length ? median(raw) : Number.NaN })
      console.log(
        `  ${label}: rollup ${format(median(rollup))} ms, raw ${raw.length ? format(median(raw)) : 'n/a'} ms`,
      )
    }

    const dashboard = rows.filter((row) => !row.label.includes('('))
    const total = dashboard.reduce((sum, row) => sum + row.rollup, 0)
    const totalRaw = dashboard.reduce((sum, row) => sum + row.raw, 0)
    const width = Math.max(...rows.map((row) => row.label.length), 'all dashboard queries'.length)
    const line = (label: string, rollup: string, raw: string, ratio: string) =>
      `${label.padEnd(width)}  ${rollup.padStart(11)}  ${raw.padStart(11)}  ${ratio.padStart(8)}`
    console.log(
      `\nmedian of ${ROLLUP_REPEATS} (rollup) / ${RAW_REPEATS} (raw) runs, 30 days, ${RUNS.toLocaleString()} runs:\n`,
    )
    console.log(line('query', 'rollup (ms)', 'raw (ms)', 'raw ÷'))
    console.log(line('─'.repeat(width), '─'.repeat(11), '─'.repeat(11), '─'.repeat(8)))
    for (const row of rows) {
      console.log(line(row.label, format(row.rollup), format(row.raw), ratio(row.raw, row.rollup)))
    }
    console.log(line('all dashboard queries', format(total), format(totalRaw), ratio(totalRaw, total)))
    const daa = rows.find((row) => row.label === 'daa')!.rollup
    console.log(
      `\ntargets: 30-day DAA ${format(daa)} ms (< ${TARGET_DAA_MS}: ${daa < TARGET_DAA_MS ? 'met' : 'MISSED'}), ` +
        `dashboard ${format(total)} ms (< ${TARGET_DASHBOARD_MS}: ${total < TARGET_DASHBOARD_MS ? 'met' : 'MISSED'})`,
    )
  } finally {
    await store.close()
    await server.stop()
  }
}

await main()
