/**
 * A burst that touches tens of thousands of rollup keys at once (here a backfill of 25,000 agents in
 * one export, sent after the collector's first refresh) is refreshed in a few chunks: each chunk's
 * keys are written into the refresh's statements as literals, 10,000–20,000 keys a chunk. Agent ids
 * that could end a literal or a statement (quotes, backslashes, control characters, a parameter's
 * placeholder) come back as they were sent. Nobody calls a refresh: the test waits for the
 * leaderboard, as a dashboard would.
 */
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { GoldenRun } from '../golden/golden-dataset.js'
import { runSpan } from '../golden/golden-otlp.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, startTestCollector } from '../support/collector-harness.js'

/** Two chunks of keys, at about 80 characters of literals per key. */
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
  return (await response.json()) as { rows: { agent_id: string; runs: number }[]; fresh_as_of: string | null }
}

it('a backfill of 25,000 agents in one export shows every agent, odd ids as sent, without a refresh call', async () => {
  const range = '/api/v1/metrics/agent-leaderboard?from=2026-09-01&to=2026-09-30'
  // After the first refresh, so the backfill is an incremental refresh of 5,000 agents' keys.
  while ((await api(range)).fresh_as_of === null) await new Promise((resolve) => setTimeout(resolve, 100))
  const first = Date.parse('2026-09-01T00:00:00Z')
  const runs = Array.from({ length: AGENTS }, (_, index): GoldenRun => {
    const hex = (index + 1).toString(16)
    return {
      project: target.projectId,
      runId: hex.padStart(16, 'a'),
      traceId: hex.padStart(32, 'b'),
      parentRunId: '',
      agentId: AWKWARD_IDS[index] ?? `backfilled-agent-with-a-descriptive-name-${index}`,
      userId: '',
      // One run per agent, each in its own quarter-hour of September.
      startNs: BigInt(first + (index % 2_880) * 900_000) * 1_000_000n,
      durationNs: 1_000_000,
      statusError: false,
      ownCostUsd: 0.001,
      calls: [],
      outcomes: [],
      runArrivesLate: false,
    }
  })
  const response = await fetch(`${target.collector.url}/v1/traces`, {
    method: 'POST',
    body: ProtobufTraceSerializer.serializeRequest(runs.map(runSpan))!,
    headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${target.apiKey}` },
  })
  expect(response.status).toBe(200)
  const deadline = Date.now() + 240_000
  let rows = (await api(range)).rows
  while (rows.length < AGENTS && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    rows = (await api(range)).rows
  }
  expect(rows).toHaveLength(AGENTS)
  expect(new Set(rows.map((row) => row.agent_id))).toEqual(new Set(runs.map((run) => run.agentId)))
  expect(rows.every((row) => row.runs === 1)).toBe(true)
}, 300_000)
