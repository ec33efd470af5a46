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
import { createServerStore, migrate, type Store } from '../../collector/src/index.js'
import { refreshRollups, runSavedQuery, savedQueries } from '../../collector/src/queries/index.js'
import { startClickHouseServer } from '../support/clickhouse-server.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 10_000_000)
const AGENTS = Number(process.env.BENCH_AGENTS ?? 20_000)
const PEOPLE = 500_000
const DAYS = 30
const ROLLUP_REPEATS = Number(process.env.BENCH_REPEATS ?? 5)
const RAW_REPEATS = Number(process.env.BENCH_RAW_REPEATS ?? 1)
const PROJECT = 'bench'
const FIRST_DAY = '2026-10-01'
const LAST_DAY = '2026-10-30'
const FIRST_DAY_NS = BigInt(Date.parse(`${FIRST_DAY}T00:00:00Z`)) * 1_000_000n
const TARGET_DAA_MS = 200
const TARGET_DASHBOARD_MS = 2000

/** Every expression below is a pure function of `number` (the run's index), so the data is repeatable. */
const RUN_FIELDS = `
    leftPad(lower(hex(number)), 16, '0') AS run_hex,
    'agent-' || toString(cityHash64(number, 'agent') % ${AGENTS}) AS agent,
    'person-' || toString(cityHash64(number, 'person') % ${PEOPLE}) AS person,
    -- Runs spread evenly over the 30 days, each at its own nanosecond.
    toInt64(${FIRST_DAY_NS}) + toInt64(number) * ${(BigInt(DAYS) * 86_400_000_000_000n) / BigInt(RUNS)} AS start_ns,
    100000000 + cityHash64(number, 'duration') % 60000000000 AS run_duration_ns,
    cityHash64(number, 'outcome') % 100 AS outcome_roll`

const INSERT_RUNS = `
INSERT INTO runs (project_id, run_id, trace_id, parent_run_id, agent_id, agent_name, agent_version, user_id,
                  conversation_id, service_name, start_time, duration_ns, status_code, error_type, cost_usd)
SELECT '${PROJECT}', run_hex, leftPad(run_hex, 32, '0'), '', agent, agent, '1.0.0', person, '', 'bench',
       fromUnixTimestamp64Nano(start_ns), run_duration_ns,
       if(cityHash64(number, 'error') % 50 = 0, 'ERROR', 'OK'), '', (cityHash64(number, 'cost') % 100) / 10000
FROM (SELECT number, ${RUN_FIELDS} FROM numbers({first:UInt64}, {count:UInt64}))`

/** Per run: its invoke_agent span, one LLM call and one tool call (a tenth of them failing). */
const INSERT_SPANS = `
INSERT INTO spans (project_id, timestamp, trace_id, span_id, parent_span_id, span_name, span_kind, service_name,
                   duration_ns, status_code, operation, run_id, agent_id, user_id, request_model, tool_name,
                   input_tokens, output_tokens, cost_usd, error_type)
SELECT '${PROJECT}', fromUnixTimestamp64Nano(start_ns + role * 1000000), leftPad(run_hex, 32, '0'),
       if(role = 0, run_hex, leftPad(lower(hex(number * 4 + role)), 16, '1')),
       if(role = 0, '', run_hex),
       ['invoke_agent bench', 'chat gpt-5', 'execute_tool search'][role + 1], 'INTERNAL', 'bench',
       if(role = 0, run_duration_ns, 50000000),
       if(role = 2 AND cityHash64(number, 'tool') % 10 = 0, 'ERROR', 'OK'),
       ['invoke_agent', 'chat', 'execute_tool'][role + 1], run_hex, agent, person,
       if(role = 1, 'gpt-5', ''), if(role = 2, 'search', ''),
       if(role = 1, 500 + cityHash64(number, 'in') % 4000, 0), if(role = 1, 50 + cityHash64(number, 'out') % 800, 0),
       if(role = 1, (cityHash64(number, 'llm') % 1000) / 100000, 0), ''
FROM (SELECT number, ${RUN_FIELDS} FROM numbers({first:UInt64}, {count:UInt64}))
ARRAY JOIN [0, 1, 2] AS role`

/** 80% of runs get an outcome on the run span; 5% a late outcome an hour later that may change it. */
const INSERT_OUTCOMES = `
INSERT INTO outcomes (project_id, run_id, status, value, unit, reason, recorded_at, source_span_id)
SELECT '${PROJECT}', run_hex, status, if(status = 'delivered', (cityHash64(number, 'value') % 10000) / 100, 0),
       if(status = 'delivered', if(cityHash64(number, 'unit') % 10 < 7, 'USD', 'tickets'), ''),
       if(status IN ('failed', 'abandoned'), ['timeout', 'tool error', 'user left'][cityHash64(number, 'why') % 3 + 1], ''),
       fromUnixTimestamp64Nano(start_ns + run_duration_ns + late * 3600000000000), if(late = 0, run_hex, 'late' || run_hex)
FROM (
    SELECT number, run_hex, start_ns, run_duration_ns, late,
           if(late = 1, if(cityHash64(number, 'late') % 2 = 0, 'delivered', 'failed'),
              multiIf(outcome_roll < 50, 'delivered', outcome_roll < 60, 'partial', outcome_roll < 72, 'failed', 'abandoned')) AS status
    FROM (SELECT number, ${RUN_FIELDS} FROM numbers({first:UInt64}, {count:UInt64}))
    ARRAY JOIN [0, 1] AS late
    WHERE (late = 0 AND outcome_roll < 80) OR (late = 1 AND cityHash64(number, 'late?') % 20 = 0)
)`

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

async function load(store: Store): Promise<void> {
  const chunk = 2_000_000
  for (let first = 0; first < RUNS; first += chunk) {
    const params = { first, count: Math.min(chunk, RUNS - first) }
    await store.command(INSERT_RUNS, params)
    await store.command(INSERT_SPANS, params)
    await store.command(INSERT_OUTCOMES, params)
  }
  // A retried batch: 1% of runs and their outcomes inserted a second time.
  await store.command(`${INSERT_RUNS.replace('{count:UInt64})', '{count:UInt64}) WHERE number % 100 = 0')}`, {
    first: 0,
    count: RUNS,
  })
}

const format = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1))

async function main(): Promise<void> {
  console.log(`query bench: ${RUNS.toLocaleString()} runs, ${AGENTS.toLocaleString()} agents, ${DAYS} days`)
  const server = await startClickHouseServer()
  const store = await createServerStore({ url: server.url, database: 'bench', requestTimeoutMs: 3_600_000 })
  try {
    await migrate(store, { retentionDays: 0 })
    const loaded = await timed(() => load(store))
    const [counts] = await store.query<{ runs: number; spans: number; outcomes: number }>(
      'SELECT (SELECT count() FROM runs) AS runs, (SELECT count() FROM spans) AS spans, (SELECT count() FROM outcomes) AS outcomes',
    )
    console.log(
      `loaded in ${(loaded.ms / 1000).toFixed(1)} s: ${counts!.runs.toLocaleString()} run rows, ` +
        `${counts!.spans.toLocaleString()} span rows, ${counts!.outcomes.toLocaleString()} outcome rows (1% of runs retried)`,
    )
    const refresh = await timed(() => refreshRollups(store))
    console.log(
      `rollup: ${refresh.result.mode} refresh of ${refresh.result.runsRefreshed.toLocaleString()} runs in ` +
        `${(refresh.ms / 1000).toFixed(1)} s`,
    )
    // Steady state: old days' parts are merged by the background merges; do it now rather than wait.
    const merged = await timed(() => store.command('OPTIMIZE TABLE run_facts FINAL'))
    console.log(`run_facts merged (OPTIMIZE FINAL) in ${(merged.ms / 1000).toFixed(1)} s`)

    // An incremental refresh after a minute of traffic: late outcomes for 0.1% of runs.
    await store.command(
      `INSERT INTO outcomes (project_id, run_id, status, value, unit, reason, recorded_at, source_span_id)
       SELECT '${PROJECT}', leftPad(lower(hex(number)), 16, '0'), 'delivered', 1, 'USD', '', now64(9), 'later'
       FROM numbers({runs:UInt64}) WHERE number % 1000 = 7`,
      { runs: RUNS },
    )
    const incremental = await timed(() => refreshRollups(store, { since: refresh.result.startedAt }))
    console.log(
      `rollup: incremental refresh of ${incremental.result.runsRefreshed.toLocaleString()} changed runs in ` +
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
        raw.push((await timed(() => runSavedQuery(store, PROJECT, name, params, { source: 'raw' }))).ms)
      }
      rows.push({ label, rollup: median(rollup), raw: median(raw) })
      console.log(`  ${label}: rollup ${format(median(rollup))} ms, raw ${format(median(raw))} ms`)
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
      console.log(
        line(row.label, format(row.rollup), format(row.raw), `${(row.raw / row.rollup).toFixed(1)}×`),
      )
    }
    console.log(
      line('all dashboard queries', format(total), format(totalRaw), `${(totalRaw / total).toFixed(1)}×`),
    )
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
