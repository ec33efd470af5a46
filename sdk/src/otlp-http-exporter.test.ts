import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'
import { SpanKind } from '@opentelemetry/api'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { type ReadableSpan, TracerProvider } from '@opentelemetry/sdk-trace'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { setDebug } from './diagnostics.js'
import { OtlpHttpExporter, parseRetryAfter, tracesUrl } from './otlp-http-exporter.js'
import { DaaSpanProcessor } from './span-processor.js'

/** A real OTLP endpoint on 127.0.0.1 whose answers each test scripts. */
interface ReceivedRequest {
  url: string
  headers: IncomingMessage['headers']
  body: Buffer
  atMs: number
}

type Answer = [number, Record<string, string>?]

async function startCollector(answer: (request: ReceivedRequest, index: number) => Answer | Promise<Answer>) {
  const received: ReceivedRequest[] = []
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const request = {
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        atMs: Date.now(),
      }
      received.push(request)
      void Promise.resolve(answer(request, received.length - 1)).then(([status, headers]) => {
        res.writeHead(status, { 'content-type': 'application/x-protobuf', ...headers })
        res.end()
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  servers.push(server)
  return { endpoint: `http://127.0.0.1:${port}`, received }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits, as a user watching `stats()` or the collector would, until the condition holds. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(5)
}

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(resolve))
    }),
  )
})

/** Real finished spans, made by a real provider. */
function makeSpans(count: number): ReadableSpan[] {
  const finished: ReadableSpan[] = []
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'exporter-test' }),
    spanProcessors: [
      {
        onStart() {},
        onEnd: (span) => finished.push(span),
        forceFlush: async () => {},
        shutdown: async () => {},
      },
    ],
  })
  const tracer = provider.getTracer('test')
  for (let index = 0; index < count; index++) {
    tracer
      .startSpan(`chat model-${index}`, {
        kind: SpanKind.CLIENT,
        attributes: { 'gen_ai.operation.name': 'chat' },
      })
      .end()
  }
  return finished
}

describe('OtlpHttpExporter', () => {
  it('posts gzip-compressed OTLP protobuf to {endpoint}/v1/traces with the API key as a bearer token', async () => {
    const collector = await startCollector(() => [200])
    const exporter = new OtlpHttpExporter({ endpoint: `${collector.endpoint}/`, apiKey: 'daa_test_key' })
    const delivery = await exporter.deliver(makeSpans(2))
    expect(delivery).toEqual({ delivered: true, retries: 0 })
    const [request] = collector.received
    expect(request!.url).toBe('/v1/traces')
    expect(request!.headers.authorization).toBe('Bearer daa_test_key')
    expect(request!.headers['content-type']).toBe('application/x-protobuf')
    expect(request!.headers['content-encoding']).toBe('gzip')
    const protobuf = gunzipSync(request!.body).toString('latin1')
    // Field values travel as plain bytes inside the protobuf message.
    expect(protobuf).toContain('chat model-0')
    expect(protobuf).toContain('chat model-1')
    expect(protobuf).toContain('exporter-test')
  })

  it('sends uncompressed protobuf when asked', async () => {
    const collector = await startCollector(() => [200])
    await new OtlpHttpExporter({ endpoint: collector.endpoint, compression: 'none' }).deliver(makeSpans(1))
    expect(collector.received[0]!.headers['content-encoding']).toBeUndefined()
    expect(collector.received[0]!.headers.authorization).toBeUndefined()
    expect(collector.received[0]!.body.toString('latin1')).toContain('chat model-0')
  })

  it('retries 503 and 429 after the Retry-After the server asked for', async () => {
    const collector = await startCollector((_request, index) => {
      if (index === 0) return [503, { 'retry-after': '1' }]
      if (index === 1) return [429, { 'retry-after': '0' }]
      return [200]
    })
    const exporter = new OtlpHttpExporter({ endpoint: collector.endpoint, initialBackoffMs: 5 })
    const delivery = await exporter.deliver(makeSpans(1))
    expect(delivery).toEqual({ delivered: true, retries: 2 })
    const [first, second] = collector.received
    expect(collector.received).toHaveLength(3)
    // 1 s as the server asked, not the 5 ms backoff the exporter would have used.
    expect(second!.atMs - first!.atMs).toBeGreaterThanOrEqual(950)
  })

  it('backs off between retries of 5xx answers and gives up after maxAttempts', async () => {
    const collector = await startCollector(() => [502])
    const exporter = new OtlpHttpExporter({
      endpoint: collector.endpoint,
      initialBackoffMs: 20,
      maxAttempts: 3,
    })
    const delivery = await exporter.deliver(makeSpans(1))
    expect(delivery.delivered).toBe(false)
    expect(delivery.retries).toBe(2)
    expect(delivery.error).toContain('HTTP 502')
    const [first, second, third] = collector.received.map((request) => request.atMs)
    expect(collector.received).toHaveLength(3)
    expect(second! - first!).toBeGreaterThanOrEqual(9) // at least half of 20 ms
    expect(third! - second!).toBeGreaterThanOrEqual(19) // at least half of 40 ms
  })

  it('does not retry answers that will not change, such as 401', async () => {
    const collector = await startCollector(() => [401])
    const delivery = await new OtlpHttpExporter({
      endpoint: collector.endpoint,
      initialBackoffMs: 1,
    }).deliver(makeSpans(1))
    expect(delivery).toMatchObject({ delivered: false, retries: 0 })
    expect(collector.received).toHaveLength(1)
  })

  it('retries when the collector is unreachable, without throwing', async () => {
    const collector = await startCollector(() => [200])
    const [server] = servers.splice(0)
    await new Promise((resolve) => server!.close(resolve))
    const delivery = await new OtlpHttpExporter({
      endpoint: collector.endpoint,
      initialBackoffMs: 1,
      maxAttempts: 2,
    }).deliver(makeSpans(1))
    expect(delivery).toMatchObject({ delivered: false, retries: 1 })
  })

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('7')).toBe(7000)
    expect(parseRetryAfter(null)).toBeUndefined()
    expect(parseRetryAfter('soon')).toBeUndefined()
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:03 GMT', now)).toBe(3000)
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0)
    expect(tracesUrl('http://c:4318')).toBe('http://c:4318/v1/traces')
    expect(tracesUrl('http://c:4318/v1/traces/')).toBe('http://c:4318/v1/traces')
  })
})

describe('DaaSpanProcessor over HTTP', () => {
  it('batches spans into few requests and counts them as exported', async () => {
    const collector = await startCollector(() => [200])
    const processor = new DaaSpanProcessor({
      endpoint: collector.endpoint,
      maxBatchSize: 10,
      flushIntervalMs: 60_000,
    })
    for (const span of makeSpans(25)) processor.onEnd(span)
    await processor.forceFlush()
    expect(collector.received).toHaveLength(3)
    expect(processor.stats()).toMatchObject({ queued: 0, exported: 25, dropped: 0, failed: 0 })
    await processor.shutdown()
  })

  it('sends spans that keep arriving while a batch is in flight in full batches, not a few at a time', async () => {
    const collector = await startCollector(() => [200])
    const processor = new DaaSpanProcessor({
      endpoint: collector.endpoint,
      maxBatchSize: 10,
      flushIntervalMs: 60_000,
    })
    // An agent ends a span now and then, between its model and tool calls, which let the event
    // loop turn: each request comes back while more spans trickle in.
    for (const span of makeSpans(100)) {
      processor.onEnd(span)
      await sleep(1)
    }
    await processor.forceFlush()
    expect(processor.stats()).toMatchObject({ queued: 0, exported: 100, dropped: 0, failed: 0 })
    expect(collector.received).toHaveLength(10)
    await processor.shutdown()
  })

  it('sends spans queued while the flush timer was draining, without a flush() call', async () => {
    // The collector holds its first answer: the timer fires while that batch is in flight.
    let release = () => {}
    const held = new Promise<Answer>((resolve) => {
      release = () => resolve([200])
    })
    const collector = await startCollector((_request, index) => (index === 0 ? held : [200]))
    const processor = new DaaSpanProcessor({
      endpoint: collector.endpoint,
      maxBatchSize: 10,
      flushIntervalMs: 30,
    })
    const spans = makeSpans(45)
    for (const span of spans.slice(0, 25)) processor.onEnd(span)
    await until(() => collector.received.length > 0)
    // The timer fires (owing the 15 queued) while the first batch waits; then 20 more arrive at once.
    await sleep(60)
    for (const span of spans.slice(25)) processor.onEnd(span)
    release()
    await until(() => processor.stats().exported === 45)
    expect(processor.stats()).toMatchObject({ queued: 0, exported: 45, dropped: 0, failed: 0 })
    await processor.shutdown()
  })

  it('counts the batch in flight, so the counters always add up to the spans ended', async () => {
    let release = () => {}
    const held = new Promise<Answer>((resolve) => {
      release = () => resolve([200])
    })
    const collector = await startCollector(() => held)
    const processor = new DaaSpanProcessor({
      endpoint: collector.endpoint,
      maxBatchSize: 4,
      flushIntervalMs: 60_000,
    })
    for (const span of makeSpans(6)) processor.onEnd(span)
    await until(() => collector.received.length > 0)
    // While the collector holds its answer, the first batch is neither queued nor exported.
    expect(processor.stats()).toMatchObject({ queued: 2, inFlight: 4, exported: 0, dropped: 0, failed: 0 })
    release()
    await processor.forceFlush()
    expect(processor.stats()).toMatchObject({ queued: 0, inFlight: 0, exported: 6 })
    await processor.shutdown()
  })

  it('sends a partial batch left behind when the flush interval passes', async () => {
    const collector = await startCollector(() => [200])
    const processor = new DaaSpanProcessor({
      endpoint: collector.endpoint,
      maxBatchSize: 10,
      flushIntervalMs: 50,
    })
    for (const span of makeSpans(13)) processor.onEnd(span)
    // No flush() call: the full batch goes at once, the other three when the interval has passed.
    await until(() => processor.stats().exported === 13)
    expect(collector.received).toHaveLength(2)
    await processor.shutdown()
  })

  it('drops and counts spans past the queue bound while the collector is slow, never blocking', async () => {
    const collector = await startCollector((_request, index) =>
      index === 0 ? [503, { 'retry-after': '1' }] : [200],
    )
    const processor = new DaaSpanProcessor({
      endpoint: collector.endpoint,
      maxQueueSize: 5,
      maxBatchSize: 5,
      flushIntervalMs: 1,
    })
    const spans = makeSpans(12)
    for (const span of spans.slice(0, 5)) processor.onEnd(span)
    // Once the first batch has reached the collector it waits out the Retry-After; the queue has room for 5 more.
    await until(() => collector.received.length > 0)
    // onEnd is synchronous: the agent's thread never waits on delivery; what does not fit is dropped
    // and counted, and with debug on said once, not once per span.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    let said: string[]
    setDebug(true)
    try {
      for (const span of spans.slice(5)) processor.onEnd(span)
      said = warn.mock.calls.map(([line]) => String(line))
    } finally {
      setDebug(false)
      warn.mockRestore()
    }
    expect(processor.stats()).toMatchObject({ queued: 5, dropped: 2 })
    expect(said).toEqual(['[daa] the queue is full (5 spans): dropping spans until it drains'])
    await processor.forceFlush()
    expect(processor.stats()).toMatchObject({ queued: 0, exported: 10, dropped: 2, failed: 0, retries: 1 })
    await processor.shutdown()
  })

  it('shutdown gives up at its deadline and counts what it cut off as dropped, the batch in flight too', async () => {
    const collector = await startCollector(() => [503, { 'retry-after': '30' }])
    const processor = new DaaSpanProcessor({
      endpoint: collector.endpoint,
      maxBatchSize: 2,
      flushIntervalMs: 60_000,
    })
    for (const span of makeSpans(5)) processor.onEnd(span)
    const started = performance.now()
    await processor.shutdown(300)
    const elapsed = performance.now() - started
    // It keeps trying until its deadline, and does not wait out the collector's 30 s Retry-After.
    expect(elapsed).toBeGreaterThanOrEqual(250)
    expect(elapsed).toBeLessThan(30_000)
    expect(collector.received.length).toBe(1)
    // The batch still being retried at the deadline is cut off like the spans queued behind it:
    // dropped, for want of time, not failed after all its attempts. The collector's answer is kept.
    const stats = processor.stats()
    expect(stats).toMatchObject({ queued: 0, inFlight: 0, exported: 0, failed: 0, dropped: 5 })
    expect(stats.lastError).toContain('HTTP 503')
    processor.onEnd(makeSpans(1)[0]!)
    expect(processor.stats().dropped).toBe(stats.dropped + 1)
  })

  it('counts refused batches as failed with the reason', async () => {
    const collector = await startCollector(() => [403])
    const processor = new DaaSpanProcessor({
      endpoint: collector.endpoint,
      apiKey: 'revoked',
      flushIntervalMs: 1,
    })
    for (const span of makeSpans(3)) processor.onEnd(span)
    await processor.forceFlush()
    expect(processor.stats()).toMatchObject({
      exported: 0,
      failed: 3,
      lastError: expect.stringContaining('HTTP 403'),
    })
    await processor.shutdown()
  })

  it('clamps nonsense options to working values', async () => {
    const collector = await startCollector(() => [200])
    const processor = new DaaSpanProcessor({
      endpoint: collector.endpoint,
      maxQueueSize: -3,
      maxBatchSize: Number.NaN,
      flushIntervalMs: Number.POSITIVE_INFINITY,
      timeoutMs: -1,
    })
    for (const span of makeSpans(3)) processor.onEnd(span)
    await processor.forceFlush()
    // A queue size under 1 takes the default (a queue of one span would drop nearly everything),
    // and so does a batch size that is not a number: the three spans go in one request.
    expect(processor.stats()).toMatchObject({ exported: 3, dropped: 0 })
    expect(collector.received).toHaveLength(1)
    await processor.shutdown()
  })
})

describe('a misconfigured endpoint', () => {
  it('fails batches with a reason instead of throwing', async () => {
    const exporter = new OtlpHttpExporter({ endpoint: 'not a url' })
    expect(await exporter.deliver(makeSpans(1))).toMatchObject({
      delivered: false,
      error: expect.stringContaining('invalid endpoint'),
    })
  })
})
