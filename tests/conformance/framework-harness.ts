/**
 * Shared by the framework conformance suites: a running collector on a real ClickHouse server, one
 * project per scenario, and the figures a user reads back through the metrics API.
 */
import { createApiKey } from '@daa/collector'
import { expect } from 'vitest'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, startTestCollector } from '../support/collector-harness.js'

export interface FrameworkCollector {
  target: CollectorUnderTest
  /** A new project and its API key, so each scenario's metrics are its own. */
  project(name: string): Promise<{ projectId: string; apiKey: string }>
  close(): Promise<void>
}

export async function startFrameworkCollector(): Promise<FrameworkCollector> {
  const clickhouse: RunningClickHouse = await startClickHouseServer()
  // The rollups refresh on their own loop, as in production, only more often: the tests wait for
  // the metrics the way a dashboard would, without calling a refresh users never call.
  const target = await startTestCollector(clickhouse.url, { rollupIntervalMs: 250 })
  return {
    target,
    async project(name) {
      const { key } = await createApiKey(target.collector.store, name, 'conformance')
      return { projectId: name, apiKey: key }
    },
    async close() {
      await target.close()
      await clickhouse.stop()
    },
  }
}

/** What one scenario should show, summed over the days around now. */
export interface RunFigures {
  runs: number
  llmCalls: number
  toolCalls: number
  inputTokens: number
  outputTokens: number
  /** Distinct people with a run. */
  people: number
  deliveredRuns: number
}

type Row = Record<string, unknown>

/** Yesterday to tomorrow in UTC: a run started around midnight still falls inside. */
function dayRange(): string {
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10)
  return `from=${day(-1)}&to=${day(1)}&tz=UTC`
}

async function metricRows(target: CollectorUnderTest, apiKey: string, name: string): Promise<Row[]> {
  const response = await fetch(`${target.collector.url}/api/v1/metrics/${name}?${dayRange()}`, {
    headers: { authorization: `Bearer ${apiKey}` },
  })
  if (response.status !== 200) throw new Error(`${name}: HTTP ${response.status} ${await response.text()}`)
  return ((await response.json()) as { rows: Row[] }).rows
}

function sum(rows: readonly Row[], column: string): number {
  return rows.reduce((total, row) => total + Number(row[column] ?? 0), 0)
}

/** The figures of a project as the metrics API reports them now. */
export async function readFigures(target: CollectorUnderTest, apiKey: string): Promise<RunFigures> {
  const [health, cost, people] = await Promise.all([
    metricRows(target, apiKey, 'run-health'),
    metricRows(target, apiKey, 'cost-per-outcome'),
    metricRows(target, apiKey, 'people-served'),
  ])
  return {
    runs: sum(health, 'runs'),
    // run-health reports calls per run; times the day's runs gives the day's calls.
    llmCalls: Math.round(
      health.reduce((total, row) => total + Number(row.llm_calls_per_run) * Number(row.runs), 0),
    ),
    toolCalls: sum(health, 'tool_calls'),
    inputTokens: sum(cost, 'input_tokens'),
    outputTokens: sum(cost, 'output_tokens'),
    people: sum(people, 'people_with_runs'),
    deliveredRuns: sum(cost, 'delivered_runs'),
  }
}

/** Polls the metrics API until the project shows `expected`: generous (they settle in seconds), yet inside the 60 s test timeout so a mismatch is reported as one. */
export async function expectFigures(
  target: CollectorUnderTest,
  apiKey: string,
  expected: RunFigures,
): Promise<void> {
  await expect.poll(() => readFigures(target, apiKey), { timeout: 45_000, interval: 250 }).toEqual(expected)
}

/** Per-run facts the API does not list one by one: each run's agent and person, from the store. */
export async function runsOf(
  target: CollectorUnderTest,
  projectId: string,
): Promise<Array<{ agent_id: string; user_id: string }>> {
  return target.collector.store.query<{ agent_id: string; user_id: string }>(
    'SELECT agent_id, user_id FROM runs FINAL WHERE project_id = {project:String} ORDER BY agent_id, user_id',
    { project: projectId },
  )
}

/** The `daa.convention` recorded for each span name of a project, to show what read the spans. */
export async function conventionsOf(
  target: CollectorUnderTest,
  projectId: string,
): Promise<Record<string, string>> {
  const rows = await target.collector.store.query<{ span_name: string; convention: string }>(
    "SELECT span_name, any(span_attributes['daa.convention']) AS convention FROM spans FINAL WHERE project_id = {project:String} GROUP BY span_name",
    { project: projectId },
  )
  return Object.fromEntries(rows.map((row) => [row.span_name, row.convention]))
}
