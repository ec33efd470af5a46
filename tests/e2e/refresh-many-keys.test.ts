/**
 * A burst that touches tens of thousands of rollup keys at once (here a backfill of 25,000 agents in
 * one export, sent after the collector's first refresh) is refreshed in a few chunks: each chunk's
 * keys are written into the refresh's statements as literals, 10,000–20,000 keys a chunk. Agent ids
 * that could end a literal or a statement (quotes, backslashes, control characters, a parameter's
 * placeholder) come back as they were sent. Then a late outcome for every one of those runs, in one
 * export: a catch-up that finds its 25,000 runs by scanning run_facts (not through the run-id bloom
 * filter) and rebuilds the people of the changed runs only. Nobody calls a refresh: the tests wait
 * for the leaderboard, as a dashboard would.
 */
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { GoldenRun } from '../golden/golden-dataset.js'
import { lateOutcomeSpans, runSpan } from '../golden/golden-otlp.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, startTestCollector } from '../support/collector-harness.js'

/** Several chunks of keys: about 80 characters of key literals per key, and its person's. */
const AGENTS = 25_000

/** Agent ids a careless literal would break, or let into the statement. */
const AWKWARD_IDS = [
  "o'brien",
  'back\\slash\\',
  "x'], ['y",
  'new\nline\ttab\rreturn',
  'nul\u0000byte',
  'bell\u0007 and delete\u007f',
  '{ka:Array(String)}',
  'ünïcødé 🤖 агент',
]
let clickhouse: RunningClickHouse
let target: CollectorUnderTest

// A ClickHouse server, whose HTTP interface caps what a query can carry in its URL.
beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  target = await startTestCollector(clickhouse.url)
}, 120_000)
afterAll(async () => {
  await target?.close()
  await clickhouse?.stop()
})

const api = async (path: string) => {
  const response = await fetch(`${target.collector.url}${path}`, {
    headers: { authorization: `Bearer ${target.apiKey}` },
  })
  expect(response.status).toBe(200)
  return (await response.json()) as {
    rows: { agent_id: string; runs: number; delivered_runs: number; people_served: number }[]
    fresh_as_of: string | null
  }
}

const range = '/api/v1/metrics/agent-leaderboard?from=2026-09-01&to=2026-09-30'
const first = Date.parse('2026-09-01T00:00:00Z')
/** One run per agent, each in its own quarter-hour of September, each for its own person. */
const runs = Array.from({ length: AGENTS }, (_, index): GoldenRun => {
  const hex = (index + 1).toString(16)
  return {
    project: '',
    // Zero-padded behind a fixed first character: padding with a hex digit would make 'a1' and '1'
    // the same id (255 runs shared theirs with another agent's run).
    runId: `a${hex.padStart(15, '0')}`,
    traceId: `b${hex.padStart(31, '0')}`,
    parentRunId: '',
    agentId: AWKWARD_IDS[index] ?? `backfilled-agent-with-a-descriptive-name-${index}`,
    userId: `person-${index}`,
    startNs: BigInt(first + (index % 2_880) * 900_000) * 1_000_000n,
    durationNs: 1_000_000,
    statusError: false,
    ownCostUsd: 0.001,
    calls: [],
    outcomes: [],
    runArrivesLate: false,
  }
})

async function exportSpans(spans: Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0]) {
  const response = await fetch(`${target.collector.url}/v1/traces`, {
    method: 'POST',
    body: ProtobufTraceSerializer.serializeRequest(spans)!,
    headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${target.apiKey}` },
  })
  expect(response.status).toBe(200)
}

/** The leaderboard's rows once `done` holds for them, or at the deadline. */
async function leaderboardWhen(done: (rows: Awaited<ReturnType<typeof api>>['rows']) => boolean) {
  const deadline = Date.now() + 240_000
  let rows = (await api(range)).rows
  while (!done(rows) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    rows = (await api(range)).rows
  }
  return rows
}

it('a backfill of 25,000 agents in one export shows every agent, odd ids as sent, without a refresh call', async () => {
  // After the first refresh, so the backfill is an incremental refresh of 5,000 agents' keys.
  while ((await api(range)).fresh_as_of === null) await new Promise((resolve) => setTimeout(resolve, 100))
  // The project is the collector's, known once it runs.
  for (const run of runs) run.project = target.projectId
  await exportSpans(runs.map(runSpan))
  const rows = await leaderboardWhen((rows) => rows.length >= AGENTS)
  expect(rows).toHaveLength(AGENTS)
  expect(new Set(rows.map((row) => row.agent_id))).toEqual(new Set(runs.map((run) => run.agentId)))
  expect(rows.every((row) => row.runs === 1)).toBe(true)
}, 300_000)

it('late outcomes for all 25,000 runs in one export: every agent delivered, each to its person', async () => {
  const recordedAt = BigInt(Date.parse('2026-10-15T00:00:00Z')) * 1_000_000n
  const late = runs.map((run, index) => ({
    ...run,
    outcomes: [
      {
        status: 'delivered' as const,
        value: 1,
        unit: 'tickets',
        reason: '',
        recordedAt,
        sourceSpanId: `c${(index + 1).toString(16).padStart(15, '0')}`,
        late: true,
      },
    ],
  }))
  expect((await api(range)).rows.every((row) => row.delivered_runs === 0 && row.people_served === 0)).toBe(
    true,
  )
  await exportSpans(late.flatMap(lateOutcomeSpans))
  const rows = await leaderboardWhen((rows) =>
    rows.every((row) => row.delivered_runs === 1 && row.people_served === 1),
  )
  expect(rows).toHaveLength(AGENTS)
  expect(rows.filter((row) => row.delivered_runs !== 1)).toEqual([])
  expect(rows.filter((row) => row.people_served !== 1)).toEqual([])
}, 300_000)
