import { join } from 'node:path'
import { Hono } from 'hono'
import { ApiKeyResolver } from './auth/api-keys.js'
import { registerAdminRoutes } from './http/admin-route.js'
import type { CollectorEnv } from './http/collector-env.js'
import { errorResponse } from './http/error-response.js'
import { registerOtlpHttpRoute } from './http/otlp-http-route.js'
import { acceptExport, authenticate, materializeRecord } from './ingest/export-handler.js'
import { createIngestMetrics, type IngestMetrics } from './ingest/ingest-metrics.js'
import { IngestPipeline, type IngestPipelineOptions } from './ingest/ingest-pipeline.js'
import { resolvePendingRuns } from './ingest/run-resolver.js'
import { WriteAheadLog } from './ingest/write-ahead-log.js'
import { DEFAULT_PRICES, type PriceTable } from './mapping/prices.js'
import { ExportRejectedError } from './otlp/errors.js'
import type { ExportHandler } from './otlp/grpc-server.js'
import { registerMetricsRoutes } from './queries/metrics-routes.js'
import { RECOMMENDED_REFRESH_INTERVAL_MS, refreshRollups, startRollupRefresher } from './queries/refresh.js'
import { MIGRATIONS, MIGRATIONS_TABLE } from './store/migrations.js'
import { type Store, StoreUnavailableError } from './store/store.js'

/** What the collector needs; every optional field is documented with its default. */
export interface CollectorOptions extends IngestPipelineOptions {
  /** Where spans go and metrics come from. Required; the collector does not close it. */
  store: Store
  /**
   * Directory of the write-ahead log: exports are acknowledged once logged there, and it holds
   * them until ClickHouse has them. Keep it on a persistent volume. Default `./.daa/wal`.
   */
  walDir?: string
  /** Model prices for spans that carry no `daa.cost.usd`. Default: an empty table (cost 0). */
  prices?: PriceTable
  /** Largest OTLP request accepted, after decompression. Default 64 MiB. */
  maxBodyBytes?: number
  /** How often late-arriving spans are attributed to their runs. Default 5000 ms; 0 disables the loop. */
  maintenanceIntervalMs?: number
  /** How often the metric rollups are brought up to date. Default 60000 ms; 0 disables the loop. */
  rollupIntervalMs?: number
  /** Receives unexpected errors (5xx). Default: written to stderr. */
  onError?: (error: unknown) => void
  /** Enables the admin API (`/admin/v1/…`, used by the `daa` CLI) for this credential. Default: no admin API. */
  adminToken?: string
}

export interface Collector {
  /** The Hono app: serve it with any adapter, or call `app.request()` in tests. */
  readonly app: Hono<CollectorEnv>
  readonly metrics: IngestMetrics
  /**
   * The transport-neutral export: authenticate, map, and resolve once durable. OTLP/gRPC calls it;
   * throws ExportRejectedError to refuse the whole request.
   */
  handleExport: ExportHandler
  /** Writes everything buffered now; resolves when it is durable. */
  flush(): Promise<void>
  /** Attributes late spans to their runs and refreshes the metric rollups now, instead of waiting for the loops. */
  maintain(): Promise<void>
  /** Stops accepting spans and makes everything acknowledged durable. Idempotent. */
  shutdown(): Promise<void>
}

const LATEST_MIGRATION = Math.max(...MIGRATIONS.map((migration) => migration.version))

function writeToStderr(error: unknown): void {
  process.stderr.write(
    `daa collector: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  )
}

/** Builds a collector. A factory, not a singleton: tests run several side by side. */
export async function createCollector(options: CollectorOptions): Promise<Collector> {
  const { store } = options
  const onError = options.onError ?? writeToStderr
  const metrics = createIngestMetrics()
  const prices = options.prices ?? DEFAULT_PRICES
  const log = await WriteAheadLog.open(options.walDir ?? join('.daa', 'wal'))
  const pipeline = new IngestPipeline(
    store,
    log,
    metrics,
    (record) => materializeRecord(prices, record),
    options,
  )
  // Exports acknowledged before a restart go to ClickHouse first.
  void pipeline.replay()
  const keys = new ApiKeyResolver(store)
  const app = new Hono<CollectorEnv>()

  app.onError((error, c) => {
    const response = errorResponse(error, c, onError)
    const transport = c.get('transport')
    if (transport) metrics.requests.inc({ transport, status: String(response.status) })
    return response
  })
  app.notFound((c) =>
    c.json({ error: { code: 'not_found', message: `No route for ${c.req.method} ${c.req.path}` } }, 404),
  )

  const ingest = { keys, pipeline, metrics, prices }
  registerOtlpHttpRoute(app, { ...ingest, maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 * 1024 })

  const handleExport: ExportHandler = async (request, metadata) => {
    try {
      const projectId = await authenticate(keys, metadata.authorization)
      const outcome = await acceptExport(
        ingest,
        { projectId, encoding: 'protobuf', body: metadata.body },
        request,
      )
      metrics.requests.inc({ transport: 'grpc', status: 'OK' })
      return outcome
    } catch (error) {
      metrics.requests.inc({
        transport: 'grpc',
        status: error instanceof ExportRejectedError ? error.kind : 'error',
      })
      throw error
    }
  }

  // The metrics API reads only the project of the caller's key; no parameter can name another.
  app.use('/api/*', async (c, next) => {
    c.set('projectId', await authenticate(keys, c.req.header('authorization')))
    await next()
  })
  registerMetricsRoutes(app, { store })
  if (options.adminToken) {
    registerAdminRoutes(app, {
      ...ingest,
      store,
      token: options.adminToken,
      maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 * 1024,
      settle: async () => {
        await pipeline.flushAll()
        await maintain()
      },
    })
  }

  app.get('/healthz', (c) => c.json({ status: 'ok' }))

  app.get('/readyz', async (c) => {
    if (!(await store.ping())) return c.json({ status: 'unavailable', clickhouse: 'unreachable' }, 503)
    const [row] = await store
      .query<{ version: number }>(`SELECT max(version) AS version FROM ${MIGRATIONS_TABLE}`)
      .catch(() => [])
    if ((row?.version ?? 0) < LATEST_MIGRATION) {
      return c.json({ status: 'unavailable', clickhouse: 'ok', migrations: 'pending' }, 503)
    }
    return c.json({ status: 'ready', clickhouse: 'ok', migrations: 'done', backend: store.kind })
  })

  app.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  )

  // ClickHouse being away is reported by /readyz and the log metrics, not as an error per tick.
  const reportUnlessUnavailable = (error: unknown) => {
    if (!(error instanceof StoreUnavailableError)) onError(error)
  }
  const maintain = async () => {
    await resolvePendingRuns(store)
    await refreshRollups(store)
  }
  const rollupInterval = options.rollupIntervalMs ?? RECOMMENDED_REFRESH_INTERVAL_MS
  const rollups =
    rollupInterval > 0
      ? startRollupRefresher(store, { intervalMs: rollupInterval, onError: reportUnlessUnavailable })
      : undefined
  let maintenance: Promise<void> | undefined
  const interval = options.maintenanceIntervalMs ?? 5000
  const maintenanceTimer =
    interval > 0
      ? setInterval(() => {
          maintenance ??= resolvePendingRuns(store)
            .then(() => undefined)
            .catch(reportUnlessUnavailable)
            .finally(() => {
              maintenance = undefined
            })
        }, interval)
      : undefined
  maintenanceTimer?.unref()

  let shuttingDown: Promise<void> | undefined
  return {
    app,
    metrics,
    handleExport,
    flush: () => pipeline.flushAll(),
    maintain,
    shutdown() {
      shuttingDown ??= (async () => {
        if (maintenanceTimer) clearInterval(maintenanceTimer)
        await pipeline.shutdown()
        await Promise.all([maintenance, rollups?.stop()])
      })()
      return shuttingDown
    },
  }
}
