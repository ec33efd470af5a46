/**
 * The metrics API on a running collector: spans sent over OTLP come back as metrics, for the
 * project of the key only.
 */
import { createApiKey } from '@daa/collector'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordAgentRun } from '../support/agent-spans.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, postSpans, startTestCollector } from '../support/collector-harness.js'

let clickhouse: RunningClickHouse
let target: CollectorUnderTest
let otherProjectKey: string
/** The UTC day the runs started on (taken from the spans, so a run at midnight cannot flake the test). */
let today: string

beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  target = await startTestCollector(clickhouse.url)
  otherProjectKey = (await createApiKey(target.collector.store, 'other-project')).key
  const spans = [
    ...recordAgentRun({ agent: 'alpha', outcome: 'delivered', value: 10 }),
    ...recordAgentRun({ agent: 'beta', outcome: 'delivered', value: 5 }),
    ...recordAgentRun({ agent: 'gamma', outcome: 'failed' }),
  ]
  const runStarts = spans
    .filter((span) => span.name.startsWith('invoke_agent'))
    .map((span) => span.startTime[0])
  today = new Date(Math.min(...runStarts) * 1000).toISOString().slice(0, 10)
  expect(new Date(Math.max(...runStarts) * 1000).toISOString().slice(0, 10)).toBe(today)
  const response = await postSpans(target, spans)
  expect(response.status).toBe(200)
  await target.collector.settle()
})
afterAll(async () => {
  await target?.close()
  await clickhouse?.stop()
})

function getMetric(name: string, key: string | undefined, query = `from=${today}&to=${today}`) {
  return fetch(`${target.collector.url}/api/v1/metrics/${name}?${query}`, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
  })
}

describe('metrics API on a running collector', () => {
  it("reports today's DAA from the spans just sent", async () => {
    const response = await getMetric('daa', target.apiKey)
    expect(response.status).toBe(200)
    const body = (await response.json()) as { columns: Array<{ name: string }>; rows: unknown[][] | object[] }
    const rows = body.rows as Array<Record<string, unknown>>
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ day: today, daa: 2, working_agents: 3 })
  })

  it("shows another project's key nothing of this project", async () => {
    const rows = (
      (await (await getMetric('daa', otherProjectKey)).json()) as { rows: Array<Record<string, unknown>> }
    ).rows
    expect(rows).toEqual([expect.objectContaining({ day: today, daa: 0, working_agents: 0 })])
  })

  it('refuses a request without a valid key', async () => {
    expect((await getMetric('daa', undefined)).status).toBe(401)
    expect((await getMetric('daa', 'daa_wrong')).status).toBe(401)
  })

  it('serves CSV on request', async () => {
    const response = await getMetric('daa', target.apiKey, `from=${today}&to=${today}&format=csv`)
    expect(response.headers.get('content-type')).toContain('text/csv')
    expect((await response.text()).split('\n')[0]).toContain('daa')
  })
})
