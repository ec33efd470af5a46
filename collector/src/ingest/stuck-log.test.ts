/**
 * A log that cannot drain while ClickHouse answers (here: a table renamed away under the collector) is
 * reported, not hidden: /readyz turns 503 "stuck" with the last error, /metrics shows the log's
 * age, size and failures, nothing is set aside as a dead letter (it is not the data's fault), and
 * once the table is back the log drains and every acknowledged span is stored.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type Collector, createCollector } from '../app.js'
import { createApiKey } from '../auth/api-keys.js'
import { createEmbeddedStore } from '../store/embedded-store.js'
import { migrate } from '../store/migrations.js'
import type { Store } from '../store/store.js'
import { listDeadLetters } from './dead-letters.js'

const directory = mkdtempSync(join(tmpdir(), 'daa-stuck-'))
let store: Store
let collector: Collector
const warnings: string[] = []

beforeAll(async () => {
  store = await createEmbeddedStore({ path: join(directory, 'data'), database: 'stuck' })
  await migrate(store, { retentionDays: 0 })
  collector = await createCollector({
    store,
    walDir: join(directory, 'wal'),
    rollupIntervalMs: 0,
    replayIntervalMs: 60_000,
    onWarning: (message) => warnings.push(message),
  })
})
afterAll(async () => {
  await collector.shutdown()
  await store.close()
  rmSync(directory, { recursive: true, force: true })
})

function metric(text: string, name: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `))
  return Number(line?.split(' ')[1] ?? Number.NaN)
}

it('reports a stuck log on /readyz and /metrics, and drains it once ClickHouse takes rows again', async () => {
  const { key } = await createApiKey(store, 'acme')
  await store.command('RENAME TABLE spans TO spans_away')
  const post = (spanId: string) =>
    collector.app.request('/v1/traces', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: '5b8efff798038103d269b633813fc60c',
                    spanId,
                    name: 'acknowledged',
                    startTimeUnixNano: `${Date.now()}000000`,
                    endTimeUnixNano: `${Date.now() + 1}000000`,
                  },
                ],
              },
            ],
          },
        ],
      }),
    })
  // Acknowledged: they are in the log, whatever ClickHouse does next.
  for (const spanId of ['00000000000000a1', '00000000000000a2', '00000000000000a3']) {
    expect((await post(spanId)).status).toBe(200)
    await collector.flush()
  }

  const stuck = await collector.app.request('/readyz')
  expect(stuck.status).toBe(503)
  const report = (await stuck.json()) as {
    status: string
    log: { segments: number; bytes: number; consecutiveFailures: number; lastError: string }
  }
  expect(report.status).toBe('stuck')
  expect(report.log.segments).toBeGreaterThan(0)
  expect(report.log.bytes).toBeGreaterThan(0)
  expect(report.log.consecutiveFailures).toBeGreaterThanOrEqual(3)
  expect(report.log.lastError).toMatch(/spans/)
  const metrics = await (await collector.app.request('/metrics')).text()
  expect(metric(metrics, 'daa_wal_segments')).toBeGreaterThan(0)
  expect(metric(metrics, 'daa_wal_consecutive_insert_failures')).toBeGreaterThanOrEqual(3)
  expect(metric(metrics, 'daa_wal_replay_failures_total')).toBeGreaterThan(0)
  expect(metric(metrics, 'daa_wal_oldest_age_seconds')).toBeGreaterThanOrEqual(0)
  // Not the data's fault: nothing is set aside.
  expect(await listDeadLetters(join(directory, 'dead-letter'))).toEqual([])
  // Said once, however many attempts failed: an operator's log shows when it began.
  expect(warnings).toEqual([
    expect.stringMatching(/^ClickHouse did not take a batch \(.*spans.*\)\. Acknowledged spans wait/),
  ])

  // The table comes back; the next replay drains the log.
  await store.command('RENAME TABLE spans_away TO spans')
  await collector.flush()
  const ready = await collector.app.request('/readyz')
  expect(ready.status).toBe(200)
  expect(((await ready.json()) as { log: { segments: number } }).log.segments).toBe(0)
  const [row] = await store.query<{ n: number }>(
    "SELECT count() AS n FROM spans FINAL WHERE project_id = 'acme'",
  )
  expect(row?.n).toBe(3)
  expect(warnings.slice(1)).toEqual([
    expect.stringMatching(
      /^ClickHouse takes batches again; the write-ahead log has caught up after \d+ s\.$/,
    ),
  ])
})
