/**
 * ClickHouse users as a platform team sets them up: a read-only user (the kind the README gives
 * Grafana) given to the collector is named as the problem, with what to do instead.
 */
import { loadConfig, migrateConfigured, openStore } from '@daa/collector'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { freshDatabaseName } from '../contract/store-contract.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'

// Users in a config file replace the built-in `default`, so it is defined again here.
const USERS = `<clickhouse>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota><access_management>1</access_management></default>
    <reader><password>r3ad</password><networks><ip>127.0.0.1</ip></networks><profile>readonly</profile><quota>default</quota></reader>
  </users>
  <profiles><default/><readonly><readonly>1</readonly></readonly></profiles>
  <quotas><default/></quotas>
</clickhouse>
`

let clickhouse: RunningClickHouse
beforeAll(async () => {
  clickhouse = await startClickHouseServer({ configXml: USERS })
})
afterAll(() => clickhouse?.stop())

it('names a read-only ClickHouse user as the problem when the collector is given one', async () => {
  const config = loadConfig(
    {},
    {
      CLICKHOUSE_URL: clickhouse.url,
      CLICKHOUSE_USER: 'reader',
      CLICKHOUSE_PASSWORD: 'r3ad',
      CLICKHOUSE_DATABASE: freshDatabaseName(),
    },
  )
  // Whichever step meets it first: opening the database, or creating the tables.
  const opened = openStore(config).then(async (store) => {
    try {
      await migrateConfigured(store, config)
    } finally {
      await store.close()
    }
  })
  await expect(opened).rejects.toThrow(/The ClickHouse user "reader" is read-only .*give it a user that may/)
})
