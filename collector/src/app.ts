import { Hono } from 'hono'
import { MIGRATIONS, MIGRATIONS_TABLE } from './store/migrations.js'
import type { Store } from './store/store.js'

/** What the collector app needs; every field is documented with its default. */
export interface CollectorOptions {
  /** Where spans go and metrics come from. Required; the collector never closes it. */
  store: Store
}

export interface Collector {
  /** The Hono app: serve it with any adapter, or call `app.request()` in tests. */
  readonly app: Hono
  /** Stops accepting work and flushes everything acknowledged. Idempotent. */
  shutdown(): Promise<void>
}

const LATEST_MIGRATION = Math.max(...MIGRATIONS.map((migration) => migration.version))

/** Builds a collector. A factory, not a singleton: tests run several side by side. */
export function createCollector(options: CollectorOptions): Collector {
  const { store } = options
  const app = new Hono()

  app.get('/healthz', (c) => c.json({ status: 'ok' }))

  app.get('/readyz', async (c) => {
    const reachable = await store.ping()
    if (!reachable) return c.json({ status: 'unavailable', clickhouse: 'unreachable' }, 503)
    try {
      const [row] = await store.query<{ version: number }>(
        `SELECT max(version) AS version FROM ${MIGRATIONS_TABLE}`,
      )
      if ((row?.version ?? 0) < LATEST_MIGRATION) {
        return c.json({ status: 'unavailable', clickhouse: 'ok', migrations: 'pending' }, 503)
      }
    } catch {
      return c.json({ status: 'unavailable', clickhouse: 'ok', migrations: 'pending' }, 503)
    }
    return c.json({ status: 'ready', clickhouse: 'ok', migrations: 'done', backend: store.kind })
  })

  return {
    app,
    async shutdown() {},
  }
}
