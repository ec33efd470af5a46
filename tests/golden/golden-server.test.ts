import { randomUUID } from 'node:crypto'
import { createServerStore } from '@daa/collector'
import { afterAll, beforeAll } from 'vitest'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { describeGoldenSuite } from './golden-suite.js'

let server: RunningClickHouse
beforeAll(async () => {
  server = await startClickHouseServer()
})
afterAll(() => server?.stop())

describeGoldenSuite('ClickHouse server', async () => {
  const store = await createServerStore({ url: server.url, database: `golden_${randomUUID().slice(0, 8)}` })
  return {
    store,
    dispose: async () => {
      await store.command(`DROP DATABASE IF EXISTS ${store.database}`)
      await store.close()
    },
  }
})
