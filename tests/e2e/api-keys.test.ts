/**
 * API keys on a running collector over a real ClickHouse server: list and revoke, the revocation
 * bound, known keys served from cache through an outage, per-key rate limits, and the time and
 * memory limits of metrics queries.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApiKey, listApiKeys, revokeApiKey } from '@daa/collector'
import { afterEach, describe, expect, it } from 'vitest'
import { recordAgentRun } from '../support/agent-spans.js'
import { pickFreePorts, type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { metricValue, postSpans, startTestCollector } from '../support/collector-harness.js'

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {})
})

async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

async function clickhouse(options: { port?: number; dataDir?: string } = {}): Promise<RunningClickHouse> {
  const server = await startClickHouseServer({ httpPort: options.port, dataDir: options.dataDir })
  cleanups.push(() => server.stop())
  return server
}

describe('API keys', () => {
  it('lists keys without showing them, and a revoked key stops working within the refresh bound', async () => {
    const server = await clickhouse()
    const target = await startTestCollector(server.url, { keyRefreshMs: 500 })
    cleanups.push(() => target.close())
    const store = target.collector.store
    const other = await createApiKey(store, 'other', 'ci')

    const all = await listApiKeys(store)
    expect(all.map((key) => key.projectId).sort()).toEqual(['acme', 'other'])
    expect(JSON.stringify(all)).not.toContain(other.key)
    const others = await listApiKeys(store, 'other')
    expect(others).toEqual([
      { id: other.id, projectId: 'other', name: 'ci', createdAt: expect.any(String), revoked: false },
    ])

    // A second collector over the same database: revocation reaches both.
    const sibling = await startTestCollector(server.url, {
      keyRefreshMs: 500,
      clickhouseDatabase: target.config.clickhouseDatabase,
    })
    cleanups.push(() => sibling.collector.close())
    for (const collector of [target, sibling]) {
      expect((await postSpans(collector, recordAgentRun(), other.key)).status).toBe(200)
    }
    const revoked = await revokeApiKey(store, other.id)
    expect(revoked).toMatchObject({ id: other.id, projectId: 'other', revoked: true })
    expect((await listApiKeys(store, 'other'))[0]?.revoked).toBe(true)
    // Within keyRefreshMs (500 ms here; 10 s by default) each collector has looked the key up again.
    for (const collector of [target, sibling]) {
      await eventually(async () =>
        expect((await postSpans(collector, recordAgentRun(), other.key)).status).toBe(401),
      )
    }
    // The project's other key is untouched; the plain key works as a name too.
    expect((await postSpans(target, recordAgentRun())).status).toBe(200)
    await expect(revokeApiKey(store, 'not-a-key')).rejects.toThrow(/neither a key id/)
    await expect(revokeApiKey(store, 'ffffffffffffffff')).rejects.toThrow(/No API key/)
    expect((await revokeApiKey(store, target.apiKey)).projectId).toBe('acme')
    await eventually(async () => expect((await postSpans(target, recordAgentRun())).status).toBe(401))
  })

  it('serves known keys from cache through an outage longer than the refresh interval; unknown keys get 503', async () => {
    const [port] = await pickFreePorts(1)
    const dataDir = mkdtempSync(join(tmpdir(), 'daa-ch-keys-'))
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
    const first = await clickhouse({ port, dataDir })
    const target = await startTestCollector(first.url, { keyRefreshMs: 200, replayIntervalMs: 100 })
    cleanups.push(() => target.close())
    expect((await postSpans(target, recordAgentRun({ agent: 'before' }))).status).toBe(200)
    await first.stop()

    // Past the refresh interval many times over: the key is still known.
    const outageStart = Date.now()
    let acknowledged = 0
    while (Date.now() - outageStart < 2000) {
      expect((await postSpans(target, recordAgentRun({ agent: 'during' }))).status).toBe(200)
      acknowledged++
    }
    const unknown = await postSpans(target, recordAgentRun(), 'daa_never-seen')
    expect(unknown.status).toBe(503)
    expect(Number(unknown.headers.get('retry-after'))).toBeGreaterThan(0)

    const second = await clickhouse({ port, dataDir })
    await eventually(async () => {
      const [row] = await target.collector.store.query<{ n: number }>(
        "SELECT count() AS n FROM runs FINAL WHERE agent_id = 'during'",
      )
      expect(row?.n).toBe(acknowledged)
    }, 60_000)
    expect(second.url).toBe(first.url)
    // Once ClickHouse answers again, an unknown key is unknown (401), not unavailable.
    await eventually(async () =>
      expect((await postSpans(target, recordAgentRun(), 'daa_never-seen')).status).toBe(401),
    )
  })

  it('limits requests per key with 429 and Retry-After, per key', async () => {
    const server = await clickhouse()
    const target = await startTestCollector(server.url, { rateLimitRps: 1, rateLimitBurst: 3 })
    cleanups.push(() => target.close())
    const other = await createApiKey(target.collector.store, 'other')
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) statuses.push((await postSpans(target, recordAgentRun())).status)
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200])
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(1)
    const limited = await postSpans(target, recordAgentRun())
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    // The metrics API counts against the same key.
    const api = await fetch(`${target.collector.url}/api/v1/metrics`, {
      headers: { authorization: `Bearer ${target.apiKey}` },
    })
    expect(api.status).toBe(429)
    // Another key has its own bucket.
    expect((await postSpans(target, recordAgentRun(), other.key)).status).toBe(200)
  })

  it('stops a metrics query at its memory limit with a 503 and a reason', async () => {
    const server = await clickhouse()
    const target = await startTestCollector(server.url, { queryMaxMemoryMb: 0.001 })
    cleanups.push(() => target.close())
    expect((await postSpans(target, recordAgentRun({ outcome: 'delivered' }))).status).toBe(200)
    // The query is to have a run to read, and it reads the metrics the collector's refresher keeps, not
    // the raw rows: wait, as an operator would on /metrics, until a refresh has taken the run in, then ask.
    await eventually(async () =>
      expect(await metricValue(target, 'daa_metric_refresh_runs_total')).toBeGreaterThan(0),
    )
    const day = new Date().toISOString().slice(0, 10)
    const response = await fetch(`${target.collector.url}/api/v1/metrics/daa?from=${day}&to=${day}`, {
      headers: { authorization: `Bearer ${target.apiKey}` },
    })
    expect(response.status).toBe(503)
    const body = (await response.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('query_limit_exceeded')
    expect(body.error.message).toMatch(/memory limit .*DAA_QUERY_MAX_MEMORY_MB/)
  })
})
