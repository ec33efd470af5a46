/**
 * Fuzzing with fast-check: /v1/traces (protobuf and JSON, plain and gzip) and the metrics API get
 * generated input through the collector's own app (`app.request()`, over a real ClickHouse
 * server). Expected: no crash, no 5xx but 503/429, bounded memory, and the valid span that every
 * generated request carries beside its bad ones is stored.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import {
  type Collector,
  createCollector,
  createServerStore,
  describeSavedQueries,
  type Store,
} from '@daa/collector'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshDatabaseName } from '../contract/store-contract.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { makeFleetRequests } from './fleet.js'
import { eventually, FULL, prepareDatabase, report } from './support.js'

const RUNS = FULL ? 2000 : 150
/** Statuses a sender may get back; anything else (a 500 above all) is a defect. */
const ALLOWED_OTLP = new Set([200, 400, 413, 415, 429, 503])
const ALLOWED_API = new Set([200, 400, 404, 429, 503])

let clickhouse: RunningClickHouse
let store: Store
let collector: Collector
let apiKey: string
let walDir: string
let peakRssMb = 0
let sampler: NodeJS.Timeout
const baselineRssMb = process.memoryUsage().rss / 1048576
/** Names of the valid spans of acknowledged requests: each must be stored. */
const goodSpans = new Set<string>()
const statuses = new Map<number, number>()

beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  const database = freshDatabaseName()
  apiKey = (await prepareDatabase(clickhouse.url, database, ['fuzz'])).keys.fuzz!
  store = await createServerStore({ url: clickhouse.url, database })
  walDir = mkdtempSync(join(tmpdir(), 'daa-fuzz-'))
  collector = await createCollector({
    store,
    walDir,
    flushIntervalMs: 50,
    rollupIntervalMs: 0,
    onError: () => {},
  })
  sampler = setInterval(() => {
    peakRssMb = Math.max(peakRssMb, process.memoryUsage().rss / 1048576)
  }, 50)
})
afterAll(async () => {
  clearInterval(sampler)
  report('fuzz', {
    casesPerProperty: RUNS,
    statuses: Object.fromEntries(statuses),
    goodSpansStored: goodSpans.size,
    baselineRssMb: Math.round(baselineRssMb),
    peakRssMb: Math.round(peakRssMb),
  })
  await collector?.shutdown()
  await store?.close()
  await clickhouse?.stop()
  rmSync(walDir, { recursive: true, force: true })
})

function count(status: number) {
  statuses.set(status, (statuses.get(status) ?? 0) + 1)
}

async function postTraces(body: Uint8Array | string, contentType: string, gzip: boolean): Promise<Response> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body)
  const response = await collector.app.request('/v1/traces', {
    method: 'POST',
    body: gzip ? gzipSync(bytes) : bytes,
    headers: {
      'content-type': contentType,
      authorization: `Bearer ${apiKey}`,
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    },
  })
  count(response.status)
  return response
}

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length })

/** An OTLP/JSON AnyValue, well or badly formed, nested a few levels. */
const anyValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ stringValue: fc.string({ maxLength: 300 }) }),
    fc.record({
      intValue: fc.oneof(
        fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
        fc.double(),
        fc.string(),
      ),
    }),
    fc.record({ doubleValue: fc.oneof(fc.double(), fc.constantFrom('NaN', 'Infinity', '1e400', 'x')) }),
    fc.record({ boolValue: fc.anything() }),
    fc.record({ bytesValue: fc.string() }),
    fc.record({ arrayValue: fc.record({ values: fc.array(tie('value'), { maxLength: 4 }) }) }),
    fc.record({
      kvlistValue: fc.record({
        values: fc.array(fc.record({ key: fc.string(), value: tie('value') }), { maxLength: 4 }),
      }),
    }),
    fc.anything(),
  ),
})).value

const ATTRIBUTE_KEYS = [
  'gen_ai.operation.name',
  'gen_ai.agent.name',
  'gen_ai.usage.input_tokens',
  'gen_ai.usage.output_tokens',
  'gen_ai.request.model',
  'daa.outcome',
  'daa.outcome.value',
  'daa.cost.usd',
  'daa.run.id',
  'user.id',
]

const nanos = fc.oneof(
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.constantFrom('9223372036854775807', '18446744073709551615', '9300000000000000000', '0', '-1'),
  fc.double(),
  fc.string(),
  fc.constant(null),
)

/** A span in OTLP/JSON whose fields are anything from plausible to absurd. */
const badSpan = fc.record(
  {
    traceId: fc.oneof(hex(32), hex(31), fc.string(), fc.integer(), fc.constant('0'.repeat(32))),
    spanId: fc.oneof(hex(16), hex(15), fc.string(), fc.constant(null)),
    parentSpanId: fc.oneof(hex(16), fc.string()),
    name: fc.oneof(fc.string({ maxLength: 3000 }), fc.anything()),
    kind: fc.oneof(fc.integer({ min: -3, max: 9 }), fc.string()),
    startTimeUnixNano: nanos,
    endTimeUnixNano: nanos,
    attributes: fc.array(
      fc.record({ key: fc.oneof(fc.constantFrom(...ATTRIBUTE_KEYS), fc.string()), value: anyValue }),
      { maxLength: 12 },
    ),
    status: fc.anything(),
    events: fc.anything(),
  },
  { requiredKeys: [] },
)

let goodCounter = 0
function goodSpan() {
  const name = `fuzz-good-${goodCounter++}`
  const now = BigInt(Date.now()) * 1_000_000n
  return {
    name,
    span: {
      traceId: Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join(''),
      spanId: Array.from({ length: 16 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join(''),
      name,
      kind: 1,
      startTimeUnixNano: String(now - 1_000_000n),
      endTimeUnixNano: String(now),
      attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: 'chat' } }],
    },
  }
}

describe('fuzzing /v1/traces', () => {
  it('answers any bytes, as protobuf or JSON, plain or gzip, without a 5xx other than 503/429', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 16_384 }),
        fc.constantFrom('application/x-protobuf', 'application/json'),
        fc.boolean(),
        async (bytes, contentType, gzip) => {
          const response = await postTraces(bytes, contentType, gzip)
          expect(ALLOWED_OTLP).toContain(response.status)
        },
      ),
      { numRuns: RUNS },
    )
  })

  it('answers mutated protobuf exports without a 5xx other than 503/429', async () => {
    const valid = makeFleetRequests(8, { agents: 3, prefix: 'fuzz-proto' }).map((request) => request.body)
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (body, flips, gzip) => {
          const mutated = Uint8Array.from(body)
          for (const [at, value] of flips) mutated[at % mutated.length] = value
          const response = await postTraces(mutated, 'application/x-protobuf', gzip)
          expect(ALLOWED_OTLP).toContain(response.status)
        },
      ),
      { numRuns: RUNS },
    )
  })

  it('keeps the valid span beside generated bad ones (JSON, plain and gzip)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(badSpan, { minLength: 1, maxLength: 6 }), fc.boolean(), async (bad, gzip) => {
        const good = goodSpan()
        const body = JSON.stringify({
          resourceSpans: [
            {
              resource: { attributes: [{ key: 'service.name', value: { stringValue: 'fuzz' } }] },
              scopeSpans: [{ scope: { name: 'fuzz' }, spans: [...bad, good.span] }],
            },
          ],
        })
        const response = await postTraces(body, 'application/json', gzip)
        expect([200, 429, 503]).toContain(response.status)
        if (response.status === 200) goodSpans.add(good.name)
      }),
      { numRuns: RUNS },
    )
    expect(goodSpans.size).toBeGreaterThan(0)
    await eventually(async () => {
      const rows = await store.query<{ name: string }>(
        "SELECT DISTINCT span_name AS name FROM spans WHERE project_id = 'fuzz' AND startsWith(span_name, 'fuzz-good-')",
      )
      const stored = new Set(rows.map((row) => row.name))
      expect([...goodSpans].filter((name) => !stored.has(name))).toEqual([])
    }, 60_000)
  })

  it('stays within bounded memory', () => {
    // The collector's buffers are bounded; generous headroom over the test process's own baseline.
    expect(peakRssMb - baselineRssMb).toBeLessThan(1024)
  })
})

describe('fuzzing the metrics API', () => {
  const names = describeSavedQueries().map((query) => query.name)
  const dateLike = fc.oneof(
    fc
      .date({ min: new Date('1900-01-01'), max: new Date('2300-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString().slice(0, 10)),
    fc.string({ maxLength: 20 }),
  )
  it('answers any parameters without a 5xx other than 503/429', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 40 })),
        fc.record(
          {
            from: dateLike,
            to: dateLike,
            tz: fc.oneof(
              fc.constantFrom('UTC', 'Europe/Berlin', 'Asia/Kathmandu'),
              fc.string({ maxLength: 70 }),
            ),
            agent: fc.string({ maxLength: 600 }),
            format: fc.oneof(fc.constantFrom('json', 'csv'), fc.string()),
            project: fc.string(),
            extra: fc.string(),
          },
          { requiredKeys: [] },
        ),
        async (name, params) => {
          const query = new URLSearchParams(params as Record<string, string>).toString()
          const response = await collector.app.request(
            `/api/v1/metrics/${encodeURIComponent(name)}?${query}`,
            {
              headers: { authorization: `Bearer ${apiKey}` },
            },
          )
          count(response.status)
          expect(ALLOWED_API).toContain(response.status)
          await response.arrayBuffer()
        },
      ),
      { numRuns: RUNS },
    )
  })

  it('answers any POST of several queries without a 5xx, and a good query beside bad ones still gets its rows', async () => {
    const params = fc.dictionary(
      fc.oneof(fc.constantFrom('from', 'to', 'tz', 'agent', 'project'), fc.string({ maxLength: 10 })),
      fc.oneof(dateLike, fc.string({ maxLength: 80 })),
      { maxKeys: 6 },
    )
    const good = { name: 'daa', params: { from: '2026-01-01', to: '2026-01-31', tz: 'UTC' } }
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          // Anything at all as the body.
          fc.oneof(fc.json(), fc.string({ maxLength: 200 })).map((body) => ({ body, good: -1 })),
          // A batch with one good query somewhere among bad ones.
          fc
            .tuple(
              fc.array(
                fc.record({
                  name: fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 40 })),
                  params,
                }),
                {
                  maxLength: 8,
                },
              ),
              fc.nat(),
            )
            .map(([queries, at]) => {
              const index = at % (queries.length + 1)
              queries.splice(index, 0, good)
              return { body: JSON.stringify({ queries }), good: index }
            }),
        ),
        async ({ body, good: goodIndex }) => {
          const response = await collector.app.request('/api/v1/metrics', {
            method: 'POST',
            headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
            body,
          })
          count(response.status)
          expect(ALLOWED_API).toContain(response.status)
          const text = await response.text()
          if (response.status !== 200) {
            expect((JSON.parse(text) as { error: { message: string } }).error.message.length).toBeGreaterThan(
              0,
            )
            return
          }
          const lines = text
            .trimEnd()
            .split('\n')
            .map(
              (line) => JSON.parse(line) as { index: number; status?: number; result?: { rows: unknown[] } },
            )
          for (const line of lines) if (line.status !== undefined) expect(ALLOWED_API).toContain(line.status)
          if (goodIndex >= 0)
            expect(lines.find((line) => line.index === goodIndex)?.result?.rows).toHaveLength(31)
        },
      ),
      { numRuns: RUNS },
    )
  })
})
