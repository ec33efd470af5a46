/**
 * Poison values sent the way a sender would (OTLP/JSON and OTLP/protobuf through app.request()),
 * over the embedded engine: each bad span is refused through partial_success with its reason, the
 * good spans beside it are stored, and ingestion goes on.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Collector, createCollector } from '../app.js'
import { createApiKey } from '../auth/api-keys.js'
import { exportTraceServiceRequestType } from '../otlp/protobuf-schema.js'
import { createEmbeddedStore } from '../store/embedded-store.js'
import { migrate } from '../store/migrations.js'
import type { Store } from '../store/store.js'

const directory = mkdtempSync(join(tmpdir(), 'daa-bad-input-'))
let store: Store
let collector: Collector
let key: string

beforeAll(async () => {
  store = await createEmbeddedStore({ path: join(directory, 'data'), database: 'bad_input' })
  await migrate(store, { retentionDays: 0 })
  collector = await createCollector({
    store,
    walDir: join(directory, 'wal'),
    rollupIntervalMs: 0,
  })
  key = (await createApiKey(store, 'poisoned')).key
})
afterAll(async () => {
  await collector.shutdown()
  await store.close()
  rmSync(directory, { recursive: true, force: true })
})

let spanCounter = 0
const NOW_NS = BigInt(Date.now()) * 1_000_000n

interface JsonAttribute {
  key: string
  value: Record<string, unknown>
}

function jsonSpan(name: string, attributes: JsonAttribute[] = [], startNs = NOW_NS): Record<string, unknown> {
  spanCounter += 1
  return {
    traceId: '5b8efff798038103d269b633813fc60c',
    spanId: spanCounter.toString(16).padStart(16, '0'),
    name,
    kind: 1,
    startTimeUnixNano: startNs.toString(),
    endTimeUnixNano: (startNs + 1_000_000n).toString(),
    attributes,
  }
}

function jsonBody(spans: unknown[], resource: JsonAttribute[] = []): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'poison' } }, ...resource] },
        scopeSpans: [{ scope: { name: 'test' }, spans }],
      },
    ],
  })
}

function postJson(body: string): Promise<Response> {
  return Promise.resolve(
    collector.app.request('/v1/traces', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    }),
  )
}

function tokens(value: unknown): JsonAttribute {
  return {
    key: 'gen_ai.usage.input_tokens',
    value: typeof value === 'number' ? { doubleValue: value } : { stringValue: String(value) },
  }
}

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { stringValue: 'bottom' }
  for (let level = 0; level < depth; level++) value = { arrayValue: { values: [value] } }
  return value
}

async function storedSpanNames(): Promise<string[]> {
  const rows = await store.query<{ span_name: string }>(
    "SELECT span_name FROM spans FINAL WHERE project_id = 'poisoned' ORDER BY span_name",
  )
  return rows.map((row) => row.span_name)
}

describe('bad spans beside good ones', () => {
  it('refuses each poison value through partial_success with its reason and stores the good spans', async () => {
    const year2264 = 9_300_000_000_000_000_000n
    // Within DateTime64(9), but past ClickHouse's Date: its day would wrap to the 1970s.
    const year2200 = BigInt(Date.UTC(2200, 0, 1)) * 1_000_000n
    const response = await postJson(
      jsonBody([
        jsonSpan('good-1', [tokens(12)]),
        jsonSpan('start-in-2264', [], year2264),
        jsonSpan('start-in-2200', [], year2200),
        jsonSpan('tokens-1e21', [tokens(1e21)]),
        jsonSpan('tokens-negative', [tokens(-5)]),
        jsonSpan('tokens-fraction', [tokens(1.5)]),
        jsonSpan('tokens-nan', [{ key: 'gen_ai.usage.output_tokens', value: { doubleValue: 'NaN' } }]),
        jsonSpan('tokens-text-huge', [tokens('99999999999999999999999')]),
        jsonSpan('deep-20', [{ key: 'deep', value: nested(20) }]),
        jsonSpan('deep-600', [{ key: 'deep', value: nested(600) }]),
        jsonSpan(
          'too-many-attributes',
          Array.from({ length: 1001 }, (_, index) => ({ key: `k${index}`, value: { intValue: index } })),
        ),
        jsonSpan('long-key', [{ key: 'k'.repeat(2000), value: { stringValue: 'v' } }]),
        jsonSpan('good-2', [tokens('40')]),
      ]),
    )
    expect(response.status).toBe(200)
    const { partialSuccess } = (await response.json()) as {
      partialSuccess: { rejectedSpans: number; errorMessage: string }
    }
    expect(partialSuccess.rejectedSpans).toBe(11)
    const message = partialSuccess.errorMessage
    expect(message).toContain('startTimeUnixNano is after 2149-06-06')
    expect(message).toContain('gen_ai.usage.input_tokens "1e+21" is not a token count')
    expect(message).toContain('gen_ai.usage.input_tokens "-5" is not a token count')
    expect(message).toContain('gen_ai.usage.input_tokens "1.5" is not a token count')
    expect(message).toContain('gen_ai.usage.output_tokens "NaN" is not a token count')
    expect(message).toContain('nested deeper than 16 levels')
    expect(message).toContain('more than 1000 attributes')
    expect(message).toContain('attribute key is longer than 1024 characters')

    await collector.flush()
    expect(await storedSpanNames()).toEqual(['good-1', 'good-2'])
  })

  it('answers a resource nested 600 deep with a clear 400, not a 500', async () => {
    const response = await postJson(
      jsonBody([jsonSpan('under-deep-resource')], [{ key: 'r', value: nested(600) }]),
    )
    expect(response.status).toBe(400)
    expect(JSON.stringify(await response.json())).toContain('nested far deeper than 16 levels')
  })

  it('rejects every span of a resource whose attributes break the limits, with the reason', async () => {
    const response = await postJson(
      jsonBody(
        [jsonSpan('a'), jsonSpan('b')],
        [{ key: 'huge', value: { stringValue: 'x'.repeat(1024 * 1024 + 1) } }],
      ),
    )
    expect(response.status).toBe(200)
    const { partialSuccess } = (await response.json()) as {
      partialSuccess: { rejectedSpans: number; errorMessage: string }
    }
    expect(partialSuccess).toEqual({
      rejectedSpans: 2,
      errorMessage: expect.stringContaining('resource attributes: attribute "huge" is longer than'),
    })
  })

  it('bounds OTLP/protobuf the same way', async () => {
    const bytes = (hex: string) => Buffer.from(hex, 'hex')
    const span = (name: string, start: bigint, extra: object[] = []) => ({
      traceId: bytes('5b8efff798038103d269b633813fc60d'),
      spanId: bytes((++spanCounter).toString(16).padStart(16, '0')),
      name,
      startTimeUnixNano: start.toString(),
      endTimeUnixNano: (start + 1n).toString(),
      attributes: extra,
    })
    const body = exportTraceServiceRequestType
      .encode({
        resourceSpans: [
          {
            resource: { attributes: [] },
            scopeSpans: [
              {
                spans: [
                  span('proto-good', NOW_NS),
                  span('proto-2300', 10_000_000_000_000_000_000n),
                  span('proto-tokens', NOW_NS, [
                    { key: 'gen_ai.usage.output_tokens', value: { doubleValue: 1e21 } },
                  ]),
                ],
              },
            ],
          },
        ],
      })
      .finish()
    const response = await collector.app.request('/v1/traces', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${key}` },
    })
    expect(response.status).toBe(200)
    await collector.flush()
    expect(await storedSpanNames()).toContain('proto-good')
    expect(await storedSpanNames()).not.toContain('proto-2300')
    expect(await storedSpanNames()).not.toContain('proto-tokens')
  })

  it('checks an OTLP/gRPC key before decoding the message', async () => {
    const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff])
    // An unknown key with a body that is not protobuf: refused as unauthenticated, never decoded.
    await expect(
      collector.handleExport({ authorization: 'Bearer daa_unknown', body: garbage }),
    ).rejects.toMatchObject({
      kind: 'unauthenticated',
    })
    // The same body with a valid key is decoded, and refused as malformed.
    await expect(collector.handleExport({ authorization: `Bearer ${key}`, body: garbage })).rejects.toThrow(
      /not a protobuf ExportTraceServiceRequest/,
    )
  })
})
