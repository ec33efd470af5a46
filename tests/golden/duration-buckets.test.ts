/**
 * The duration buckets behind run-health's percentiles (collector/src/queries/durations.ts), run in
 * ClickHouse, against the definition computed here: the same bucket for every duration at the
 * edges of the buckets and at random, and every bucket's middle within 1/128 (0.78%, as the docs
 * say) of each duration in it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedStore, type Store } from '@daa/collector'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { DURATION_BUCKET_BITS, durationBucketSql } from '../../collector/src/queries/durations.js'
import { durationBucket } from './expected-metrics.js'

const dataDir = mkdtempSync(join(tmpdir(), 'daa-buckets-'))
let store: Store
beforeAll(async () => {
  store = await createEmbeddedStore({ path: dataDir, database: 'buckets' })
})
afterAll(async () => {
  await store?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

// Every power of two and its neighbours up to 2^53 ns (104 days), the first 300 durations, and
// durations spread at random over every magnitude.
const durations = [
  ...Array.from({ length: 300 }, (_, ns) => ns),
  ...Array.from({ length: 54 }, (_, bit) => [2 ** bit - 1, 2 ** bit, 2 ** bit + 1]).flat(),
  ...Array.from({ length: 2000 }, () => Math.floor(2 ** (Math.random() * 53))),
].filter((ns) => ns >= 0 && ns <= Number.MAX_SAFE_INTEGER)

it('gives every duration the bucket the definition gives it, within 0.78% of it', async () => {
  const rows = await store.query<{ duration: string; bucket: string }>(
    `SELECT toString(ns) AS duration, toString(${durationBucketSql('ns')}) AS bucket
     FROM (SELECT arrayJoin({durations:Array(UInt64)}) AS ns)`,
    { durations },
  )
  expect(rows.map((row) => row.duration)).toEqual(durations.map(String))
  expect(rows.map((row) => row.bucket)).toEqual(durations.map((ns) => String(durationBucket(ns))))
  const bound = 1 / 2 ** (DURATION_BUCKET_BITS + 1)
  for (const ns of durations) {
    const bucket = durationBucket(ns)
    if (ns < 2 ** DURATION_BUCKET_BITS) expect(bucket).toBe(ns)
    else expect(Math.abs(bucket - ns) / ns).toBeLessThanOrEqual(bound)
  }
})
