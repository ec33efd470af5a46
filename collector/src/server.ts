import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import { createCollector } from './app.js'
import { type CollectorConfig, ConfigError } from './config.js'
import { DEFAULT_PRICES, type PriceTable, parsePriceTable } from './mapping/prices.js'
import { startOtlpGrpcServer } from './otlp/grpc-server.js'
import { migrateConfigured, openStore } from './store/open-store.js'
import type { Store } from './store/store.js'

export interface RunningCollector {
  /** Base URL of the HTTP listener, e.g. http://127.0.0.1:4318 */
  url: string
  port: number
  /** The OTLP/gRPC port, or undefined when gRPC is disabled. */
  grpcPort: number | undefined
  store: Store
  /** Writes everything buffered and attributes late spans now (tests use it instead of waiting). */
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

/** Opens the configured store, migrates it, and serves OTLP/HTTP, the API and OTLP/gRPC. */
export async function startCollectorServer(config: CollectorConfig): Promise<RunningCollector> {
  const prices = await loadPrices(config.pricesFile)
  const store = await openStore(config)
  try {
    await migrateConfigured(store, config)
  } catch (error) {
    await store.close()
    throw error
  }
  const collector = await createCollector({
    store,
    prices,
    spoolDir: join(config.dataDir, 'spool'),
    maxBodyBytes: Math.floor(config.maxBodyMb * 1024 * 1024),
    flushIntervalMs: config.flushIntervalMs,
    maxBatchSpans: config.maxBatchSpans,
    replayIntervalMs: config.replayIntervalMs,
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
  let closing: Promise<void> | undefined
  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    grpcPort: grpc?.port,
    store,
    async settle() {
      await collector.flush()
      await collector.maintain()
    },
    close() {
      closing ??= (async () => {
        await Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), grpc?.close()])
        await collector.shutdown()
        await store.close()
      })()
      return closing
    },
  }
}
