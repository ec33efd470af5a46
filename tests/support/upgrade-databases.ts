/**
 * For the upgrade tests: one ClickHouse server with two databases, `upgraded` (the test makes it an
 * older release's, then migrates it) and `fresh` (a new database to compare it with). Registers the
 * vitest hooks that start and stop them; read the stores inside tests.
 */
import { createServerStore, type Store } from '@daa/collector'
import { afterAll, beforeAll } from 'vitest'
import { type RunningClickHouse, startClickHouseServer } from './clickhouse-server.js'

export interface UpgradeDatabases {
  /** The database the test upgrades. */
  readonly upgraded: Store
  /** A new database, migrated to the current version. */
  readonly fresh: Store
}

/** `name` tells the two databases apart from other tests' (upgrade_<name>, fresh_<name>). */
export function useUpgradeDatabases(name: string): UpgradeDatabases {
  let clickhouse: RunningClickHouse | undefined
  let upgraded: Store | undefined
  let fresh: Store | undefined
  beforeAll(async () => {
    clickhouse = await startClickHouseServer()
    upgraded = await createServerStore({ url: clickhouse.url, database: `upgrade_${name}` })
    fresh = await createServerStore({ url: clickhouse.url, database: `fresh_${name}` })
  }, 120_000)
  afterAll(async () => {
    await upgraded?.close()
    await fresh?.close()
    await clickhouse?.stop()
  })
  return {
    get upgraded() {
      return upgraded!
    },
    get fresh() {
      return fresh!
    },
  }
}
