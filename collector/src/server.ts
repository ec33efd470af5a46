import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { createCollector } from './app.js'
import type { CollectorConfig } from './config.js'
import { migrateConfigured, openStore } from './store/open-store.js'
import type { Store } from './store/store.js'

export interface RunningCollector {
  /** Base URL of the HTTP listener, e.g. http://127.0.0.1:4318 */
  url: string
  port: number
  store: Store
  /** Flushes what was acknowledged, stops listening and closes the store. */
  close(): Promise<void>
}

/** Opens the configured store, migrates it, and serves the collector over HTTP. */
export async function startCollectorServer(config: CollectorConfig): Promise<RunningCollector> {
  const store = await openStore(config)
  try {
    await migrateConfigured(store, config)
  } catch (error) {
    await store.close()
    throw error
  }
  const collector = createCollector({ store })
  const server = serve({ fetch: collector.app.fetch, port: config.port, hostname: config.host })
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  let closing: Promise<void> | undefined
  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    store,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()))
        await collector.shutdown()
        await store.close()
      })()
      return closing
    },
  }
}
