/**
 * A full disk under the write-ahead log: the collector's data directory is a 4 MiB tmpfs (this
 * needs root to mount), filled to the last few KiB while a realistic fleet sends. Expected: clear
 * 503s (retry later) while it is full, no acknowledged span lost, and recovery once space returns.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, startTestCollector } from '../support/collector-harness.js'
import { expectedTotals, makeFleetRequests } from './fleet.js'
import { countSpans, eventually, expectedLeaderboard, FULL, leaderboard, report, sleep } from './support.js'

const REQUESTS = FULL ? 1500 : 150
const SENDERS = 4

let mountPoint: string
let mounted = false
let clickhouse: RunningClickHouse
let target: CollectorUnderTest | undefined

beforeAll(async () => {
  mountPoint = mkdtempSync(join(tmpdir(), 'daa-full-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mountPoint], { stdio: 'pipe' })
    mounted = true
  } catch (error) {
    throw new Error(
      `The full-disk test mounts a 4 MiB tmpfs and needs root (or CAP_SYS_ADMIN): ${(error as Error).message}`,
    )
  }
  clickhouse = await startClickHouseServer()
})
afterAll(async () => {
  await target?.close().catch(() => {})
  await clickhouse?.stop()
  if (mounted) execFileSync('umount', ['-l', mountPoint])
  rmSync(mountPoint, { recursive: true, force: true })
})

function freeBytes(): number {
  const stats = statfsSync(mountPoint)
  return stats.bavail * stats.bsize
}

it('answers 503 while the disk is full, loses nothing acknowledged, and recovers when space returns', {
  timeout: FULL ? 600_000 : 180_000,
}, async () => {
  const dataDir = join(mountPoint, 'daa')
  target = await startTestCollector(clickhouse.url, { dataDir, rollupIntervalMs: 500 })
  const filler = join(mountPoint, 'filler')
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
})
