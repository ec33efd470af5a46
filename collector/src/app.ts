import { dirname, join } from 'node:path'
import { Hono } from 'hono'
import { compress } from 'hono/compress'
import { ApiKeyResolver, type ApiKeyResolverOptions } from './auth/api-keys.js'
import { DEFAULT_INGEST_WORKERS } from './config.js'
import { registerAdminRoutes } from './http/admin-route.js'
import type { CollectorEnv } from './http/collector-env.js'
import { registerDashboardRoute } from './http/dashboard-route.js'
import { errorResponse } from './http/error-response.js'
import { registerOtlpHttpRoute } from './http/otlp-http-route.js'
import { acceptExport, authenticate, DecodeLimiter, materializeRecord } from './ingest/export-handler.js'
import { createIngestMetrics, type IngestMetrics } from './ingest/ingest-metrics.js'
import { IngestPipeline, type IngestPipelineOptions } from './ingest/ingest-pipeline.js'
import { IngestWorkerPool } from './ingest/ingest-workers.js'
import { prepareInThread } from './ingest/prepare-request.js'
import { WriteAheadLog } from './ingest/write-ahead-log.js'
import { DEFAULT_PRICES, type PriceTable } from './mapping/prices.js'
import { ExportRejectedError } from './otlp/errors.js'
import type { ExportHandler } from './otlp/grpc-server.js'
import { registerMetricsRoutes } from './queries/metrics-routes.js'
import { RECOMMENDED_REFRESH_INTERVAL_MS, refreshRollups, startRollupRefresher } from './queries/refresh.js'
import type { QueryLimits } from './queries/run-saved-query.js'
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
  /**
   * The tables' retention (the schema's `retentionDays`): spans that started longer ago are rejected
   * with a reason rather than acknowledged and deleted by the TTL. Default 0: none rejected.
   */
  retentionDays?: number
  /** Largest OTLP request accepted, after decompression. Default 64 MiB. */
  maxBodyBytes?: number
  /**
   * How often this collector brings the metrics up to date (attributes late spans to their runs,
   * recomputes the runs and rollup keys that changed) while it holds the refresh claim; collectors
   * sharing a ClickHouse take turns. Default 1000 ms; 0 leaves it to other collectors.
   */
  rollupIntervalMs?: number
  /**
   * Who this collector is to the others it takes turns with at refreshing. Default: a new id per
   * process. A collector that keeps its data directory across restarts gives an id stored there
   * (the server does), so that after a crash it takes its claim back at once instead of waiting
   * out its dead predecessor's lease (30 s without fresh metrics).
   */
  refreshHolder?: string
  /**
   * API key cache and per-key rate limits. Default: keys re-checked every 10 s (the revocation
   * bound), served from cache for as long as ClickHouse is away; 1000 requests/s per key, bursts of 2000.
   */
  keys?: ApiKeyResolverOptions
  /** Time and memory limits of each metrics query. Default 30 s and 4 GiB. */
  queryLimits?: QueryLimits
  /**
   * Worker threads that decode, map and encode export requests, off the event loop. 0 does it on
   * the event loop (no threads). Default 1 (DEFAULT_INGEST_WORKERS, measured in docs/ingest-speed.md).
   */
  ingestWorkers?: number
  /**
   * Longest an ingest worker may take over one request before it is stopped and replaced (what it
   * held gets a retryable 503). Default 30,000 (JOB_TIMEOUT_MS in ingest/ingest-workers.ts).
   */
  ingestWorkerTimeoutMs?: number
  /** Requests read, decoded and mapped at once (including those waiting for a worker); more wait their turn. Default 4. */
  maxConcurrentDecodes?: number
  /** Requests waiting for a decode slot before new ones get 429. Default 256. */
  maxWaitingDecodes?: number
  /**
   * Longest shutdown() waits for ClickHouse to take what is buffered. Whatever it has not taken
   * by then stays in the write-ahead log for the next start. Default 10000 ms.
   */
  shutdownDeadlineMs?: number
  /** /readyz answers 503 once this many inserts in a row have failed while ClickHouse answers pings (a stuck log). Default 3. */
  stuckAfterFailures?: number
  /** Directory of the built-in dashboard page. Default: the installed @daa/dashboards package's build. */
  dashboardDir?: string
  /** Receives unexpected errors (5xx). Default: written to stderr. */
  onError?: (error: unknown) => void
  /** Enables the admin API (`/admin/v1/…`, used by the `daa` CLI) for this credential. Default: no admin API. */
  adminToken?: string
}

export interface Collector {
  /** The Hono app: serve it with any adapter, or call `app.request()` in tests. */
  readonly app: Hono<CollectorEnv>
  readonly metrics: IngestMetrics
  /** The ingest worker threads, for diagnostics; undefined with `ingestWorkers: 0`. */
  readonly ingestWorkers: IngestWorkerPool | undefined
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
  const walDir = options.walDir ?? join('.daa', 'wal')
  const log = await WriteAheadLog.open(walDir)
  const workerCount = Math.max(0, Math.floor(options.ingestWorkers ?? DEFAULT_INGEST_WORKERS))
  let workers: IngestWorkerPool | undefined
  try {
    workers =
      workerCount > 0
        ? await IngestWorkerPool.start({
            size: workerCount,
            prices,
            retentionDays: options.retentionDays ?? 0,
            onWarning: options.onWarning,
            onWorkerExit: () => metrics.ingestWorkerExits.inc(),
            jobTimeoutMs: options.ingestWorkerTimeoutMs,
          })
        : undefined
  } catch (error) {
    await log.close()
    throw error
  }
  const prepare = workers?.prepare ?? prepareInThread(prices, options.retentionDays ?? 0)
  const pipeline = new IngestPipeline(store, log, metrics, (record) => materializeRecord(prepare, record), {
    ...options,
    deadLetterDir: options.deadLetterDir ?? join(dirname(walDir), 'dead-letter'),
  })
  // Exports acknowledged before a restart go to ClickHouse first. (replay() never rejects.)
  void pipeline.replay()
  const keys = new ApiKeyResolver(store, options.keys)
  const app = new Hono<CollectorEnv>()
  // gzip for clients that accept it, on what is read (a leaderboard of 20,000 agents is 4.3 MB of
  // JSON, which a dashboard opened over a real network should not wait for: collector/docs/
  // metric-layer.md, "The page"), not on OTLP ingestion, whose answers are small and whose path is
  // hot. The streamed POST of several queries compresses its own lines (metrics-routes.ts).
  const gzipAnswers = compress()
  for (const path of ['/api/*', '/', '/assets/*', '/metrics']) app.use(path, gzipAnswers)

  // While the collector stops, each answer closes its connection: keep-alive senders reconnect
  // (to another collector, or this one restarted) instead of writing to a socket about to be cut.
  app.use(async (c, next) => {
    await next()
    if (pipeline.stopping.aborted) c.header('connection', 'close')
  })
  app.onError((error, c) => {
    const response = errorResponse(error, c, onError)
    const transport = c.get('transport')
    if (transport) metrics.requests.inc({ transport, status: String(response.status) })
    return response
  })
  app.notFound((c) =>
    c.json({ error: { code: 'not_found', message: `No route for ${c.req.method} ${c.req.path}` } }, 404),
  )

  const decodes = new DecodeLimiter(
    Math.max(1, options.maxConcurrentDecodes ?? 4),
    Math.max(0, options.maxWaitingDecodes ?? 256),
  )
  const ingest = { keys, pipeline, metrics, prepare, decodes }
  registerOtlpHttpRoute(app, { ...ingest, maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 * 1024 })

  const handleExport: ExportHandler = async (metadata) => {
    try {
      // The key is checked before the message is decoded.
      const projectId = await authenticate(keys, metadata.authorization)
      const outcome = await acceptExport(ingest, projectId, 'protobuf', () => metadata.body)
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
  registerMetricsRoutes(app, { store, queryLimits: options.queryLimits, onError })

  registerDashboardRoute(app, options.dashboardDir ? { pageDir: options.dashboardDir } : {})
  const rollupInterval = options.rollupIntervalMs ?? RECOMMENDED_REFRESH_INTERVAL_MS
  if (options.adminToken) {
    registerAdminRoutes(app, {
      ...ingest,
      store,
      token: options.adminToken,
      maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 * 1024,
      queryLimits: options.queryLimits,
      // With a refresher in this process the CLI reads what the API reads, as fresh as it is (each
      // answer says how fresh); without one (the CLI's own in-process collector) nobody else may
      // refresh, so a query first makes everything acknowledged visible.
      settle:
        rollupInterval > 0
          ? undefined
          : async () => {
              await pipeline.flushAll()
              await maintain()
            },
    })
  }

  app.get('/healthz', (c) => c.json({ status: 'ok' }))

  const stuckAfterFailures = Math.max(1, options.stuckAfterFailures ?? 3)
  const logReport = () => {
    const status = pipeline.status()
    return {
      segments: status.segments,
      bytes: status.bytes,
      oldestAgeSeconds: Math.round(status.oldestAgeSeconds),
      consecutiveFailures: status.consecutiveFailures,
      ...(status.lastError === undefined ? {} : { lastError: status.lastError }),
    }
  }
  app.get('/readyz', async (c) => {
    const log = logReport()
    if (!(await store.ping())) return c.json({ status: 'unavailable', clickhouse: 'unreachable', log }, 503)
    const [row] = await store
      .query<{ version: number }>(`SELECT max(version) AS version FROM ${MIGRATIONS_TABLE}`)
      .catch(() => [])
    if ((row?.version ?? 0) < LATEST_MIGRATION) {
      return c.json({ status: 'unavailable', clickhouse: 'ok', migrations: 'pending', log }, 503)
    }
    // ClickHouse answers, yet inserts keep failing: the log is stuck and grows. Say so.
    if (log.consecutiveFailures >= stuckAfterFailures) {
      return c.json({ status: 'stuck', clickhouse: 'ok', migrations: 'done', backend: store.kind, log }, 503)
    }
    return c.json({ status: 'ready', clickhouse: 'ok', migrations: 'done', backend: store.kind, log })
  })

  app.get('/metrics', async (c) => {
    const status = pipeline.status()
    metrics.walOldestAgeSeconds.set(status.oldestAgeSeconds)
    metrics.walConsecutiveFailures.set(status.consecutiveFailures)
    metrics.ingestWorkers.set(workers?.threads.length ?? 0)
    return c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType })
  })

  // ClickHouse being away is reported by /readyz and the log metrics, not as an error per tick.
  const reportUnlessUnavailable = (error: unknown) => {
    if (!(error instanceof StoreUnavailableError)) onError(error)
  }
  // One refresh does both: spans attributed to their runs, then the runs and rollup keys that changed.
  const maintain = async () => {
    await refreshRollups(store)
  }
  const rollups =
    rollupInterval > 0
      ? startRollupRefresher(store, {
          holder: options.refreshHolder,
          intervalMs: rollupInterval,
          onError: (error) => {
            metrics.refreshFailures.inc()
            reportUnlessUnavailable(error)
          },
          onRefreshed: (report) => {
            metrics.refreshes.inc({ mode: report.mode })
            metrics.refreshDuration.observe(report.elapsedMs / 1000)
            metrics.refreshRuns.inc(report.runsRefreshed)
            metrics.refreshCovered.set(report.startedAt.getTime() / 1000)
          },
        })
      : undefined

  let shuttingDown: Promise<void> | undefined
  return {
    app,
    metrics,
    ingestWorkers: workers,
    handleExport,
    flush: () => pipeline.flushAll(),
    maintain,
    shutdown() {
      shuttingDown ??= (async () => {
        const deadlineMs = options.shutdownDeadlineMs ?? 10_000
        await pipeline.shutdown(deadlineMs)
        // A key seen just now is remembered for a start during a ClickHouse outage.
        await keys.saveCache()
        // After the pipeline: a replay under way may still be preparing records in them.
        await workers?.close()
        // The refresh is idempotent and redone by the next start: it gets the same deadline, no more.
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          Promise.resolve(rollups?.stop()).catch(reportUnlessUnavailable),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, deadlineMs)
            timer.unref()
          }),
        ])
        clearTimeout(timer)
      })()
      return shuttingDown
    },
  }
}
