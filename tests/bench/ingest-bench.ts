/**
 * npm run bench:ingest — OTLP/protobuf ingest through one collector process into a real ClickHouse
 * server, against the baseline measured in the same run: the same rows inserted straight into
 * that ClickHouse. A separate process (this one) generates the load over loopback.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createApiKey, createServerStore, migrate } from '@daa/collector'
import { mapSpans } from '../../collector/dist/mapping/map-spans.js'
import { DEFAULT_PRICES } from '../../collector/dist/mapping/prices.js'
import { decodeProtobufRequest } from '../../collector/dist/otlp/decode-protobuf.js'
import { startClickHouseServer } from '../support/clickhouse-server.js'
import { makeTraceRequests } from './realistic-traces.js'

const CLI = fileURLToPath(new URL('../../collector/dist/cli.js', import.meta.url))
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1500)
const SPANS_PER_REQUEST = 100
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const BATCH_SPANS = Number(process.env.BENCH_DIRECT_BATCH ?? 20_000)

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

async function startCollector(clickhouseUrl: string, database: string, dataDir: string) {
  // The bin itself, so its shebang's Node flags apply, as for a user running `daa collector`.
  const child: ChildProcess = spawn(
    process.env.BENCH_PROFILE_DIR || process.env.BENCH_NODE_FLAGS ? 'node' : CLI,
    [
      // BENCH_PROFILE_DIR: write a CPU profile of the collector; BENCH_NODE_FLAGS: extra flags to compare.
      ...(process.env.BENCH_PROFILE_DIR
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
        : []),
      ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
      ...(process.env.BENCH_PROFILE_DIR || process.env.BENCH_NODE_FLAGS ? [CLI] : []),
      'collector',
    ],
    {
      env: {
        ...process.env,
        CLICKHOUSE_URL: clickhouseUrl,
        CLICKHOUSE_DATABASE: database,
        DAA_DATA_DIR: dataDir,
        DAA_PORT: '0',
        DAA_GRPC_PORT: '-1',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const url = await new Promise<string>((resolve, reject) => {
    let seen = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(seen)
      if (match) resolve(match[1]!)
    })
    child.once('exit', (code) => reject(new Error(`collector exited (${code}): ${seen}`)))
  })
  return {
    url,
    pid: child.pid!,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}

async function throughCollector(clickhouseUrl: string, bodies: Uint8Array[], spans: number) {
  const database = `bench_${Date.now()}`
  const setup = await createServerStore({ url: clickhouseUrl, database })
  await migrate(setup, { retentionDays: 0 })
  const { key } = await createApiKey(setup, 'bench')
  const dataDir = mkdtempSync(join(tmpdir(), 'daa-bench-'))
  const collector = await startCollector(clickhouseUrl, database, dataDir)
  // node:http with keep-alive: the lightest sender, so the load generator takes as little of the
  // machine's two cores as it can from the collector and ClickHouse.
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  const target = new URL(`${collector.url}/v1/traces`)
  const send = (body: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
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
          response.once('end', () =>
            response.statusCode === 200
              ? resolve()
              : reject(new Error(`collector answered ${response.statusCode}`)),
          )
        },
      )
      request.once('error', reject)
      request.end(body)
    })
  const idleRss = currentRssMb(collector.pid)
  await Promise.all(bodies.slice(0, 20).map(send)) // warm-up: connections, JIT, key cache
  const latencies: number[] = []
  let next = 0
  const started = performance.now()
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
  const seconds = (performance.now() - started) / 1000
  agent.destroy()
  const rss = peakRssMb(collector.pid)
  const metrics = await (await fetch(`${collector.url}/metrics`)).text()
  const metric = (name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN)
  const inserts = metric('daa_insert_duration_seconds_count')
  const insertMs = (metric('daa_insert_duration_seconds_sum') / inserts) * 1000
  await collector.stop()
  const [stored] = await setup.query<{ n: number }>('SELECT count() AS n FROM spans FINAL')
  await setup.command(`DROP DATABASE ${database}`)
  await setup.close()
  rmSync(dataDir, { recursive: true, force: true })
  latencies.sort((a, b) => a - b)
  if ((stored?.n ?? 0) < spans) throw new Error(`only ${stored?.n} of ${spans} spans were stored`)
  return {
    rate: spans / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    rss,
    idleRss,
    inserts,
    insertMs,
  }
}

async function directInsert(clickhouseUrl: string, bodies: Uint8Array[]) {
  const rows = bodies.map((body) => mapSpans('bench', decodeProtobufRequest(body).spans, DEFAULT_PRICES))
  const database = `bench_direct_${Date.now()}`
  const store = await createServerStore({ url: clickhouseUrl, database })
  await migrate(store, { retentionDays: 0 })
  const batches: Array<{ spans: object[]; runs: object[]; outcomes: object[] }> = []
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
  const spans = batches.reduce((total, b) => total + b.spans.length, 0)
  const started = performance.now()
  let next = 0
  // The same write concurrency the collector uses.
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      while (next < batches.length) {
        const b = batches[next++]!
        await Promise.all([
          store.insert('spans', b.spans),
          store.insert('runs', b.runs),
          store.insert('outcomes', b.outcomes),
        ])
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  await store.command(`DROP DATABASE ${database}`)
  await store.close()
  return { rate: spans / seconds, spans }
}

async function main() {
  process.stdout.write(`generating ${REQUESTS} OTLP requests of ~${SPANS_PER_REQUEST} spans…\n`)
  const bodies = makeTraceRequests(REQUESTS, SPANS_PER_REQUEST)
  const spans = bodies.reduce((total, body) => total + decodeProtobufRequest(body).spans.length, 0)
  const clickhouse = await startClickHouseServer()
  try {
    const direct: number[] = []
    const collector: Array<Awaited<ReturnType<typeof throughCollector>>> = []
    // Interleaved rounds: this machine is shared and noisy, so each side sees the same conditions.
    for (let round = 0; round < ROUNDS; round++) {
      direct.push((await directInsert(clickhouse.url, bodies)).rate)
      collector.push(await throughCollector(clickhouse.url, bodies, spans))
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
    // Each round's collector rate against the direct rate measured just before it, under the same load.
    const ratio = median(collector.map((c, round) => c.rate / direct[round]!))
    const rate = median(collector.map((c) => c.rate))
    const typical = collector.find((c) => c.rate === rate)!
    const peakRss = Math.max(...collector.map((c) => c.rss))
    const idleRss = Math.max(...collector.map((c) => c.idleRss))
    const list = (values: number[]) => values.map((value) => value.toFixed(0)).join(', ')
    const lines = [
      '',
      `ingest benchmark: ${spans} spans in ${REQUESTS} OTLP/protobuf requests, ${CONCURRENCY} concurrent senders, ${ROUNDS} rounds (medians)`,
      `  direct insert into ClickHouse (baseline)  ${median(direct).toFixed(0).padStart(8)} spans/s   rounds: ${list(direct)}`,
      `  through one collector process            ${rate.toFixed(0).padStart(8)} spans/s   rounds: ${list(collector.map((c) => c.rate))}`,
      `  collector / direct, same round            ${ratio.toFixed(2).padStart(8)}×        (target ≥ 0.50)`,
      `  request latency p50 / p99                 ${typical.p50.toFixed(1)} ms / ${typical.p99.toFixed(1)} ms`,
      `  collector batches / mean insert time      ${typical.inserts} batches, ${typical.insertMs.toFixed(0)} ms each`,
      `  collector RSS idle / peak                 ${idleRss.toFixed(0)} MB / ${peakRss.toFixed(0)} MB   (target: peak < 300 MB)`,
      `  throughput target                         ${rate >= 50_000 ? 'met' : 'NOT met'} (≥ 50,000 spans/s)`,
    ]
    process.stdout.write(`${lines.join('\n')}\n`)
  } finally {
    await clickhouse.stop()
  }
}

await main()
