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
  it('reports an unreachable server as StoreUnavailableError, not a crash', async () => {
    const [port] = await pickFreePorts(1)
    const error = await createServerStore({ url: `http://127.0.0.1:${port}`, requestTimeoutMs: 2000 }).catch(
      (reason: unknown) => reason,
    )
    expect(error).toBeInstanceOf(StoreUnavailableError)
  })

  it('answers ping, and stops answering once closed', async () => {
    const store = await createServerStore({ url: server.url, database: freshDatabaseName() })
    expect(await store.ping()).toBe(true)
    await store.close()
    expect(await store.ping()).toBe(false)
  })
})
