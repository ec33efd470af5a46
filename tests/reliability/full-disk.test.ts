/**
 * A full disk under the write-ahead log, two ways:
 * - the collector's data directory is a 4 MiB tmpfs (mounting it needs root), filled to the last
 *   few KiB while a realistic fleet sends;
 * - the collector process runs under a file-size limit (`prlimit --fsize`), so every log segment
 *   hits it mid-record (a short write).
 * Expected: clear 503s (retry later), no acknowledged span lost, and recovery once space returns.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServerStore } from '@daa/collector'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { freshDatabaseName } from '../contract/store-contract.js'
import { pickFreePorts, type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, startTestCollector } from '../support/collector-harness.js'
import { expectedTotals, makeFleetRequests } from './fleet.js'
import {
  countSpans,
  eventually,
  expectedLeaderboard,
  FULL,
  leaderboard,
  prepareDatabase,
  report,
  sendUntilAcknowledged,
  sleep,
  startCollectorProcess,
} from './support.js'

const REQUESTS = FULL ? 1500 : 100
const SENDERS = 4

let clickhouse: RunningClickHouse
let target: CollectorUnderTest | undefined

/** A 4 MiB tmpfs, when this process may mount one (root or CAP_SYS_ADMIN); else undefined. */
const mountPoint = ((): string | undefined => {
  const dir = mkdtempSync(join(tmpdir(), 'daa-full-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' })
    return dir
  } catch {
    rmSync(dir, { recursive: true, force: true })
    process.stdout.write(
      '[reliability] full-disk: cannot mount a tmpfs here (needs root); the file-size-limit form still runs\n',
    )
    return undefined
  }
})()

beforeAll(async () => {
  clickhouse = await startClickHouseServer()
})
afterAll(async () => {
  await target?.close().catch(() => {})
  await clickhouse?.stop()
  if (mountPoint) {
    execFileSync('umount', ['-l', mountPoint])
    rmSync(mountPoint, { recursive: true, force: true })
  }
})

function freeBytes(): number {
  const stats = statfsSync(mountPoint!)
  return stats.bavail * stats.bsize
}

it.skipIf(mountPoint === undefined)(
  'answers 503 while the disk is full, loses nothing acknowledged, and recovers when space returns',
  {
    timeout: FULL ? 600_000 : 180_000,
  },
  async () => {
    const dataDir = join(mountPoint!, 'daa')
    target = await startTestCollector(clickhouse.url, { dataDir, rollupIntervalMs: 500 })
    const filler = join(mountPoint!, 'filler')
    // Leave a few KiB: less than a handful of requests.
    writeFileSync(filler, Buffer.alloc(Math.max(0, freeBytes() - 12 * 1024)))

    const requests = makeFleetRequests(REQUESTS, { agents: 15, prefix: 'disk-fleet' })
    const expected = expectedTotals(requests)
    const collectorUrl = target.collector.url
    const apiKey = target.apiKey
    let next = 0
    let refused = 0
    let acknowledged = 0
    let reason = ''
    const statuses = new Map<number | string, number>()
    const sender = async () => {
      while (next < requests.length) {
        const request = requests[next++]!
        for (;;) {
          const response = await fetch(`${collectorUrl}/v1/traces`, {
            method: 'POST',
            body: request.body,
            headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${apiKey}` },
          })
          const text = Buffer.from(await response.arrayBuffer()).toString('latin1')
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
          if (response.status === 200) break
          // Only "retry later" answers are acceptable; a 500 or a 400 would lose the data.
          expect([429, 503]).toContain(response.status)
          if (response.status === 503) {
            refused++
            reason ||= text.replace(/[^\x20-\x7e]+/g, ' ').trim()
            expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0)
          }
          await sleep(100)
        }
        acknowledged++
      }
    }
    const senders = Promise.all(Array.from({ length: SENDERS }, sender))
    // Full: the senders get 503s. (Wait for the state itself, not a time.)
    await eventually(async () => expect(refused).toBeGreaterThanOrEqual(10), 120_000, 50)
    const acknowledgedWhileFull = acknowledged
    // Space returns.
    rmSync(filler)
    await senders
    expect(acknowledged).toBe(requests.length)
    expect(reason).toMatch(/disk|space|write|log/i)

    await eventually(async () =>
      expect(await leaderboard(target!.collector.url, target!.apiKey)).toEqual(expectedLeaderboard(expected)),
    )
    expect(await countSpans(target.collector.store, target.projectId)).toBe(expected.spans)
    report('full-disk', {
      filesystem: 'tmpfs 4 MiB',
      requests: requests.length,
      spans: expected.spans,
      acknowledgedWhileFull,
      refused503: refused,
      statuses: Object.fromEntries(statuses),
      reason: reason.slice(0, 160),
    })
  },
)

it('answers 503 at a file-size limit (short writes), and a restart replays every acknowledged span', {
  timeout: FULL ? 600_000 : 180_000,
}, async () => {
  // Its own ClickHouse, stopped while the fleet sends: everything acknowledged is then only in the
  // log, torn writes included, and must come back from it after a SIGKILL and a restart.
  const [clickhousePort] = await pickFreePorts(1)
  const clickhouseDir = mkdtempSync(join(tmpdir(), 'daa-fsize-ch-'))
  let ownClickhouse = await startClickHouseServer({ httpPort: clickhousePort, dataDir: clickhouseDir })
  const database = freshDatabaseName()
  const { keys } = await prepareDatabase(ownClickhouse.url, database)
  const apiKey = keys.fleet!
  const dataDir = mkdtempSync(join(tmpdir(), 'daa-fsize-'))
  const [port] = await pickFreePorts(1)
  const limitBytes = 32 * 1024
  const start = (wrapper?: string[]) =>
    startCollectorProcess({
      port: port!,
      dataDir,
      clickhouseUrl: ownClickhouse.url,
      database,
      // Batches seconds long, so a segment outgrows the limit before it is sealed.
      env: { DAA_ROLLUP_INTERVAL_MS: '500', DAA_FLUSH_INTERVAL_MS: '5000' },
      ...(wrapper ? { wrapper } : {}),
    })
  let collector = await start(['prlimit', `--fsize=${limitBytes}`])
  try {
    const requests = makeFleetRequests(REQUESTS / 2, { agents: 15, prefix: 'fsize-fleet' })
    const expected = expectedTotals(requests)
    // The key is known before ClickHouse goes away.
    await sendUntilAcknowledged(() => collector.url, apiKey, requests[0]!.body)
    await ownClickhouse.stop()
    let next = 1
    const attempts: (number | 'network')[] = []
    await Promise.all(
      Array.from({ length: SENDERS }, async () => {
        while (next < requests.length) {
          const request = requests[next++]!
          const result = await sendUntilAcknowledged(() => collector.url, apiKey, request.body, {
            maxWaitMs: 200,
          })
          attempts.push(...result.attempts)
        }
      }),
    )
    const refused = attempts.filter((status) => status === 503).length
    expect(refused).toBeGreaterThan(0)
    expect(attempts.filter((status) => status === 'network')).toEqual([])

    await collector.kill('SIGKILL')
    ownClickhouse = await startClickHouseServer({ httpPort: clickhousePort, dataDir: clickhouseDir })
    collector = await start()
    await eventually(async () =>
      expect(await leaderboard(collector.url, apiKey)).toEqual(expectedLeaderboard(expected)),
    )
    // The writes cut by the limit were refused, never acknowledged: replay says so, and calls
    // nothing corrupt (an operator would otherwise look for lost data).
    expect(collector.output()).toMatch(
      /left out an incomplete record at its end \(a write that failed or was cut off, never acknowledged\)/,
    )
    expect(collector.output()).not.toMatch(/corrupt/)
    const store = await createServerStore({ url: ownClickhouse.url, database })
    try {
      expect(await countSpans(store, 'fleet')).toBe(expected.spans)
    } finally {
      await store.close()
    }
    report('file-size-limit', {
      limitBytes,
      requests: requests.length,
      spans: expected.spans,
      refused503: refused,
      attempts: attempts.length,
    })
  } finally {
    await collector.kill('SIGKILL')
    await ownClickhouse.stop()
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(clickhouseDir, { recursive: true, force: true })
  }
})
