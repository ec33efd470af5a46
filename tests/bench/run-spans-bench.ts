/**
 * npm run bench:run-spans — what `run_spans` (the spans that add to a run, sorted by run) buys a
 * refresh and costs an insert, on one real ClickHouse server, both sides in alternation:
 *   - the run-facts statement for runs picked at random over the 30 days (as a refresh after late
 *     changes recomputes them), reading spans by run (`run_spans`, what a refresh reads) against by
 *     day (`spans`, what the full rebuild reads), median of 5;
 *   - ClickHouse CPU seconds per million spans inserted in 20,000-span batches with the view that
 *     feeds `run_spans` and without it (the same rows from a staging table), merges included.
 * BENCH_RUNS (default 2,000,000, 10 spans a run) sets the size; BENCH_PICKED the numbers of runs.
 */
import { readFileSync } from 'node:fs'
import { createServerStore, migrate } from '../../collector/src/index.js'
import { runFactsSelect } from '../../collector/src/queries/run-facts.js'
import { startClickHouseServer } from '../support/clickhouse-server.js'
import { loadBenchData } from './query-bench-data.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 2_000_000)
const PICKED = (process.env.BENCH_PICKED ?? '100,1000,5000').split(',').map(Number)
const INSERT_SPANS = 1_000_000
const BATCH = 20_000

const server = await startClickHouseServer()
const cpuSeconds = () => {
  const stat = readFileSync(`/proc/${server.pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const store = await createServerStore({ url: server.url, database: 'bench', requestTimeoutMs: 3_600_000 })
try {
  await migrate(store, { retentionDays: 0 })
  const options = {
    agents: 20_000,
    people: 500_000,
    days: 30,
    project: 'bench',
    firstDay: '2026-10-01',
    spansPerRun: 10,
  }
  await loadBenchData(store, { ...options, runs: RUNS })
  for (const table of ['spans', 'run_spans', 'runs']) await store.command(`OPTIMIZE TABLE ${table} FINAL`)
  console.log(
    `run_spans bench: ${RUNS.toLocaleString()} runs, ${(RUNS * 10).toLocaleString()} spans, tables merged`,
  )

  const filter = '(project_id, run_id) IN (SELECT project_id, run_id FROM picked)'
  for (const count of PICKED) {
    await store.command('DROP TABLE IF EXISTS picked')
    await store.command('CREATE TABLE picked (project_id String, run_id String) ENGINE = Memory')
    await store.command(
      `INSERT INTO picked SELECT project_id, run_id FROM runs ORDER BY cityHash64(run_id, ${count}) LIMIT ${count}`,
    )
    const ms: Record<'by run' | 'by day', number[]> = { 'by run': [], 'by day': [] }
    for (let round = 0; round < 5; round++) {
      for (const spans of round % 2 ? (['by day', 'by run'] as const) : (['by run', 'by day'] as const)) {
        const start = performance.now()
        await store.command(`${runFactsSelect(filter, spans)} FORMAT Null`)
        ms[spans].push(performance.now() - start)
      }
    }
    console.log(
      `  facts of ${count.toLocaleString()} runs picked at random: from run_spans ${median(ms['by run']).toFixed(0)} ms, from spans ${median(ms['by day']).toFixed(0)} ms`,
    )
  }

  // Inserts: the same spans, staged in batches, into a database with the view and one without.
  await store.command(
    `CREATE TABLE staged ENGINE = MergeTree ORDER BY batch AS SELECT intDiv(rowNumberInAllBlocks(), ${BATCH}) AS batch, * EXCEPT ingested_at
     FROM (SELECT * FROM spans ORDER BY trace_id LIMIT ${INSERT_SPANS})`,
  )
  const columns = (
    await store.query<{ name: string }>(
      "SELECT name FROM system.columns WHERE database = 'bench' AND table = 'staged' AND name != 'batch' ORDER BY position",
    )
  )
    .map((row) => row.name)
    .join(', ')
  const cpu: Record<'with the view' | 'without it', number[]> = { 'with the view': [], 'without it': [] }
  for (let round = 0; round < 4; round++) {
    for (const side of round % 2
      ? (['without it', 'with the view'] as const)
      : (['with the view', 'without it'] as const)) {
      const database = `insert_${round}_${side === 'with the view' ? 'with' : 'without'}`
      const target = await createServerStore({ url: server.url, database, requestTimeoutMs: 600_000 })
      await migrate(target, { retentionDays: 0 })
      if (side === 'without it') await target.command('DROP VIEW run_spans_from_spans SYNC')
      const before = cpuSeconds()
      for (let batch = 0; batch < INSERT_SPANS / BATCH; batch++) {
        await target.command(
          `INSERT INTO spans (${columns}) SELECT ${columns} FROM bench.staged WHERE batch = ${batch}`,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 3_000)) // the merges of what was written
      cpu[side].push(((cpuSeconds() - before) * 1_000_000) / INSERT_SPANS)
      await target.command(`DROP DATABASE ${database}`)
      await target.close()
    }
  }
  console.log(
    `  ClickHouse CPU s per million spans inserted (4 rounds each): with the view ${cpu['with the view'].map((s) => s.toFixed(1)).join(', ')}; without it ${cpu['without it'].map((s) => s.toFixed(1)).join(', ')}`,
  )
} finally {
  await store.close()
  await server.stop()
}
