import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedStore } from '@daa/collector'
import { afterAll } from 'vitest'
import { describeGoldenSuite } from './golden-suite.js'

// chDB allows one data directory per process: this file is its own process.
const dataDir = mkdtempSync(join(tmpdir(), 'daa-golden-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describeGoldenSuite('embedded (chDB)', async () => {
  const store = await createEmbeddedStore({ path: dataDir, database: `golden_${randomUUID().slice(0, 8)}` })
  return { store, dispose: () => store.close() }
})
