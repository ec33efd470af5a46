import { createServerStore, migrate, StoreUnavailableError } from '@daa/collector'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pickFreePorts, type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { describeStoreContract, freshDatabaseName } from './store-contract.js'

let server: RunningClickHouse
beforeAll(async () => {
  server = await startClickHouseServer()
})
afterAll(() => server?.stop())

describeStoreContract('ClickHouse server', async () => {
  const store = await createServerStore({ url: server.url, database: freshDatabaseName() })
  return {
    store,
    schema: { retentionDays: 400 },
    migrate: (schema) => migrate(store, schema),
    dispose: async () => {
      await store.command(`DROP DATABASE IF EXISTS ${store.database}`)
      await store.close()
    },
  }
})

describe('ClickHouse server store', () => {
  it('reports an unreachable server as StoreUnavailableError on use, not a crash', async () => {
    const [port] = await pickFreePorts(1)
    // Created all the same, so that a collector can start during an outage and log what it takes.
    const store = await createServerStore({ url: `http://127.0.0.1:${port}`, requestTimeoutMs: 2000 })
    expect(await store.ping()).toBe(false)
    await expect(store.query('SELECT 1')).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.command('SELECT 1')).rejects.toBeInstanceOf(StoreUnavailableError)
    await store.close()
  })

  it('answers ping, and stops answering once closed', async () => {
    const store = await createServerStore({ url: server.url, database: freshDatabaseName() })
    expect(await store.ping()).toBe(true)
    await store.close()
    expect(await store.ping()).toBe(false)
  })
})
