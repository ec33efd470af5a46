/**
 * npm run bench:ingest — OTLP/protobuf ingest through one collector process into a real ClickHouse
 * server, against baselines measured in the same run on the same rows:
 *   - direct JSON: the rows inserted straight into ClickHouse in the collector's own insert format
 *     (JSONCompactEachRow), with the collector's batch size and write concurrency;
 *   - direct Native: the same rows pre-encoded in ClickHouse's Native format, the physical limit.
 * Every side's clock stops at commit: when the last row is visible in ClickHouse. The collector's
 * acknowledgment rate (fsynced in its write-ahead log) is reported on its own line. CPU seconds per
 * million spans come from /proc for the collector process and for the ClickHouse server, in the
 * same window, so the ratio holds even where both share the machine's cores.
 * A separate process (this one) generates the load over loopback.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Readable } from 'node:stream'
import { createClient } from '@clickhouse/client'
import { createApiKey, createServerStore, migrate } from '@daa/collector'
import { mapSpans } from '../../collector/dist/mapping/map-spans.js'
import { DEFAULT_PRICES } from '../../collector/dist/mapping/prices.js'
import { decodeProtobufRequest } from '../../collector/dist/otlp/decode-protobuf.js'
import { startClickHouseServer } from '../support/clickhouse-server.js'
import { runningCollectors, startBuiltCollector } from './built-collector.js'
import { makeTraceRequests } from './realistic-traces.js'

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1500)
const SPANS_PER_REQUEST = 100
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const BATCH_SPANS = Number(process.env.BENCH_DIRECT_BATCH ?? 20_000)
const WARM_UP_REQUESTS = 20
/**
 * BENCH_QUERY_LOG=1: the server keeps its query and part logs (which cost it some CPU, so the
 * figures are not the published ones), and each collector round prints what ClickHouse spent on
 * each kind of statement the collector sent (inserts with their views, the run resolver, the metric
 * refresh…) and on merges, per million spans: where ClickHouse's CPU goes when a collector feeds it.
 */
const QUERY_LOG = process.env.BENCH_QUERY_LOG === '1'
const QUERY_LOG_CONFIG = `<clickhouse>
  <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>1000</flush_interval_milliseconds></query_log>
  <part_log><database>system</database><table>part_log</table><flush_interval_milliseconds>1000</flush_interval_milliseconds></part_log>
</clickhouse>`
/**
 * BENCH_COMPARE_CLI: the cli.js of another build (say, main's), measured in the same rounds as this
 * one, so a change is compared with what it replaces under the same load on a shared machine.
 */
const COMPARE_CLI = process.env.BENCH_COMPARE_CLI
/**
 * BENCH_COMPARE_ENV: environment settings (`NAME=value …`) for the compared collector only, say
 * `DAA_INGEST_WORKERS=0` with BENCH_COMPARE_CLI pointing at this build, to compare two settings of
 * one build in the same rounds. Settings for both sides go in the environment as usual.
 */
const COMPARE_ENV: Record<string, string> = Object.fromEntries(
  (process.env.BENCH_COMPARE_ENV ?? '')
    .split(' ')
    .filter(Boolean)
    .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
)

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

function currentRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
  return kb / 1024
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100

/** User + system CPU seconds a process (all its threads) has used so far. */
function cpuSeconds(pid: number): number {
  const { user, system } = cpuSplit(pid)
  return user + system
}

/** User and system (kernel: sockets, disk, fsync) CPU seconds a process has used so far. */
function cpuSplit(pid: number): { user: number; system: number } {
  // Fields after the command name, which is in parentheses and may hold spaces: utime, stime are 14, 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS }
}

/** CPU seconds this process used (the load generator, or the direct baseline's encoder). */
function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}

interface RowTotals {
  spans: number
  runs: number
  outcomes: number
}

type Store = Awaited<ReturnType<typeof createServerStore>>

/** Resolves once every expected row is visible in ClickHouse: the moment the data is committed. */
async function waitForCommit(store: Store, expected: RowTotals): Promise<void> {
  for (;;) {
    const visible = await countRows(store)
    if (TABLES.every((table) => visible[table] >= expected[table])) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

interface CollectorRoundOptions {
  /** Open-loop pacing in spans/s (latency measured from each request's scheduled time); default: as fast as it goes. */
  pace?: number
  /** The collector's cli.js; default: this checkout's build. */
  cli?: string
  /** Environment settings for this collector only. */
  env?: Record<string, string>
}

async function throughCollector(
  clickhouse: { url: string; pid: number },
  bodies: Uint8Array[],
  totals: RowTotals,
  warmUp: { bodies: Uint8Array[]; totals: RowTotals },
  options: CollectorRoundOptions = {},
) {
  const clickhouseUrl = clickhouse.url
  const database = `bench_${Date.now()}`
  const setup = await createServerStore({ url: clickhouseUrl, database })
  await migrate(setup, { retentionDays: 0 })
  const { key } = await createApiKey(setup, 'bench')
  const dataDir = mkdtempSync(join(tmpdir(), 'daa-bench-'))
  const collector = await startBuiltCollector({
    clickhouseUrl,
    database,
    dataDir,
    ...(options.cli ? { cli: options.cli } : {}),
    ...(options.env ? { env: options.env } : {}),
  })
  // node:http with keep-alive: the lightest sender, so the load generator takes as little of the
  // machine's two cores as it can from the collector and ClickHouse.
  const agent = new Agent({ keepAlive: true, maxSockets: options.pace ? 4 * CONCURRENCY : CONCURRENCY })
  const target = new URL(`${collector.url}/v1/traces`)
  let retries = 0
  // A real OTLP sender retries a 429 or 503 (the collector's backpressure). The wait is the
  // collector's Retry-After capped at 100 ms, so a round measures throughput, not the hint; every
  // retry is counted and printed.
  const send = async (body: Uint8Array): Promise<void> => {
    for (;;) {
      const retryAfter = await sendOnce(body)
      if (retryAfter === undefined) return
      retries++
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, retryAfter * 1000)))
    }
  }
  /** Resolves undefined once acknowledged, or the Retry-After seconds of a 429/503. */
  const sendOnce = (body: Uint8Array) =>
    new Promise<number | undefined>((resolve, reject) => {
      const request = httpRequest(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/x-protobuf',
            'content-length': body.byteLength,
            authorization: `Bearer ${key}`,
          },
        },
        (response) => {
          response.resume()
          response.once('end', () => {
            if (response.statusCode === 200) resolve(undefined)
            else if (response.statusCode === 429 || response.statusCode === 503)
              resolve(Number(response.headers['retry-after'] ?? 1))
            else reject(new Error(`collector answered ${response.statusCode}`))
          })
        },
      )
      // A keep-alive socket the collector closed while idle (between the warm-up and the round):
      // retried at once on a new one, as senders do.
      request.once('error', (error: NodeJS.ErrnoException) =>
        error.code === 'ECONNRESET' ? resolve(0) : reject(error),
      )
      request.end(body)
    })
  const idleRss = currentRssMb(collector.pid)
  // Connections, JIT, key cache. Spans of their own: a body sent twice would be deduplicated by a
  // merge at any time, and the row counts that mark the commit would never be reached.
  await Promise.all(warmUp.bodies.map(send))
  // The warm-up's rows are committed before the clock starts, so the window holds only the measured rows.
  await waitForCommit(setup, warmUp.totals)
  const latencies: number[] = []
  const committed = {
    spans: warmUp.totals.spans + totals.spans,
    runs: warmUp.totals.runs + totals.runs,
    outcomes: warmUp.totals.outcomes + totals.outcomes,
  }
  const cpuBefore = { collector: cpuSeconds(collector.pid), clickhouse: cpuSeconds(clickhouse.pid) }
  const systemBefore = cpuSplit(collector.pid).system
  // The load generator's own stalls (its garbage collection, the machine's other work) delay when
  // it reads an answer, and count in the latency it measures: reported beside it.
  const generatorDelay = monitorEventLoopDelay({ resolution: 10 })
  generatorDelay.enable()
  const started = performance.now()
  const startedAt = Date.now()
  if (options.pace) {
    const spansPerRequest = totals.spans / bodies.length
    const interval = (1000 * spansPerRequest) / options.pace
    await Promise.all(
      bodies.map(async (body, index) => {
        const due = started + index * interval
        const wait = due - performance.now()
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
        await send(body)
        // From when it was due, so a collector that stalls the sender is not flattered.
        latencies.push(performance.now() - due)
      }),
    )
  } else {
    let next = 0
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++]!
          const sent = performance.now()
          await send(body)
          latencies.push(performance.now() - sent)
        }
      }),
    )
  }
  const ackSeconds = (performance.now() - started) / 1000
  generatorDelay.disable()
  await waitForCommit(setup, committed)
  const seconds = (performance.now() - started) / 1000
  const cpu = {
    collector: cpuSeconds(collector.pid) - cpuBefore.collector,
    collectorSystem: cpuSplit(collector.pid).system - systemBefore,
    clickhouse: cpuSeconds(clickhouse.pid) - cpuBefore.clickhouse,
  }
  agent.destroy()
  const rss = peakRssMb(collector.pid)
  const metrics = await (await fetch(`${collector.url}/metrics`)).text()
  const metric = (name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN)
  const inserts = metric('daa_insert_duration_seconds_count')
  const insertMs = (metric('daa_insert_duration_seconds_sum') / inserts) * 1000
  await collector.stop()
  const statements = QUERY_LOG ? await clickhouseWork(setup, database, startedAt, totals.spans) : []
  const [stored] = await setup.query<{ n: number }>('SELECT count() AS n FROM spans FINAL')
  await setup.command(`DROP DATABASE ${database}`)
  await setup.close()
  rmSync(dataDir, { recursive: true, force: true })
  latencies.sort((a, b) => a - b)
  if (Number(stored?.n ?? 0) < totals.spans)
    throw new Error(`only ${stored?.n} of ${totals.spans} spans were stored`)
  const perMillion = 1e6 / totals.spans
  return {
    rate: totals.spans / seconds,
    ackRate: totals.spans / ackSeconds,
    collectorCpu: cpu.collector * perMillion,
    collectorSystemCpu: cpu.collectorSystem * perMillion,
    clickhouseCpu: cpu.clickhouse * perMillion,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    rss,
    idleRss,
    inserts,
    insertMs,
    retries,
    generatorDelayP99: generatorDelay.percentile(99) / 1e6,
    generatorDelayMax: generatorDelay.max / 1e6,
    statements,
  }
}

function statementLines(title: string, statements: Awaited<ReturnType<typeof clickhouseWork>>): string[] {
  return [
    `  ${title} (query and part logs), per million spans:`,
    ...statements.map(
      (statement) =>
        `    ${statement.perMillion.toFixed(2).padStart(7)} ${statement.kind.startsWith('merges') ? 'wall' : 'CPU '} s  ${String(statement.n).padStart(5)}x  ${statement.kind}`,
    ),
  ]
}

/**
 * BENCH_QUERY_LOG: ClickHouse's CPU seconds per million spans by kind of statement (an insert
 * counts its views), and the merges' wall seconds, in the database of one round since `since`.
 */
async function clickhouseWork(store: Store, database: string, since: number, spans: number) {
  await store.command('SYSTEM FLUSH LOGS')
  const rows = await store.query<{ kind: string; n: number; cpu: number }>(
    `SELECT * FROM (SELECT
       if(query_kind = 'Insert', extract(query, '^\\s*INSERT INTO\\s+(\\S+)'), substring(normalizeQuery(query), 1, 60)) AS kind,
       count() AS n,
       sum(ProfileEvents['UserTimeMicroseconds'] + ProfileEvents['SystemTimeMicroseconds']) / 1e6 AS cpu
     FROM system.query_log
     WHERE type = 'QueryFinish' AND current_database = {database:String}
       AND query_start_time_microseconds >= fromUnixTimestamp64Milli({since:Int64})
     GROUP BY kind
     UNION ALL
     SELECT concat('merges of ', table) AS kind, count() AS n, sum(duration_ms) / 1e3 AS cpu
     FROM system.part_log
     WHERE event_type = 'MergeParts' AND database = {database:String}
       AND event_time_microseconds >= fromUnixTimestamp64Milli({since:Int64})
     GROUP BY kind)
     ORDER BY kind LIKE 'merges%', cpu DESC`,
    { database, since },
  )
  const perMillion = 1e6 / spans
  return rows.map((row) => ({ kind: row.kind, n: Number(row.n), perMillion: Number(row.cpu) * perMillion }))
}

interface RowBatch {
  spans: object[]
  runs: object[]
  outcomes: object[]
}
const TABLES = ['spans', 'runs', 'outcomes'] as const

async function countRows(store: Store): Promise<RowTotals> {
  const [row] = await store.query<RowTotals>(
    'SELECT (SELECT count() FROM spans) AS spans, (SELECT count() FROM runs) AS runs, (SELECT count() FROM outcomes) AS outcomes',
  )
  return {
    spans: Number(row?.spans ?? 0),
    runs: Number(row?.runs ?? 0),
    outcomes: Number(row?.outcomes ?? 0),
  }
}

/** The rows the collector would write for these requests, in the collector's batch size. */
function rowBatches(bodies: Uint8Array[]): { batches: RowBatch[]; totals: RowTotals } {
  const rows = bodies.map((body) => mapSpans('bench', decodeProtobufRequest(body).spans, DEFAULT_PRICES))
  const batches: RowBatch[] = []
  let batch = { spans: [] as object[], runs: [] as object[], outcomes: [] as object[] }
  for (const request of rows) {
    batch.spans.push(...request.spans)
    batch.runs.push(...request.runs)
    batch.outcomes.push(...request.outcomes)
    if (batch.spans.length >= BATCH_SPANS) {
      batches.push(batch)
      batch = { spans: [], runs: [], outcomes: [] }
    }
  }
  if (batch.spans.length) batches.push(batch)
  const totals = { spans: 0, runs: 0, outcomes: 0 }
  for (const b of batches) for (const table of TABLES) totals[table] += b[table].length
  return { batches, totals }
}

/** Runs `insertBatch` over every batch with the collector's write concurrency (two batches in flight). */
async function insertAll<T>(batches: T[], insertBatch: (batch: T) => Promise<unknown>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      while (next < batches.length) await insertBatch(batches[next++]!)
    }),
  )
}

/** A fresh database with daa's schema, for one measured side. */
async function freshDatabase(clickhouseUrl: string, name: string) {
  const database = `bench_${name}_${Date.now()}`
  const store = await createServerStore({ url: clickhouseUrl, database })
  await migrate(store, { retentionDays: 0 })
  return {
    store,
    database,
    async drop() {
      await store.command(`DROP DATABASE ${database}`)
      await store.close()
    },
  }
}

/** Baseline: the same rows straight into ClickHouse in the collector's format, encoded in the timed window. */
async function directJson(clickhouse: { url: string; pid: number }, rows: ReturnType<typeof rowBatches>) {
  const { store, database, drop } = await freshDatabase(clickhouse.url, 'direct')
  const cpuBefore = { clickhouse: cpuSeconds(clickhouse.pid), encoder: ownCpuSeconds() }
  const started = performance.now()
  const startedAt = Date.now()
  await insertAll(rows.batches, (b) => Promise.all(TABLES.map((table) => store.insert(table, b[table]))))
  const seconds = (performance.now() - started) / 1000
  const perMillion = 1e6 / rows.totals.spans
  const result = {
    rate: rows.totals.spans / seconds,
    clickhouseCpu: (cpuSeconds(clickhouse.pid) - cpuBefore.clickhouse) * perMillion,
    encoderCpu: (ownCpuSeconds() - cpuBefore.encoder) * perMillion,
    statements: QUERY_LOG ? await clickhouseWork(store, database, startedAt, rows.totals.spans) : [],
  }
  await drop()
  return result
}

/**
 * The same rows in ClickHouse's Native format, encoded before the clock starts (ClickHouse itself
 * encodes them: the rows go through a staging database and come back as Native blocks).
 */
async function encodeNative(
  clickhouseUrl: string,
  batches: RowBatch[],
): Promise<Array<Record<string, Buffer>>> {
  const staging = await freshDatabase(clickhouseUrl, 'native_staging')
  const client = createClient({ url: clickhouseUrl, database: staging.database })
  const encoded: Array<Record<string, Buffer>> = []
  try {
    for (const b of batches) {
      const blocks: Record<string, Buffer> = {}
      for (const table of TABLES) {
        await staging.store.command(`TRUNCATE TABLE ${table}`)
        await staging.store.insert(table, b[table])
        const result = await client.exec({ query: `SELECT * FROM ${table} FORMAT Native` })
        const chunks: Buffer[] = []
        for await (const chunk of result.stream) chunks.push(chunk as Buffer)
        blocks[table] = Buffer.concat(chunks)
      }
      encoded.push(blocks)
    }
  } finally {
    await client.close()
    await staging.drop()
  }
  return encoded
}

/** The physical limit: pre-encoded Native blocks, inserted with the same batching and concurrency. */
async function directNative(
  clickhouse: { url: string; pid: number },
  blocks: Array<Record<string, Buffer>>,
  totals: RowTotals,
) {
  const { database, drop } = await freshDatabase(clickhouse.url, 'native')
  const client = createClient({ url: clickhouse.url, database, max_open_connections: 10 })
  const cpuBefore = cpuSeconds(clickhouse.pid)
  const started = performance.now()
  await insertAll(blocks, (b) =>
    Promise.all(
      TABLES.map(async (table) => {
        const result = await client.exec({
          query: `INSERT INTO ${table} FORMAT Native`,
          values: Readable.from([b[table]!]),
        })
        result.stream.resume()
        await new Promise((resolve, reject) => result.stream.once('end', resolve).once('error', reject))
      }),
    ),
  )
  const seconds = (performance.now() - started) / 1000
  const result = {
    rate: totals.spans / seconds,
    clickhouseCpu: ((cpuSeconds(clickhouse.pid) - cpuBefore) * 1e6) / totals.spans,
  }
  await client.close()
  await drop()
  return result
}

async function main() {
  // The machine may be shared: the figures are read beside its load.
  const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  process.stdout.write(`generating ${REQUESTS} OTLP requests of ~${SPANS_PER_REQUEST} spans…\n`)
  const bodies = makeTraceRequests(REQUESTS, SPANS_PER_REQUEST)
  const rows = rowBatches(bodies)
  const warmUpBodies = makeTraceRequests(WARM_UP_REQUESTS, SPANS_PER_REQUEST, 2)
  const warmUp = { bodies: warmUpBodies, totals: rowBatches(warmUpBodies).totals }
  const clickhouse = await startClickHouseServer(QUERY_LOG ? { configXml: QUERY_LOG_CONFIG } : {})
  try {
    const native = await encodeNative(clickhouse.url, rows.batches)
    const jsonRounds: Array<Awaited<ReturnType<typeof directJson>>> = []
    const nativeRounds: Array<Awaited<ReturnType<typeof directNative>>> = []
    const collector: Array<Awaited<ReturnType<typeof throughCollector>>> = []
    const compared: Array<Awaited<ReturnType<typeof throughCollector>>> = []
    // Interleaved rounds: this machine is shared and noisy, so each side sees the same conditions.
    for (let round = 0; round < ROUNDS; round++) {
      jsonRounds.push(await directJson(clickhouse, rows))
      nativeRounds.push(await directNative(clickhouse, native, rows.totals))
      // With a compared build, the two take turns going first.
      const compare = async () => {
        if (COMPARE_CLI)
          compared.push(
            await throughCollector(clickhouse, bodies, rows.totals, warmUp, {
              cli: COMPARE_CLI,
              env: COMPARE_ENV,
            }),
          )
      }
      if (round % 2 === 1) await compare()
      collector.push(await throughCollector(clickhouse, bodies, rows.totals, warmUp))
      if (round % 2 === 0) await compare()
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
    // Each round's collector rate against the baselines measured just before it, under the same load.
    const ratio = median(collector.map((c, round) => c.rate / jsonRounds[round]!.rate))
    const nativeRatio = median(collector.map((c, round) => c.rate / nativeRounds[round]!.rate))
    const rate = median(collector.map((c) => c.rate))
    const typical = collector.find((c) => c.rate === rate)!
    // Half the measured maximum (the median rate to commit of the rounds above), paced open-loop:
    // the latency a sender sees when the collector is not saturated. A compared build is paced at
    // half its own maximum, in the same way, right after.
    const paced = await throughCollector(clickhouse, bodies, rows.totals, warmUp, { pace: rate / 2 })
    const otherRate = COMPARE_CLI ? median(compared.map((c) => c.rate)) : 0
    const comparedPaced = COMPARE_CLI
      ? await throughCollector(clickhouse, bodies, rows.totals, warmUp, {
          cli: COMPARE_CLI,
          env: COMPARE_ENV,
          pace: otherRate / 2,
        })
      : undefined
    const peakRss = Math.max(...collector.map((c) => c.rss), paced.rss)
    const idleRss = Math.max(...collector.map((c) => c.idleRss))
    const collectorCpu = median(collector.map((c) => c.collectorCpu))
    const clickhouseCpuCollector = median(collector.map((c) => c.clickhouseCpu))
    const clickhouseCpuJson = median(jsonRounds.map((r) => r.clickhouseCpu))
    const clickhouseCpuNative = median(nativeRounds.map((r) => r.clickhouseCpu))
    const list = (values: number[]) => values.map((value) => value.toFixed(0)).join(', ')
    const cell = (value: number, digits = 0) => value.toFixed(digits).padStart(8)
    const lines = [
      '',
      `load average before / after: ${loadBefore} / ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
      `this build's collector: ${process.env.DAA_INGEST_WORKERS === undefined ? 'default ingest workers' : `DAA_INGEST_WORKERS=${process.env.DAA_INGEST_WORKERS}`}`,
      `ingest benchmark: ${rows.totals.spans} spans (${rows.totals.runs} runs) in ${REQUESTS} OTLP/protobuf requests, ${CONCURRENCY} concurrent senders, ${ROUNDS} interleaved rounds (medians); every rate is timed to commit (all rows visible in ClickHouse)`,
      `  direct insert, JSONCompactEachRow (baseline, the collector's format) ${cell(median(jsonRounds.map((r) => r.rate)))} spans/s   rounds: ${list(jsonRounds.map((r) => r.rate))}`,
      `  direct insert, Native, pre-encoded (physical limit)                  ${cell(median(nativeRounds.map((r) => r.rate)))} spans/s   rounds: ${list(nativeRounds.map((r) => r.rate))}`,
      `  through one collector process, to commit                             ${cell(rate)} spans/s   rounds: ${list(collector.map((c) => c.rate))}`,
      `  through one collector process, to acknowledgment (fsynced in its log) ${cell(median(collector.map((c) => c.ackRate)))} spans/s`,
      `  collector / direct JSON, same round                                  ${cell(ratio, 2)}×        (target ≥ 0.80)`,
      `  collector / direct Native, same round                                ${cell(nativeRatio, 2)}×`,
      `  CPU s per million spans: collector process                           ${cell(collectorCpu, 1)}   (of which kernel: ${median(collector.map((c) => c.collectorSystemCpu)).toFixed(1)})`,
      `  CPU s per million spans: ClickHouse, fed by the collector            ${cell(clickhouseCpuCollector, 1)}`,
      `  CPU s per million spans: ClickHouse, direct JSON / Native            ${cell(clickhouseCpuJson, 1)} / ${clickhouseCpuNative.toFixed(1)}`,
      `  CPU s per million spans: direct JSON encoder (this process)          ${cell(median(jsonRounds.map((r) => r.encoderCpu)), 1)}`,
      `  collector CPU / ClickHouse CPU, same spans                           ${cell(median(collector.map((c) => c.collectorCpu / c.clickhouseCpu)), 2)}×        (target ≤ 1.00)`,
      `  ack latency p50 / p99 at full load                                   ${typical.p50.toFixed(1)} ms / ${typical.p99.toFixed(1)} ms`,
      `  ack latency p50 / p99 at half the maximum (${(rate / 2).toFixed(0)} spans/s, open loop) ${paced.p50.toFixed(1)} ms / ${paced.p99.toFixed(1)} ms   (target p99 < 250 ms)`,
      `    the load generator's own event-loop delay meanwhile, p99 / max      ${paced.generatorDelayP99.toFixed(1)} ms / ${paced.generatorDelayMax.toFixed(1)} ms`,
      `  collector batches / mean insert time                                 ${typical.inserts} batches, ${typical.insertMs.toFixed(0)} ms each`,
      ...(QUERY_LOG
        ? [
            ...statementLines("ClickHouse's work for the collector in the round above", typical.statements),
            ...statementLines(
              "ClickHouse's work for the direct JSON insert, same round",
              jsonRounds[collector.indexOf(typical)]!.statements,
            ),
          ]
        : []),
      `  requests refused with 429/503 and retried (all rounds, paced run)  ${cell(collector.reduce((sum, c) => sum + c.retries, 0))}, ${paced.retries}`,
      `  collector RSS idle / peak                                            ${idleRss.toFixed(0)} MB / ${peakRss.toFixed(0)} MB   (target: peak < 300 MB)`,
    ]
    if (COMPARE_CLI && comparedPaced) {
      const other = otherRate
      lines.push(
        `  compared build (${COMPARE_CLI}${process.env.BENCH_COMPARE_ENV ? ` with ${process.env.BENCH_COMPARE_ENV}` : ''}), same rounds:`,
        `    to commit ${cell(other)} spans/s   rounds: ${list(compared.map((c) => c.rate))}   / direct JSON ${median(compared.map((c, round) => c.rate / jsonRounds[round]!.rate)).toFixed(2)}×`,
        `    CPU s per million spans: collector ${median(compared.map((c) => c.collectorCpu)).toFixed(1)}, ClickHouse ${median(compared.map((c) => c.clickhouseCpu)).toFixed(1)}`,
        `    to acknowledgment ${median(compared.map((c) => c.ackRate)).toFixed(0)} spans/s; collector CPU / ClickHouse CPU ${median(compared.map((c) => c.collectorCpu / c.clickhouseCpu)).toFixed(2)}×`,
        `    ack p50 / p99 at full load ${median(compared.map((c) => c.p50)).toFixed(1)} ms / ${median(compared.map((c) => c.p99)).toFixed(1)} ms; RSS peak ${Math.max(...compared.map((c) => c.rss), comparedPaced.rss).toFixed(0)} MB; retried ${compared.reduce((sum, c) => sum + c.retries, 0)}, ${comparedPaced.retries}`,
        `    ack p50 / p99 at half its maximum (${(other / 2).toFixed(0)} spans/s, open loop) ${comparedPaced.p50.toFixed(1)} ms / ${comparedPaced.p99.toFixed(1)} ms (load generator's delay p99 / max ${comparedPaced.generatorDelayP99.toFixed(1)} / ${comparedPaced.generatorDelayMax.toFixed(1)} ms)`,
      )
    }
    process.stdout.write(`${lines.join('\n')}\n`)
  } finally {
    for (const child of runningCollectors) child.kill('SIGKILL')
    await clickhouse.stop()
  }
}

await main()
