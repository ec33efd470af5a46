import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import { createCollector } from './app.js'
import { createApiKey } from './auth/api-keys.js'
import { localUrl, newAdminToken, removeAdminFile, writeAdminFile } from './cli/admin-file.js'
import { ensurePrivateDataDir } from './cli/data-dir.js'
import { type CollectorConfig, ConfigError } from './config.js'
import { DEFAULT_PRICES, type PriceTable, parsePriceTable } from './mapping/prices.js'
import { type OtlpGrpcServer, startOtlpGrpcServer } from './otlp/grpc-server.js'
import { describeRetentionChange, migrateConfigured, openStore } from './store/open-store.js'
import { type Store, StoreUnavailableError } from './store/store.js'

export interface RunningCollector {
  /** Base URL of the HTTP listener, e.g. http://127.0.0.1:4318 */
  url: string
  port: number
  /**
   * On the embedded engine, the key of the `default` project that a first start creates (kept in
   * `<dataDir>/default-api-key`), so a local setup can send spans without another step.
   */
  localApiKey: string | undefined
  /**
   * True when this start should print `localApiKey`: it created it, or the start that did failed
   * before listening (its port taken), so no start has shown it yet.
   */
  localApiKeyCreated: boolean
  /** The OTLP/gRPC port, or undefined when gRPC is disabled. */
  grpcPort: number | undefined
  store: Store
  /** Writes everything buffered to ClickHouse now. */
  flush(): Promise<void>
  /** Writes everything buffered, attributes late spans and refreshes the rollups now (instead of waiting for the loops). */
  settle(): Promise<void>
  /** Flushes what was acknowledged, stops listening and closes the store. */
  close(): Promise<void>
}

/** The price table `DAA_PRICES_FILE` names, or the built-in one. */
export async function loadPrices(file: string | undefined): Promise<PriceTable> {
  if (!file) return DEFAULT_PRICES
  try {
    return parsePriceTable(JSON.parse(await readFile(file, 'utf8')))
  } catch (error) {
    throw new ConfigError(
      `Invalid configuration:\n  pricesFile (DAA_PRICES_FILE): ${(error as Error).message}`,
    )
  }
}

/**
 * A local, embedded setup gets a key for project `default` on first start, so spans can be sent
 * at once. The plain key is kept beside the data (mode 0600); it is printed only the start that
 * creates it, so later logs never carry it.
 */
/** Beside a key file until a start that shows the key is listening (see ensureLocalApiKey). */
const NOT_SHOWN = '.not-shown'

async function ensureLocalApiKey(
  store: Store,
  dataDir: string,
): Promise<{ key: string | undefined; created: boolean }> {
  if (store.kind !== 'embedded') return { key: undefined, created: false }
  const file = join(dataDir, 'default-api-key')
  const saved = await readFile(file, 'utf8').catch(() => undefined)
  // A first start that failed before it could print the key (its port taken) left it unshown.
  if (saved?.trim()) return { key: saved.trim(), created: existsSync(`${file}${NOT_SHOWN}`) }
  const [existing] = await store.query<{ n: number }>('SELECT count() AS n FROM api_keys')
  if ((existing?.n ?? 0) > 0) return { key: undefined, created: false }
  const { key } = await createApiKey(store, 'default', 'local')
  await writeFile(`${file}${NOT_SHOWN}`, '', { mode: 0o600 })
  await writeFile(file, `${key}\n`, { mode: 0o600 })
  return { key, created: true }
}

/**
 * This data directory's collector id, made on its first start (`collector-id`): one process holds
 * the directory at a time (the write-ahead log's lock), so the id names one live collector, and a
 * restart after a crash is the same collector to the others sharing the refresh.
 */
async function collectorId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'collector-id')
  const saved = (await readFile(file, 'utf8').catch(() => ''))?.trim()
  if (saved) return saved
  const id = randomUUID()
  // A failed write (a full disk) costs only the quick take-over after a crash.
  await writeFile(file, `${id}\n`, { mode: 0o600 }).catch(() => {})
  return id
}

async function readTls(config: CollectorConfig): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (!config.tlsCert || !config.tlsKey) return undefined
  const read = async (file: string, key: 'tlsCert' | 'tlsKey', variable: string) => {
    try {
      return await readFile(file)
    } catch (error) {
      throw new ConfigError(`Invalid configuration:\n  ${key} (${variable}): ${(error as Error).message}`)
    }
  }
  return {
    cert: await read(config.tlsCert, 'tlsCert', 'DAA_TLS_CERT'),
    key: await read(config.tlsKey, 'tlsKey', 'DAA_TLS_KEY'),
  }
}

/** Why an address could not be taken; where another port would help, the setting that picks one. */
function listenError(error: NodeJS.ErrnoException, what: string, setting: string): Error {
  // grpc-js reports a port in use as "No address added … EADDRINUSE", without a code.
  const inUse = error.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(error.message)
  const reason = inUse
    ? 'the port is already in use'
    : error.code === 'EACCES'
      ? 'permission denied'
      : error.message
  const hint = inUse || error.code === 'EACCES' ? ` Choose another port with ${setting}.` : ''
  return new ConfigError(`Cannot listen for ${what}: ${reason}.${hint}`)
}

/** How often a collector that started while ClickHouse was unreachable checks the schema again. */
const MIGRATE_RETRY_MS = 3000

/** Opens the configured store, migrates it, and serves OTLP/HTTP, the API and OTLP/gRPC. */
export async function startCollectorServer(config: CollectorConfig): Promise<RunningCollector> {
  const prices = await loadPrices(config.pricesFile)
  const tls = await readTls(config)
  await ensurePrivateDataDir(config.dataDir)
  const store = await openStore(config)
  let localApiKey: { key: string | undefined; created: boolean } = { key: undefined, created: false }
  let migrating: NodeJS.Timeout | undefined
  // Spans older than this are refused (they would expire at once). Until the database has said
  // what it keeps (an outage at start), only a retention given to this process is applied.
  let retentionDays = config.retentionDays ?? 0
  try {
    const report = await migrateConfigured(store, config)
    retentionDays = report.retentionDays
    const change = describeRetentionChange(report)
    if (change) process.stderr.write(`daa: ${change}.\n`)
    localApiKey = await ensureLocalApiKey(store, config.dataDir)
  } catch (error) {
    // A ClickHouse server that does not answer now (an outage, a restart of both) must not stop
    // ingestion: the collector starts, takes its known senders' spans into its log (their keys are
    // remembered in the data directory) and answers /readyz 503, and the schema is checked again
    // every few seconds; the log drains once ClickHouse is back and migrated.
    if (!(error instanceof StoreUnavailableError) || store.kind === 'embedded') {
      await store.close()
      throw error
    }
    process.stderr.write(
      `daa: ${error.message}. Taking spans into the write-ahead log meanwhile (senders whose key this collector has seen before); the schema is checked again every ${MIGRATE_RETRY_MS / 1000} s.\n`,
    )
    const retry = () => {
      migrating = setTimeout(() => {
        migrateConfigured(store, config).then(
          () => {
            migrating = undefined
            process.stderr.write('daa: ClickHouse answers again; the schema is up to date.\n')
          },
          (retryError: unknown) => {
            if (!(retryError instanceof StoreUnavailableError))
              process.stderr.write(`daa: migrating failed: ${(retryError as Error).message}\n`)
            retry()
          },
        )
      }, MIGRATE_RETRY_MS)
      migrating.unref()
    }
    retry()
  }
  const adminToken = newAdminToken()
  const collector = await createCollector({
    store,
    adminToken,
    prices,
    retentionDays,
    refreshHolder: await collectorId(config.dataDir),
    walDir: join(config.dataDir, 'wal'),
    deadLetterDir: join(config.dataDir, 'dead-letter'),
    maxBodyBytes: Math.floor(config.maxBodyMb * 1024 * 1024),
    flushIntervalMs: config.flushIntervalMs,
    maxBatchSpans: config.maxBatchSpans,
    replayIntervalMs: config.replayIntervalMs,
    rollupIntervalMs: config.rollupIntervalMs,
    maxBufferedBytes: Math.floor(config.maxBufferMb * 1024 * 1024),
    maxLogBytes: Math.floor(config.maxLogMb * 1024 * 1024),
    ingestWorkers: config.ingestWorkers,
    keys: {
      cacheFile: join(config.dataDir, 'known-keys.json'),
      refreshMs: config.keyRefreshMs,
      rateLimit: { requestsPerSecond: config.rateLimitRps, burst: config.rateLimitBurst },
    },
    queryLimits: {
      maxExecutionSeconds: config.queryTimeoutS,
      maxMemoryBytes: Math.floor(config.queryMaxMemoryMb * 1024 * 1024),
    },
  })
  const server = tls
    ? serve({
        fetch: collector.app.fetch,
        port: config.port,
        hostname: config.host,
        createServer: createHttpsServer,
        serverOptions: { cert: tls.cert, key: tls.key },
      })
    : serve({ fetch: collector.app.fetch, port: config.port, hostname: config.host })
  let grpc: OtlpGrpcServer | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve)
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          listenError(error, `OTLP/HTTP and the API on ${config.host}:${config.port}`, '--port (DAA_PORT)'),
        ),
      )
    })
    if (config.grpcPort >= 0) {
      grpc = await startOtlpGrpcServer({
        host: config.host,
        port: config.grpcPort,
        maxReceiveMessageBytes: Math.floor(config.maxBodyMb * 1024 * 1024),
        handleExport: collector.handleExport,
        ...(tls ? { tls } : {}),
      }).catch((error: NodeJS.ErrnoException) => {
        throw listenError(
          error,
          `OTLP/gRPC on ${config.host}:${config.grpcPort}`,
          '--grpc-port (DAA_GRPC_PORT), or -1 to turn gRPC off',
        )
      })
    }
  } catch (error) {
    // A port that cannot be taken (most often 4318 or 4317, held by another collector or an
    // OpenTelemetry Collector) stops the start cleanly: nothing was acknowledged yet, and the log's
    // lock, the worker threads and the database are released before the error reaches the user,
    // so the next start is not refused for a lock a dead start still holds.
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))
    await collector.shutdown()
    clearTimeout(migrating)
    await store.close()
    throw error
  }
  const { port } = server.address() as AddressInfo
  // The CLI's way in while this process holds the data directory (see cli/admin-file.ts). Not
  // needed to take spans: a disk too full for it (a log that filled it while ClickHouse was away)
  // must not keep the collector from starting and draining that log.
  await writeAdminFile(config.dataDir, {
    url: localUrl(config.host, port, tls ? 'https' : 'http'),
    pid: process.pid,
    token: adminToken,
  }).catch((error: NodeJS.ErrnoException) =>
    process.stderr.write(
      `daa: could not write ${join(config.dataDir, 'admin.json')} (${error.code ?? error.message}): the daa CLI will not reach this collector; spans are taken as usual\n`,
    ),
  )
  // Listening: this start's caller prints the key (`localApiKeyCreated`), so later starts need not.
  if (localApiKey.created) await rm(join(config.dataDir, `default-api-key${NOT_SHOWN}`), { force: true })
  let closing: Promise<void> | undefined
  return {
    url: `${tls ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    grpcPort: grpc?.port,
    localApiKey: localApiKey.key,
    localApiKeyCreated: localApiKey.created,
    store,
    flush: () => collector.flush(),
    async settle() {
      await collector.flush()
      await collector.maintain()
    },
    close() {
      closing ??= (async () => {
        // Stop taking connections first, but flush before waiting for them: requests in flight
        // are waiting for exactly that flush to be acknowledged.
        const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()))
        const grpcClosed = grpc?.close()
        await collector.shutdown()
        if ('closeIdleConnections' in server) server.closeIdleConnections()
        // Every request still open was answered by now (or refused: the collector is shut):
        // connections that linger past a grace period are cut rather than waited for.
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          Promise.all([httpClosed, grpcClosed]),
          new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              if ('closeAllConnections' in server) server.closeAllConnections()
              resolve()
            }, 5000)
            timer.unref()
          }),
        ])
        clearTimeout(timer)
        await removeAdminFile(config.dataDir, adminToken)
        clearTimeout(migrating)
        await store.close()
      })()
      return closing
    },
  }
}
