import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'
import { trace } from '@opentelemetry/api'
import { InMemorySpanExporter, TracerProvider } from '@opentelemetry/sdk-trace'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { init, llm, run, shutdown, stats, tool } from './index.js'

const servers: Server[] = []
afterAll(() => {
  for (const server of servers) server.close()
})

/** A local stand-in for the collector's OTLP endpoint that records what it is sent. */
async function listen(status: number) {
  const requests: { url: string; authorization?: string; body: Buffer }[] = []
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      requests.push({
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body: Buffer.concat(chunks),
      })
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

describe('standalone init()', () => {
  it('sends a run as OTLP protobuf with service.name and the API key, and flushes on shutdown', async () => {
    const collector = await listen(200)
    init({ endpoint: collector.endpoint, apiKey: 'daa_key_1', serviceName: 'billing-agent' })
    init({ endpoint: 'http://127.0.0.1:1', serviceName: 'ignored' }) // a second init changes nothing
    await run({ agent: 'invoice-bot', user: 'u-9' }, async (current) => {
      await llm({ model: 'gpt-5-mini', provider: 'openai' }, async (call) =>
        call.usage({ input: 10, output: 2 }),
      )
      await tool('create_invoice', async () => 'inv-1')
      current.deliver({ value: 99, unit: 'USD' })
    })
    await shutdown({ timeoutMs: 2000 })

    expect(collector.requests).toHaveLength(1)
    const [request] = collector.requests
    expect(request!.url).toBe('/v1/traces')
    expect(request!.authorization).toBe('Bearer daa_key_1')
    const payload = gunzipSync(request!.body).toString('latin1')
    for (const text of [
      'billing-agent',
      'invoke_agent invoice-bot',
      'chat gpt-5-mini',
      'execute_tool create_invoice',
      'daa.outcome',
    ]) {
      expect(payload).toContain(text)
    }
    expect(stats()).toMatchObject({ exported: 3, dropped: 0, failed: 0 })
  })

  it('can be initialised again after shutdown, and shutdown keeps its deadline when the collector is down', async () => {
    const collector = await listen(503)
    // Backoffs that outlast the deadline: the batch is always still being retried when it passes.
    init({ endpoint: collector.endpoint, initialBackoffMs: 200 })
    run({ agent: 'unlucky' }, () => undefined)
    // Resolves at its deadline although the collector keeps refusing (a hung shutdown would time the test out).
    await shutdown({ timeoutMs: 400 })
    expect(collector.requests.length).toBeGreaterThanOrEqual(1)
    // Cut off by the deadline: dropped. The last problem is the 503, or, when the deadline falls
    // during a retry's request, that request's abort.
    expect(stats()).toMatchObject({
      exported: 0,
      inFlight: 0,
      failed: 0,
      dropped: 1,
      lastError: expect.stringMatching(/HTTP 503|AbortError/),
    })
  })

  it('warns once, without debug, when another tracer provider is already registered', async () => {
    const appProvider = new TracerProvider()
    trace.setGlobalTracerProvider(appProvider)
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      init({ exporter: new InMemorySpanExporter(), registerGlobal: false })
      await shutdown()
      expect(warn).not.toHaveBeenCalled() // registerGlobal: false asks for no global registration
      init({ exporter: new InMemorySpanExporter() })
      await shutdown()
      init({ exporter: new InMemorySpanExporter() })
      await shutdown()
      expect(warn.mock.calls.map(([line]) => String(line))).toEqual([
        expect.stringMatching(
          /^\[daa\] another OpenTelemetry tracer provider is registered.*DaaSpanProcessor/,
        ),
      ])
    } finally {
      warn.mockRestore()
      trace.disable()
      await appProvider.shutdown()
    }
  })
})
