/**
 * A ClickHouse outage under load: the server is stopped for longer than any cache (95 s in the full
 * form; in the short form a few seconds, but many times the key refresh interval set for the
 * test), then started again on the same data and port. Every export is acknowledged from the
 * write-ahead log throughout, and the counts are exact afterwards.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createServerStore } from '@daa/collector'
import { afterAll, expect, it } from 'vitest'
import { freshDatabaseName } from '../contract/store-contract.js'
import { pickFreePorts, type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { startTestCollector } from '../support/collector-harness.js'
import { expectedTotals, type FleetRequest, makeFleetRequests } from './fleet.js'
import {
  CLI_PATH,
  type CollectorProcess,
  countSpans,
  eventually,
  expectedLeaderboard,
  FULL,
  leaderboard,
  percentile,
  prepareDatabase,
  report,
  sendUntilAcknowledged,
  sleep,
  startCollectorProcess,
} from './support.js'

const OUTAGE_MS = FULL ? 95_000 : 4000
/** The full form keeps the default refresh (10 s); the short one shortens it so the outage outlasts it. */
const KEY_REFRESH_MS = FULL ? 10_000 : 300
const SENDERS = 4
const REQUESTS_PER_SECOND_PER_SENDER = 10

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {})
})

it(`acknowledges every export through a ${OUTAGE_MS / 1000} s ClickHouse outage and counts exactly afterwards`, {
  timeout: FULL ? 1_500_000 : 300_000,
}, async () => {
  const [port] = await pickFreePorts(1)
  const clickhouseDir = mkdtempSync(join(tmpdir(), 'daa-outage-ch-'))
  cleanups.push(() => rmSync(clickhouseDir, { recursive: true, force: true }))
  let clickhouse: RunningClickHouse = await startClickHouseServer({ httpPort: port, dataDir: clickhouseDir })
  cleanups.push(() => clickhouse.stop())
  const target = await startTestCollector(clickhouse.url, {
    keyRefreshMs: KEY_REFRESH_MS,
    // The default batching (a log segment a second), not the harness's 50 ms: a 95 s outage then
    // leaves ~100 segments to replay, as it would in production.
    flushIntervalMs: 1000,
    replayIntervalMs: 200,
    rollupIntervalMs: 500,
  })
  cleanups.push(() => target.close())

  const total = Math.ceil(((OUTAGE_MS + 8000) / 1000) * SENDERS * REQUESTS_PER_SECOND_PER_SENDER * 1.2)
  const pool = makeFleetRequests(total, { agents: 30, runsPerRequest: 5, prefix: 'outage' })
  const sent: FleetRequest[] = []
  let next = 0
  let phase: 'before' | 'outage' | 'after' | 'done' = 'before'
  const firstAttempts = { before: [] as number[], outage: [] as number[], after: [] as number[] }
  const latencies: number[] = []
  const sender = async () => {
    while (phase !== 'done' && next < pool.length) {
      const request = pool[next++]!
      const during = phase as Exclude<typeof phase, 'done'>
      const result = await sendUntilAcknowledged(() => target.collector.url, target.apiKey, request.body)
      sent.push(request)
      firstAttempts[during].push(result.attempts[0] === 'network' ? 0 : result.attempts[0]!)
      latencies.push(result.latencyMs)
      await sleep(1000 / REQUESTS_PER_SECOND_PER_SENDER)
    }
  }
  const senders = Promise.all(Array.from({ length: SENDERS }, sender))

  await eventually(async () => expect(firstAttempts.before.length).toBeGreaterThanOrEqual(20), 60_000, 20)
  await clickhouse.stop()
  phase = 'outage'
  const outageStarted = performance.now()
  let readyDuringOutage: number | undefined
  while (performance.now() - outageStarted < OUTAGE_MS) {
    await sleep(500)
    readyDuringOutage = (await fetch(`${target.collector.url}/readyz`)).status
  }
  clickhouse = await startClickHouseServer({ httpPort: port, dataDir: clickhouseDir })
  phase = 'after'
  const backAt = performance.now()
  await eventually(async () => expect(firstAttempts.after.length).toBeGreaterThanOrEqual(20), 60_000, 20)
  phase = 'done'
  await senders

  // Every first attempt during the outage was acknowledged: the log carried it.
  expect(firstAttempts.outage.length).toBeGreaterThan(0)
  expect(firstAttempts.outage.filter((status) => status !== 200)).toEqual([])
  expect(readyDuringOutage).toBe(503)
  const expected = expectedTotals(sent)
  await eventually(
    async () =>
      expect(await leaderboard(target.collector.url, target.apiKey)).toEqual(expectedLeaderboard(expected)),
    FULL ? 900_000 : 180_000,
    1000,
  )
  expect(await countSpans(target.collector.store, target.projectId)).toBe(expected.spans)
  report('outage', {
    outageSeconds: OUTAGE_MS / 1000,
    keyRefreshMs: KEY_REFRESH_MS,
    requests: sent.length,
    acknowledgedDuringOutage: firstAttempts.outage.length,
    refusedDuringOutage: firstAttempts.outage.filter((status) => status !== 200).length,
    spans: expected.spans,
    exactAfterRestartMs: Math.round(performance.now() - backAt),
    ackLatencyP50Ms: Math.round(percentile(latencies, 50)),
    ackLatencyP99Ms: Math.round(percentile(latencies, 99)),
  })
})

/**
 * A collector that saw the `fleet` key is restarted while ClickHouse is away, after `meanwhile`
 * (given the running collector, the key of project `other` and the data directory): the fleet's
 * spans are still taken, and counted exactly once ClickHouse is back.
 */
async function knowsItsSendersThroughARestart(
  prefix: string,
  meanwhile: (running: { collector: CollectorProcess; otherKey: string; dataDir: string }) => Promise<void>,
  /** Checks on the restarted collector before the fleet sends to it. */
  restarted: (collector: CollectorProcess) => Promise<void> = async () => {},
) {
  const [clickhousePort, collectorPort] = await pickFreePorts(2)
  const clickhouseDir = mkdtempSync(join(tmpdir(), `daa-${prefix}-ch-`))
  const dataDir = mkdtempSync(join(tmpdir(), `daa-${prefix}-`))
  cleanups.push(() => rmSync(clickhouseDir, { recursive: true, force: true }))
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
  let clickhouse = await startClickHouseServer({ httpPort: clickhousePort, dataDir: clickhouseDir })
  cleanups.push(() => clickhouse.stop())
  const database = freshDatabaseName()
  const { keys } = await prepareDatabase(clickhouse.url, database, ['fleet', 'other'])
  const key = keys.fleet!
  const [first, ...later] = makeFleetRequests(4, { agents: 2, prefix })
  const start = () =>
    startCollectorProcess({ port: collectorPort!, dataDir, clickhouseUrl: clickhouse.url, database })
  let collector = await start()
  cleanups.push(() => collector.kill('SIGKILL'))
  expect((await sendUntilAcknowledged(() => collector.url, key, first!.body)).attempts.at(-1)).toBe(200)
  await meanwhile({ collector, otherKey: keys.other!, dataDir })
  await clickhouse.stop()
  collector = await start()
  await restarted(collector)
  for (const request of later) {
    const response = await fetch(`${collector.url}/v1/traces`, {
      method: 'POST',
      body: request.body,
      headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${key}` },
    })
    expect(response.status).toBe(200)
  }
  clickhouse = await startClickHouseServer({ httpPort: clickhousePort, dataDir: clickhouseDir })
  const expected = expectedTotals([first!, ...later])
  await eventually(
    async () => expect(await leaderboard(collector.url, key)).toEqual(expectedLeaderboard(expected)),
    180_000,
    500,
  )
  await collector.kill('SIGTERM')
  return { clickhouseUrl: clickhouse.url, database }
}

it('starts while ClickHouse is unreachable, takes known senders into its log, and catches up when it is back', {
  timeout: 300_000,
}, async () => {
  await knowsItsSendersThroughARestart(
    'restart',
    // A stop with ClickHouse up; it goes away, and the collector is restarted meanwhile (a host
    // reboot, a deploy).
    ({ collector }) => collector.kill('SIGTERM'),
    async (collector) => {
      expect(collector.output()).toMatch(/ClickHouse is unreachable.*Taking spans into the write-ahead log/s)
      expect((await fetch(`${collector.url}/readyz`)).status).toBe(503)
    },
  )
})

it('knows its senders after a kill -9 and a restart during an outage: their keys were saved as they were seen', {
  timeout: 300_000,
}, async () => {
  const { clickhouseUrl, database } = await knowsItsSendersThroughARestart(
    'outage-kill',
    async ({ collector, dataDir }) => {
      // The key's answer reaches the data directory on its own, soon after it was first seen; then
      // the process dies without a shutdown (the OOM killer, a power cut).
      await eventually(async () =>
        expect(readFileSync(join(dataDir, 'known-keys.json'), 'utf8')).toContain('fleet'),
      )
      await collector.kill('SIGKILL')
    },
  )
  // The restarted process took back its predecessor's refresh claim as the same collector (its id
  // is kept in the data directory), instead of waiting out the dead one's lease without refreshing.
  const store = await createServerStore({ url: clickhouseUrl, database })
  try {
    const holders = await store.query<{ holder: string }>(
      "SELECT DISTINCT holder FROM refresh_claims WHERE holder != ''",
    )
    expect(holders).toHaveLength(1)
  } finally {
    await store.close()
  }
})

it("knows its senders after another project's key was revoked through it", { timeout: 300_000 }, async () => {
  await knowsItsSendersThroughARestart('outage-revoke', async ({ collector, otherKey, dataDir }) => {
    expect(
      (await sendUntilAcknowledged(() => collector.url, otherKey, makeFleetRequests(1)[0]!.body)).attempts.at(
        -1,
      ),
    ).toBe(200)
    // An operator revokes the other project's key through the running collector (the CLI finds
    // it by its data directory): refused at once there, and only that key is forgotten.
    const revoked = await promisify(execFile)(CLI_PATH, ['keys', 'revoke', otherKey, '--data-dir', dataDir])
    expect(revoked.stdout).toMatch(/revoked key \w+ of project "other"/)
    const refused = await fetch(`${collector.url}/v1/traces`, {
      method: 'POST',
      body: makeFleetRequests(1)[0]!.body,
      headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${otherKey}` },
    })
    expect(refused.status).toBe(401)
    await collector.kill('SIGTERM')
  })
})
