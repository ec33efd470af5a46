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
const FORMULA_AGENT = "=cmd|' /C calc'!A0"
const FORMULA_REASON = '@SUM(1+1)'

beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  target = await startTestCollector(clickhouse.url)
  otherProjectKey = (await createApiKey(target.collector.store, 'other-project')).key
  const spans = [
    ...recordAgentRun({ agent: 'alpha', outcome: 'delivered', value: 10 }),
    ...recordAgentRun({ agent: 'beta', outcome: 'delivered', value: 5 }),
    ...recordAgentRun({ agent: 'gamma', outcome: 'failed' }),
    // Text a spreadsheet would run as a formula, as a sender may write it in any attribute.
    ...recordAgentRun({ agent: FORMULA_AGENT, outcome: 'failed', reason: FORMULA_REASON }),
  ]
  const runStarts = spans
    .filter((span) => span.name.startsWith('invoke_agent'))
    .map((span) => span.startTime[0])
  today = new Date(Math.min(...runStarts) * 1000).toISOString().slice(0, 10)
  expect(new Date(Math.max(...runStarts) * 1000).toISOString().slice(0, 10)).toBe(today)
  const response = await postSpans(target, spans)
  expect(response.status).toBe(200)
  // As a dashboard shows it: the collector's own refresher runs, nothing here refreshes by hand;
  // the API is asked again until every agent sent is on the leaderboard.
  for (;;) {
    const answer = await getMetric('agent-leaderboard', target.apiKey)
    if (((await answer.json()) as { rows: unknown[] }).rows.length === 4) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}, 60_000)
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
    expect(rows[0]).toMatchObject({ day: today, daa: 2, working_agents: 4 })
  })

  it("says in Server-Timing how long the query itself took, as the body's elapsed_ms does", async () => {
    const response = await getMetric('daa', target.apiKey)
    const body = (await response.json()) as { elapsed_ms: number }
    expect(response.headers.get('server-timing')).toBe(`query;dur=${body.elapsed_ms};desc="daa"`)
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

  it('compresses a large answer for a client that takes gzip', async () => {
    const response = await fetch(`${target.collector.url}/api/v1/metrics`, {
      headers: { authorization: `Bearer ${target.apiKey}`, 'accept-encoding': 'gzip' },
    })
    expect(response.headers.get('content-encoding')).toBe('gzip')
    expect(((await response.json()) as { queries: unknown[] }).queries.length).toBeGreaterThan(10)
  })

  it('serves CSV on request', async () => {
    const response = await getMetric('daa', target.apiKey, `from=${today}&to=${today}&format=csv`)
    expect(response.headers.get('content-type')).toContain('text/csv')
    // A project's data, read with its key: kept by no cache, never sniffed into a page.
    for (const answer of [response, await getMetric('daa', target.apiKey)]) {
      expect(answer.headers.get('cache-control')).toBe('no-store')
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff')
    }
    expect((await response.text()).split('\n')[0]).toContain('daa')
  })

  it('writes text a spreadsheet would run as a formula as inert text in CSV, and exactly in JSON', async () => {
    const csv = async (name: string) =>
      (await (await getMetric(name, target.apiKey, `from=${today}&to=${today}&format=csv`)).text()).split(
        '\r\n',
      )
    const leaderboard = await csv('agent-leaderboard')
    const line = leaderboard.find((row) => row.includes('cmd|'))!
    expect(line.split(',')[1]).toBe(`'${FORMULA_AGENT}`)
    // Numbers stay numbers (a negative one would start with '-').
    expect(line.split(',')[0]).toMatch(/^\d+$/)
    expect(
      (await csv('outcomes-by-reason')).some((row) => row.startsWith(`failed,'${FORMULA_REASON},`)),
    ).toBe(true)
    const json = (await (await getMetric('agent-leaderboard', target.apiKey)).json()) as {
      rows: { agent_id: string }[]
    }
    expect(json.rows.map((row) => row.agent_id)).toContain(FORMULA_AGENT)
  })

  describe('several queries in one POST', () => {
    function postQueries(body: unknown, key: string | null = target.apiKey) {
      return fetch(`${target.collector.url}/api/v1/metrics`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })
    }
    type Line = {
      index: number
      name: string
      result?: { rows: unknown[] }
      status?: number
      error?: { code: string; message: string }
    }
    const range = () => ({ from: today, to: today, tz: 'UTC', agent: '' })

    it('answers each query with a line of what its GET answers', async () => {
      const response = await postQueries({
        queries: [
          { name: 'daa', params: range() },
          { name: 'agent-leaderboard', params: range() },
        ],
      })
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toContain('application/x-ndjson')
      const lines = (await response.text())
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as Line)
      expect(lines.map((line) => line.index).sort()).toEqual([0, 1])
      for (const line of lines) {
        const get = (await (await getMetric(line.name, target.apiKey)).json()) as { rows: unknown[] }
        expect(line.result?.rows).toEqual(get.rows)
      }
      const leaderboard = lines.find((line) => line.name === 'agent-leaderboard')!
      expect(leaderboard.result?.rows).toHaveLength(4)
    })

    it('compresses the lines for a client that takes gzip, and not for one that does not', async () => {
      const body = JSON.stringify({
        queries: [
          { name: 'daa', params: range() },
          { name: 'agent-leaderboard', params: range() },
        ],
      })
      const post = (encoding: string) =>
        fetch(`${target.collector.url}/api/v1/metrics`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${target.apiKey}`,
            'accept-encoding': encoding,
          },
          body,
        })
      const linesOf = async (response: Response) =>
        (await response.text())
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line) as Line)
          .sort((a, b) => a.index - b.index)
      const gzipped = await post('gzip')
      expect(gzipped.headers.get('content-encoding')).toBe('gzip')
      const plain = await post('identity')
      expect(plain.headers.get('content-encoding')).toBeNull()
      // fetch decompresses: the same lines either way.
      const [zipped, unzipped] = [await linesOf(gzipped), await linesOf(plain)]
      expect(zipped.map((line) => line.result?.rows)).toEqual(unzipped.map((line) => line.result?.rows))
      expect(zipped[1]!.result!.rows).toHaveLength(4)
    })

    it('gives a bad query its own error line and still answers the good ones beside it', async () => {
      const response = await postQueries({
        queries: [
          { name: 'no-such-query', params: range() },
          { name: 'daa', params: { ...range(), from: 'yesterday' } },
          { name: 'daa', params: range() },
        ],
      })
      expect(response.status).toBe(200)
      const lines = (await response.text())
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as Line)
        .sort((a, b) => a.index - b.index)
      expect(lines[0]).toMatchObject({ status: 404, error: { code: 'unknown_query' } })
      expect(lines[1]).toMatchObject({ status: 400, error: { code: 'invalid_parameters' } })
      expect(lines[1]!.error!.message).toContain('from')
      expect(lines[2]!.result!.rows).toEqual([expect.objectContaining({ day: today, daa: 2 })])
    })

    it('refuses a body it cannot read with a 400 that says why', async () => {
      const notJson = await postQueries('daa,value')
      expect(notJson.status).toBe(400)
      expect(((await notJson.json()) as Line).error!.message).toContain('must be JSON')
      const none = await postQueries({ queries: [] })
      expect(none.status).toBe(400)
      expect(((await none.json()) as Line).error!.message).toContain('1 to 32 queries')
      const tooMany = await postQueries({
        queries: Array.from({ length: 33 }, () => ({ name: 'daa', params: range() })),
      })
      expect(tooMany.status).toBe(400)
    })

    it('refuses a request without a valid key', async () => {
      expect((await postQueries({ queries: [{ name: 'daa', params: range() }] }, null)).status).toBe(401)
    })
  })
})
