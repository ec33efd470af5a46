/** The golden suite through one collector on the embedded engine (chDB), as `npm start` runs it. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, startCollectorServer } from '@daa/collector'
import { describeIngestedGolden } from './golden-ingest-suite.js'

describeIngestedGolden(
  'one collector on the embedded engine',
  async () => {
    // chDB allows one data directory per process: this file is its own process.
    const dataDir = mkdtempSync(join(tmpdir(), 'daa-golden-'))
    const collector = await startCollectorServer(
      loadConfig({ host: '127.0.0.1', port: 0, grpcPort: 0, dataDir, flushIntervalMs: 50 }, {}),
    )
    return {
      collectors: [collector.url],
      store: collector.store,
      dispose: async () => {
        await collector.close()
        rmSync(dataDir, { recursive: true, force: true })
      },
    }
  },
  { timeZones: ['UTC', 'America/Los_Angeles', 'Asia/Kolkata', 'Australia/Sydney'] },
)
