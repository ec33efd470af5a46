import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Collector, createCollector } from './app.js'
import { createApiKey } from './auth/api-keys.js'
import { createEmbeddedStore } from './store/embedded-store.js'
import { migrate } from './store/migrations.js'
import type { Store } from './store/store.js'

// The embedded engine and app.request(): no server, no network.
const directory = mkdtempSync(join(tmpdir(), 'daa-app-'))
let store: Store
let collector: Collector

beforeAll(async () => {
  store = await createEmbeddedStore({ path: join(directory, 'data'), database: 'app_test' })
  collector = await createCollector({
    store,
    walDir: join(directory, 'wal'),
    rollupIntervalMs: 0,
  })
})
afterAll(async () => {
  await collector.shutdown()
  await store.close()
  rmSync(directory, { recursive: true, force: true })
})

describe('collector app', () => {
  it('is healthy at once, and ready only once migrated', async () => {
    expect((await collector.app.request('/healthz')).status).toBe(200)
    const before = await collector.app.request('/readyz')
    expect(before.status).toBe(503)
    expect(await before.json()).toMatchObject({ migrations: 'pending' })
    await migrate(store, { retentionDays: 400 })
    const after = await collector.app.request('/readyz')
    expect(after.status).toBe(200)
    expect(await after.json()).toEqual({
      status: 'ready',
      clickhouse: 'ok',
      migrations: 'done',
      backend: 'embedded',
      // Nothing waits in the write-ahead log, and no insert has failed.
      log: { segments: 0, bytes: 0, oldestAgeSeconds: 0, consecutiveFailures: 0 },
    })
  })

  it('answers an export, and counts it in /metrics', async () => {
    const { key } = await createApiKey(store, 'acme')
    const body = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bot' } }] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId: '5b8efff798038103d269b633813fc60c',
                  spanId: 'eee19b7ec3c1b174',
                  name: 'invoke_agent helper',
                  startTimeUnixNano: '1767225600000000000',
                  endTimeUnixNano: '1767225601000000000',
                  attributes: [
                    { key: 'gen_ai.operation.name', value: { stringValue: 'invoke_agent' } },
                    { key: 'gen_ai.agent.name', value: { stringValue: 'helper' } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    })
    const response = await collector.app.request('/v1/traces', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({})
    // Acknowledged means logged on disk; ClickHouse gets the batch at the next flush.
    await collector.flush()
    const [run] = await store.query('SELECT project_id, agent_id FROM runs FINAL')
    expect(run).toEqual({ project_id: 'acme', agent_id: 'helper' })
    const metrics = await (await collector.app.request('/metrics')).text()
    expect(metrics).toMatch(/^daa_spans_accepted_total 1$/m)
    expect(metrics).toMatch(/^daa_export_requests_total\{transport="http",status="200"\} 1$/m)
  })

  it('answers unknown routes with a JSON 404', async () => {
    const response = await collector.app.request('/nope')
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({ error: { code: 'not_found', message: 'No route for GET /nope' } })
  })
})
