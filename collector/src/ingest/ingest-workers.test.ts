/**
 * Export requests prepared in ingest worker threads (real threads running the collector's own
 * decoder, mapping and encoder), over the embedded engine, sent the way a sender sends them
 * (OTLP/protobuf through app.request()).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Worker } from 'node:worker_threads'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Collector, createCollector } from '../app.js'
import { createApiKey } from '../auth/api-keys.js'
import { exportTraceServiceRequestType } from '../otlp/protobuf-schema.js'
import { decodeRpcStatus } from '../otlp/rpc-status.js'
import { createEmbeddedStore } from '../store/embedded-store.js'
import { migrate } from '../store/migrations.js'
import type { Store } from '../store/store.js'
import { heapLimitsOf } from './ingest-workers.js'

const directory = mkdtempSync(join(tmpdir(), 'daa-ingest-workers-'))
let store: Store
/** Two workers, as a machine with cores to spare would run. */
let collector: Collector
/** One worker, so the one a test stops holds every request in flight. */
let single: Collector
/** One worker with a deadline of 100 ms a request: a request of 100,000 spans takes about ten times that. */
let hurried: Collector
let key: string

beforeAll(async () => {
  store = await createEmbeddedStore({ path: join(directory, 'data'), database: 'ingest_workers' })
  await migrate(store, { retentionDays: 0 })
  collector = await createCollector({
    store,
    walDir: join(directory, 'wal'),
    rollupIntervalMs: 0,
    ingestWorkers: 2,
  })
  single = await createCollector({
    store,
    walDir: join(directory, 'wal-single'),
    rollupIntervalMs: 0,
    ingestWorkers: 1,
    maxConcurrentDecodes: 32,
    onWarning: () => {},
  })
  hurried = await createCollector({
    store,
    walDir: join(directory, 'wal-hurried'),
    rollupIntervalMs: 0,
    ingestWorkers: 1,
    ingestWorkerTimeoutMs: 100,
    onWarning: () => {},
  })
  key = (await createApiKey(store, 'workers')).key
})
afterAll(async () => {
  await collector?.shutdown()
  await single?.shutdown()
  await hurried?.shutdown()
  await store?.close()
  rmSync(directory, { recursive: true, force: true })
})

let traceCounter = 0
const NOW_NS = BigInt(Date.now()) * 1_000_000n

/** One trace of `spans` LLM-call spans under an agent span, as OTLP/protobuf. */
function traceBody(name: string, spans: number): { body: Uint8Array; traceId: string } {
  traceCounter += 1
  const traceId = traceCounter.toString(16).padStart(32, '0')
  const id = (index: number) => Buffer.from((index + 1).toString(16).padStart(16, '0'), 'hex')
  const span = (index: number) => ({
    traceId: Buffer.from(traceId, 'hex'),
    spanId: id(index),
    parentSpanId: index === 0 ? undefined : id(0),
    name: index === 0 ? `invoke_agent ${name}` : `chat ${name}`,
    kind: 1,
    startTimeUnixNano: (NOW_NS + BigInt(index)).toString(),
    endTimeUnixNano: (NOW_NS + BigInt(index) + 1_000_000n).toString(),
    attributes: [
      { key: 'gen_ai.operation.name', value: { stringValue: index === 0 ? 'invoke_agent' : 'chat' } },
      { key: 'gen_ai.agent.name', value: { stringValue: name } },
      ...(index === 0 ? [] : [{ key: 'gen_ai.usage.input_tokens', value: { intValue: 10 } }]),
    ],
  })
  const body = exportTraceServiceRequestType
    .encode({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: name } }] },
          scopeSpans: [
            { scope: { name: 'test' }, spans: Array.from({ length: spans }, (_, index) => span(index)) },
          ],
        },
      ],
    })
    .finish()
  return { body, traceId }
}

async function post(target: Collector, body: Uint8Array): Promise<Response> {
  return await target.app.request('/v1/traces', {
    method: 'POST',
    // A copy per send: the collector moves a body it is given to its worker.
    body: body.slice(),
    headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${key}` },
  })
}

/** Sends until acknowledged, as an OTLP sender does with a 503 or 429; returns the statuses seen. */
async function sendWithRetries(target: Collector, body: Uint8Array): Promise<number[]> {
  const statuses: number[] = []
  for (;;) {
    const response = await post(target, body)
    statuses.push(response.status)
    if (response.status === 200) return statuses
    expect([429, 503]).toContain(response.status)
    expect(response.headers.get('retry-after')).not.toBeNull()
    // The body's google.rpc code follows the status: RESOURCE_EXHAUSTED for 429, UNAVAILABLE for 503.
    const { code } = decodeRpcStatus(new Uint8Array(await response.arrayBuffer()))
    expect({ status: response.status, code }).toEqual({
      status: response.status,
      code: response.status === 429 ? 8 : 14,
    })
  }
}

/** Rows stored per trace, counting every stored copy (no FINAL): a span stored twice counts twice. */
async function storedSpans(traceIds: string[]): Promise<Map<string, number>> {
  const rows = await store.query<{ trace_id: string; n: number }>(
    'SELECT trace_id, count() AS n FROM spans WHERE trace_id IN {ids:Array(String)} GROUP BY trace_id',
    { ids: traceIds },
  )
  return new Map(rows.map((row) => [row.trace_id, Number(row.n)]))
}

describe('ingest worker threads', () => {
  it("bounds each worker's heap by the process's own heap flags (the bin's shebang), and by nothing else", () => {
    expect(heapLimitsOf(['--max-semi-space-size=32', '--max-old-space-size=256'])).toEqual({
      maxOldGenerationSizeMb: 256,
      maxYoungGenerationSizeMb: 96,
    })
    expect(heapLimitsOf(['--import', 'tsx'])).toEqual({})
  })

  it('stores every span sent through the workers exactly once', async () => {
    const traces = Array.from({ length: 12 }, (_, index) => traceBody(`agent-${index}`, 40 + index))
    const responses = await Promise.all(traces.map(({ body }) => post(collector, body)))
    expect(responses.map((response) => response.status)).toEqual(traces.map(() => 200))
    await collector.flush()
    const stored = await storedSpans(traces.map((trace) => trace.traceId))
    expect(traces.map((trace) => stored.get(trace.traceId))).toEqual(traces.map((_, index) => 40 + index))
    expect(collector.ingestWorkers?.threads).toHaveLength(2)
  })

  it('answers a malformed body from a worker with 400 and its reason, and stores the good request beside it', async () => {
    const good = traceBody('beside-bad', 30)
    // A protobuf field whose length runs past the end of the body.
    const malformed = new Uint8Array([0x0a, 0xff, 0x01, 0x02])
    const [bad, ok] = await Promise.all([post(collector, malformed), post(collector, good.body)])
    expect(bad.status).toBe(400)
    expect(bad.headers.get('content-type')).toBe('application/x-protobuf')
    const status = decodeRpcStatus(new Uint8Array(await bad.arrayBuffer()))
    expect(status.message).toContain('the body is not a protobuf ExportTraceServiceRequest')
    expect(ok.status).toBe(200)
    await collector.flush()
    expect((await storedSpans([good.traceId])).get(good.traceId)).toBe(30)
  })

  it('answers the requests of a worker that dies with 503; the retries are stored once, and a new worker takes over', async () => {
    const pool = single.ingestWorkers!
    const [stopped] = pool.threads as [Worker]
    const traces = Array.from({ length: 24 }, (_, index) => traceBody(`crash-${index}`, 200))
    const firstAnswers = traces.map(({ body }) => post(single, body))
    // Wait until the worker holds requests, then stop it as a crash would.
    while (pool.inFlight < 8) await new Promise((resolve) => setImmediate(resolve))
    await stopped.terminate()
    const first = await Promise.all(firstAnswers)
    const statuses = first.map((response) => response.status)
    expect(statuses).toContain(503)
    for (const status of statuses) expect([200, 503]).toContain(status)
    const refused = first.find((response) => response.status === 503)!
    expect(decodeRpcStatus(new Uint8Array(await refused.arrayBuffer())).message).toContain(
      'stopped before it finished',
    )
    // The sender retries what was refused; the replacement worker prepares it.
    await Promise.all(
      traces.map(async ({ body }, index) => {
        if (statuses[index] === 503) await sendWithRetries(single, body)
      }),
    )
    await single.flush()
    const stored = await storedSpans(traces.map((trace) => trace.traceId))
    expect(traces.map((trace) => stored.get(trace.traceId))).toEqual(traces.map(() => 200))
    expect(pool.threads).toHaveLength(1)
    expect(pool.threads[0]).not.toBe(stopped)
    const metrics = await (await single.app.request('/metrics')).text()
    expect(metrics).toMatch(/^daa_ingest_worker_exits_total 1$/m)
    expect(metrics).toMatch(/^daa_ingest_workers 1$/m)
  })

  it('stops a worker that outlasts its deadline on a request: 503, never acknowledged, and a new worker takes over', async () => {
    const pool = hurried.ingestWorkers!
    const [stopped] = pool.threads as [Worker]
    const slow = traceBody('slow', 100_000)
    const refused = await post(hurried, slow.body)
    expect(refused.status).toBe(503)
    expect(decodeRpcStatus(new Uint8Array(await refused.arrayBuffer())).message).toContain(
      'stopped before it finished',
    )
    await hurried.flush()
    expect((await storedSpans([slow.traceId])).get(slow.traceId)).toBeUndefined()
    // The replacement answers a request it can finish in time (a 503 meanwhile is retried, as a sender would).
    while (pool.threads.length === 0 || pool.threads[0] === stopped) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const quick = traceBody('quick', 1)
    await sendWithRetries(hurried, quick.body)
    await hurried.flush()
    expect((await storedSpans([quick.traceId])).get(quick.traceId)).toBe(1)
    const scrape = await (await hurried.app.request('/metrics')).text()
    expect(Number(/^daa_ingest_worker_exits_total (\d+)$/m.exec(scrape)?.[1])).toBeGreaterThanOrEqual(1)
  })

  it('stops every worker on shutdown', async () => {
    const threads = [
      ...collector.ingestWorkers!.threads,
      ...single.ingestWorkers!.threads,
      ...hurried.ingestWorkers!.threads,
    ]
    expect(threads).toHaveLength(4)
    const exited = new Set<Worker>()
    for (const thread of threads) thread.once('exit', () => exited.add(thread))
    await Promise.all([collector.shutdown(), single.shutdown()])
    expect(exited.size).toBe(3)
    expect(collector.ingestWorkers!.threads).toHaveLength(0)
    expect(single.ingestWorkers!.threads).toHaveLength(0)
    // Refused after shutdown, with a retryable status rather than a hang.
    expect((await post(collector, traceBody('late', 1).body)).status).toBe(503)
  })
})
