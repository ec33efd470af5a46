import { afterAll, beforeAll } from 'vitest'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { startTestCollector } from '../support/collector-harness.js'
import { describeIngestedGolden } from './golden-ingest-suite.js'

let server: RunningClickHouse
beforeAll(async () => {
  server = await startClickHouseServer()
})
afterAll(() => server?.stop())

describeIngestedGolden(
  'one collector on a ClickHouse server',
  async () => {
    const target = await startTestCollector(server.url)
    return {
      collectors: [target.collector.url],
      store: target.collector.store,
      dispose: () => target.close(),
    }
  },
  { checkRawPath: true },
)
