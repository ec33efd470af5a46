import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedStore, migrate } from '@daa/collector'
import { afterAll } from 'vitest'
import { describeStoreContract, freshDatabaseName } from './store-contract.js'

// chDB allows one data directory per process; each test gets a fresh database inside it.
const dataDir = mkdtempSync(join(tmpdir(), 'daa-embedded-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describeStoreContract('embedded (chDB)', async () => {
  const store = await createEmbeddedStore({ path: dataDir, database: freshDatabaseName() })
  return {
    store,
    schema: { retentionDays: 400 },
    migrate: (schema) => migrate(store, schema),
    dispose: () => store.close(),
  }
})
