/**
 * Collectors sharing one ClickHouse take turns refreshing the metrics by claim. A collector that
 * shuts down hands its claim over at once: another one refreshes at its next tick rather than after
 * the 30 s lease, so restarting or scaling down a collector does not stall the metrics. The refresh
 * shows in the holder's /metrics.
 */
import { createServerStore, migrate, type Store } from '@daa/collector'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { holdsClaim, startRollupRefresher } from '../../collector/src/queries/index.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, startTestCollector } from '../support/collector-harness.js'

let clickhouse: RunningClickHouse
beforeAll(async () => {
  clickhouse = await startClickHouseServer()
}, 120_000)
afterAll(async () => {
  await clickhouse?.stop()
})

/** Resolves once a refresher finished a refresh: `holder`'s, or any but a manual one's. */
async function refreshedBy(store: Store, holder?: string): Promise<void> {
  for (;;) {
    const [row] = await store.query<{ n: number }>(
      `SELECT count() AS n FROM metric_refreshes WHERE ${holder ? 'holder = {holder:String}' : "holder != 'manual'"}`,
      { holder: holder ?? '' },
    )
    if (row!.n > 0) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

it('a collector that shuts down hands its claim over at once', async () => {
  let target: CollectorUnderTest | undefined
  let store: Store | undefined
  try {
    target = await startTestCollector(clickhouse.url, { rollupIntervalMs: 100 })
    // Another collector's view of the same database (the collector closes its own store).
    store = await createServerStore({ url: clickhouse.url, database: target.config.clickhouseDatabase })
    // The collector refreshes under its own claim: nobody else may refresh meanwhile.
    await refreshedBy(store)
    expect(await holdsClaim(store, 'another collector')).toBe(false)
    // Ops see the refresh in /metrics: how many, how long, and up to when the answers are fresh.
    const scrape = await (await fetch(`${target.collector.url}/metrics`)).text()
    expect(scrape).toMatch(/^daa_metric_refreshes_total\{mode="(full|incremental)"\} [1-9]/m)
    expect(scrape).toMatch(/^daa_metric_refresh_duration_seconds_count [1-9]/m)
    const covered = Number(/^daa_metric_refresh_covered_timestamp_seconds (\S+)/m.exec(scrape)?.[1])
    const [fresh] = await store.query<{ at: string }>(
      "SELECT toString(max(started_at)) AS at FROM metric_refreshes WHERE holder != 'manual'",
    )
    expect(covered).toBeGreaterThan(0)
    expect(covered).toBeLessThanOrEqual(Date.parse(`${fresh!.at.replace(' ', 'T')}Z`) / 1000)

    await target.collector.close()
    // Well inside the lease of the claim it held until now.
    expect(await holdsClaim(store, 'another collector')).toBe(true)
  } finally {
    await store?.close()
    await target?.close()
  }
})

it('a refresher that stops without the claim leaves the holder its claim', async () => {
  const store = await createServerStore({ url: clickhouse.url, database: 'claims' })
  try {
    await migrate(store, { retentionDays: 0 })
    const holder = startRollupRefresher(store, { intervalMs: 100, holder: 'holder' })
    await refreshedBy(store, 'holder')
    const waiting = startRollupRefresher(store, { intervalMs: 100, holder: 'waiting' })
    await waiting.stop()
    expect(await holdsClaim(store, 'third')).toBe(false)

    await holder.stop()
    expect(await holdsClaim(store, 'third')).toBe(true)
  } finally {
    await store.close()
  }
})
