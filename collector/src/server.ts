import { readFile, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import { createCollector } from './app.js'
import { createApiKey } from './auth/api-keys.js'
import { localUrl, newAdminToken, removeAdminFile, writeAdminFile } from './cli/admin-file.js'
import { type CollectorConfig, ConfigError } from './config.js'
import { DEFAULT_PRICES, type PriceTable, parsePriceTable } from './mapping/prices.js'
import { startOtlpGrpcServer } from './otlp/grpc-server.js'
import { migrateConfigured, openStore } from './store/open-store.js'
import type { Store } from './store/store.js'

export interface RunningCollector {
  /** Base URL of the HTTP listener, e.g. http://127.0.0.1:4318 */
  url: string
  port: number
  /**
   * On the embedded engine, the key of the `default` project that a first start creates (kept in
   * `<dataDir>/default-api-key`), so a local setup can send spans without another step.
   */
  localApiKey: string | undefined
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

async function loadPrices(file: string | undefined): Promise<PriceTable> {
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
 * at once. The plain key is kept beside the data (mode 0600), so each start can print it again.
 */
async function ensureLocalApiKey(store: Store, dataDir: string): Promise<string | undefined> {
  if (store.kind !== 'embedded') return undefined
  const file = join(dataDir, 'default-api-key')
  const saved = await readFile(file, 'utf8').catch(() => undefined)
  if (saved?.trim()) return saved.trim()
  const [existing] = await store.query<{ n: number }>('SELECT count() AS n FROM api_keys')
  if ((existing?.n ?? 0) > 0) return undefined
  const { key } = await createApiKey(store, 'default', 'local')
  await writeFile(file, `${key}\n`, { mode: 0o600 })
  return key
}

/** Opens the configured store, migrates it, and serves OTLP/HTTP, the API and OTLP/gRPC. */
export async function startCollectorServer(config: CollectorConfig): Promise<RunningCollector> {
  const prices = await loadPrices(config.pricesFile)
  const store = await openStore(config)
  let localApiKey: string | undefined
  try {
    await migrateConfigured(store, config)
    localApiKey = await ensureLocalApiKey(store, config.dataDir)
  } catch (error) {
    await store.close()
    throw error
  }
  const adminToken = newAdminToken()
  const collector = await createCollector({
    store,
    adminToken,
    prices,
    walDir: join(config.dataDir, 'wal'),
    maxBodyBytes: Math.floor(config.maxBodyMb * 1024 * 1024),
    flushIntervalMs: config.flushIntervalMs,
    maxBatchSpans: config.maxBatchSpans,
    replayIntervalMs: config.replayIntervalMs,
    rollupIntervalMs: config.rollupIntervalMs,
    maxBufferedBytes: Math.floor(config.maxBufferMb * 1024 * 1024),
  })
  const server = serve({ fetch: collector.app.fetch, port: config.port, hostname: config.host })
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const grpc =
    config.grpcPort >= 0
      ? await startOtlpGrpcServer({
          host: config.host,
          port: config.grpcPort,
          maxReceiveMessageBytes: Math.floor(config.maxBodyMb * 1024 * 1024),
          handleExport: collector.handleExport,
        })
      : undefined
  const { port } = server.address() as AddressInfo
  // The CLI's way in while this process holds the data directory (see cli/admin-file.ts).
  await writeAdminFile(config.dataDir, {
    url: localUrl(config.host, port),
    pid: process.pid,
    token: adminToken,
  })
  let closing: Promise<void> | undefined
  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    grpcPort: grpc?.port,
    localApiKey,
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
        await Promise.all([httpClosed, grpcClosed])
        await removeAdminFile(config.dataDir, adminToken)
        await store.close()
      })()
      return closing
    },
  }
}
