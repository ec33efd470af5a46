/**
 * Poison in a fleet: the values that once stopped ingestion for everyone (a start in the year
 * 2264, 1e21 input tokens, spans over more than 100 days in one request, a 600-deep attribute
 * value) are sent between the requests of a realistic fleet, by the same project and by another.
 * The fleet's metrics must be exact, and the poison counted.
 */
import { randomBytes } from 'node:crypto'
import { createApiKey } from '@daa/collector'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, startTestCollector } from '../support/collector-harness.js'
import { expectedTotals, makeFleetRequests } from './fleet.js'
import {
  countSpans,
  eventually,
  expectedLeaderboard,
  FULL,
  leaderboard,
  report,
  sendUntilAcknowledged,
} from './support.js'

const FLEET_REQUESTS = FULL ? 2000 : 200

let clickhouse: RunningClickHouse
let target: CollectorUnderTest
let poisonKey: string

beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  target = await startTestCollector(clickhouse.url, { rollupIntervalMs: 500, flushIntervalMs: 200 })
  poisonKey = (await createApiKey(target.collector.store, 'poisoner', 'reliability')).key
})
afterAll(async () => {
  await target?.close()
  await clickhouse?.stop()
})

const hex = (bytes: number) => randomBytes(bytes).toString('hex')
const NOW_NS = BigInt(Date.now()) * 1_000_000n
const DAY_NS = 86_400n * 1_000_000_000n

function span(overrides: Record<string, unknown> = {}) {
  return {
    traceId: hex(16),
    spanId: hex(8),
    name: 'chat poison',
    kind: 3,
    startTimeUnixNano: String(NOW_NS - 1_000_000n),
    endTimeUnixNano: String(NOW_NS),
    attributes: [
      { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
      { key: 'gen_ai.request.model', value: { stringValue: 'gpt-5' } },
    ],
    ...overrides,
  }
}

function request(spans: unknown[]) {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'poison' } }] },
        scopeSpans: [{ scope: { name: 'poison' }, spans }],
      },
    ],
  })
}

function deepValue(depth: number): unknown {
  let value: unknown = { stringValue: 'bottom' }
  for (let level = 0; level < depth; level++) value = { kvlistValue: { values: [{ key: 'k', value }] } }
  return value
}

/** Each poison request, with how many of its spans are poison. */
function poisonRequests() {
  const tokens = (value: unknown) =>
    span({
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
        { key: 'gen_ai.usage.input_tokens', value },
      ],
    })
  const backfill = Array.from({ length: 120 }, (_, day) =>
    span({
      name: 'backfill',
      startTimeUnixNano: String(NOW_NS - BigInt(day + 1) * DAY_NS),
      endTimeUnixNano: String(NOW_NS - BigInt(day + 1) * DAY_NS + 1_000_000n),
    }),
  )
  return [
    {
      what: 'start in 2264',
      body: request([
        span({ startTimeUnixNano: '9300000000000000000', endTimeUnixNano: '9300000001000000000' }),
      ]),
      poison: 1,
    },
    { what: 'input_tokens 1e21 (double)', body: request([tokens({ doubleValue: 1e21 })]), poison: 1 },
    {
      what: 'input_tokens 1e21 (int)',
      body: request([tokens({ intValue: '1000000000000000000000' })]),
      poison: 1,
    },
    {
      what: '600-deep attribute',
      body: request([span({ attributes: [{ key: 'deep', value: deepValue(600) }] })]),
      poison: 1,
    },
    // Valid backfill, but 120 daily partitions in one request: it must be stored, not block anyone.
    { what: '120 days in one request', body: request(backfill), poison: 0, stored: 120 },
  ]
}

async function spansRejectedTotal(): Promise<number> {
  const text = await (await fetch(`${target.collector.url}/metrics`)).text()
  const line = text.split('\n').find((candidate) => candidate.startsWith('daa_spans_rejected_total'))
  return Number(line?.split(' ').at(-1) ?? 0)
}

it('keeps a fleet exact while poison is mixed in, and counts the poison', {
  timeout: FULL ? 600_000 : 180_000,
}, async () => {
  const fleet = makeFleetRequests(FLEET_REQUESTS, { agents: 20, prefix: 'poison-fleet' })
  const expected = expectedTotals(fleet)
  const poisons = poisonRequests()
  const answers: { what: string; status: number; rejected: number }[] = []
  const rejectedBefore = await spansRejectedTotal()
  const sendPoison = async (index: number, key: string) => {
    const poison = poisons[index % poisons.length]!
    const response = await fetch(`${target.collector.url}/v1/traces`, {
      method: 'POST',
      body: poison.body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    })
    const body = (await response.json().catch(() => ({}))) as {
      partialSuccess?: { rejectedSpans?: string | number }
    }
    answers.push({
      what: poison.what,
      status: response.status,
      rejected: Number(body.partialSuccess?.rejectedSpans ?? 0),
    })
  }

  // Poison goes out between fleet requests, from the fleet's own project and from another one,
  // so it shares the collector's batches with good data.
  let poisonIndex = 0
  const rounds = Math.ceil(fleet.length / 4)
  for (let round = 0; round < rounds; round++) {
    await Promise.all([
      ...fleet
        .slice(round * 4, round * 4 + 4)
        .map((r) => sendUntilAcknowledged(() => target.collector.url, target.apiKey, r.body)),
      sendPoison(poisonIndex, poisonIndex % 2 === 0 ? target.apiKey : poisonKey),
    ])
    poisonIndex++
  }

  // No poison is answered with a 5xx; each poison span is rejected (partial_success) or refused (400).
  expect(answers.filter((answer) => answer.status >= 500)).toEqual([])
  const poisonSent = answers.reduce(
    (sum, answer) => sum + poisons.find((p) => p.what === answer.what)!.poison,
    0,
  )
  const refused = answers.filter((answer) => answer.status === 400).length
  const rejected = answers.reduce((sum, answer) => sum + answer.rejected, 0)
  expect(rejected + refused).toBe(poisonSent)
  expect((await spansRejectedTotal()) - rejectedBefore).toBe(rejected)

  await eventually(async () =>
    expect(await leaderboard(target.collector.url, target.apiKey)).toEqual(expectedLeaderboard(expected)),
  )
  const backfills = answers.filter((answer) => answer.what === '120 days in one request')
  const store = target.collector.store
  await eventually(async () => {
    const [row] = await store.query<{ n: number }>(
      "SELECT count() AS n FROM spans FINAL WHERE span_name = 'backfill'",
    )
    expect(row?.n).toBe(backfills.length * 120)
  })
  const fleetSpans = await countSpans(store, target.projectId)
  const [poisonStored] = await store.query<{ n: number }>(
    "SELECT count() AS n FROM spans FINAL WHERE project_id = 'acme' AND service_name = 'poison'",
  )
  expect(fleetSpans - (poisonStored?.n ?? 0)).toBe(expected.spans)
  report('poison', {
    fleetRequests: fleet.length,
    fleetSpans: expected.spans,
    poisonRequests: answers.length,
    poisonSpansRejected: rejected,
    poisonRequestsRefused400: refused,
    backfillSpansStored: backfills.length * 120,
    byKind: Object.fromEntries(
      poisons.map((p) => [
        p.what,
        answers
          .filter((a) => a.what === p.what)
          .map((a) => a.status)
          .join('/')
          .slice(0, 40),
      ]),
    ),
  })
})
