/**
 * SIGKILL under load: the collector process is killed without warning several times while
 * senders that retry keep exporting a realistic fleet. Every acknowledged span must be in
 * ClickHouse exactly once, and the fleet's metrics (runs and deliveries per agent, through the
 * metrics API) exact.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServerStore } from '@daa/collector'
import { afterAll, expect, it } from 'vitest'
import { freshDatabaseName } from '../contract/store-contract.js'
import { pickFreePorts, startClickHouseServer } from '../support/clickhouse-server.js'
import { expectedTotals, makeFleetRequests } from './fleet.js'
import {
  type CollectorProcess,
  countSpans,
  eventually,
  expectedLeaderboard,
  FULL,
  leaderboard,
  prepareDatabase,
  report,
  sendUntilAcknowledged,
  startCollectorProcess,
} from './support.js'

const REQUESTS = FULL ? 3000 : 240
const KILLS = FULL ? 10 : 3
const SENDERS = 8

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {})
})

it(`keeps every acknowledged span exactly once through ${KILLS} SIGKILLs under load`, {
  timeout: FULL ? 900_000 : 240_000,
}, async () => {
  const clickhouse = await startClickHouseServer()
  cleanups.push(() => clickhouse.stop())
  const database = freshDatabaseName()
  const { keys } = await prepareDatabase(clickhouse.url, database)
  const apiKey = keys.fleet!
  const dataDir = mkdtempSync(join(tmpdir(), 'daa-sigkill-'))
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
  const [port] = await pickFreePorts(1)
  const start = () =>
    startCollectorProcess({
      port: port!,
      dataDir,
      clickhouseUrl: clickhouse.url,
      database,
      env: { DAA_ROLLUP_INTERVAL_MS: '1000' },
    })
  let collector: CollectorProcess = await start()
  cleanups.push(() => collector.kill('SIGKILL'))

  // Owner-only files: the data directory is 0700 and the log's files are not readable by others.
  expect(statSync(dataDir).mode & 0o777).toBe(0o700)

  const requests = makeFleetRequests(REQUESTS, { agents: 25, runsPerRequest: 5, prefix: 'fleet' })
  const expected = expectedTotals(requests)
  let next = 0
  let acknowledged = 0
  let retried = 0
  let networkFailures = 0
  const sender = async () => {
    while (next < requests.length) {
      const request = requests[next++]!
      const result = await sendUntilAcknowledged(() => collector.url, apiKey, request.body)
      acknowledged++
      if (result.attempts.length > 1) retried++
      networkFailures += result.attempts.filter((status) => status === 'network').length
    }
  }
  const senders = Promise.all(Array.from({ length: SENDERS }, sender))

  const restartsMs: number[] = []
  for (let kill = 1; kill <= KILLS; kill++) {
    // Kill at evenly spaced points of the load, whatever the machine's speed.
    const threshold = Math.floor((requests.length * kill) / (KILLS + 1))
    await eventually(async () => expect(acknowledged).toBeGreaterThanOrEqual(threshold), 300_000, 20)
    const walFiles = readdirSync(join(dataDir, 'wal')).map((name) => statSync(join(dataDir, 'wal', name)))
    for (const file of walFiles) if (file.isFile()) expect(file.mode & 0o077).toBe(0)
    await collector.kill('SIGKILL')
    const restarted = performance.now()
    collector = await start()
    restartsMs.push(Math.round(performance.now() - restarted))
  }
  await senders
  expect(acknowledged).toBe(requests.length)

  const settledFrom = performance.now()
  await eventually(
    async () => expect(await leaderboard(collector.url, apiKey)).toEqual(expectedLeaderboard(expected)),
    180_000,
    500,
  )
  const store = await createServerStore({ url: clickhouse.url, database })
  cleanups.push(() => store.close())
  expect(await countSpans(store, 'fleet')).toBe(expected.spans)
  report('sigkill', {
    kills: KILLS,
    requests: requests.length,
    spans: expected.spans,
    runs: [...expected.runs.values()].reduce((a, b) => a + b, 0),
    agents: expected.runs.size,
    requestsRetried: retried,
    failedConnections: networkFailures,
    restartMsMedian: restartsMs.sort((a, b) => a - b)[Math.floor(restartsMs.length / 2)],
    exactAfterMs: Math.round(performance.now() - settledFrom),
  })
})
