/**
 * The golden suite on the two-shard cluster (Distributed tables, no Keeper) with two collectors,
 * one per node, taking the requests in turn; both run their refreshers and take turns by claim.
 */
import { afterAll, beforeAll } from 'vitest'
import { type RunningClickHouseCluster, startClickHouseCluster } from '../support/clickhouse-cluster.js'
import { type CollectorUnderTest, startTestCollector } from '../support/collector-harness.js'
import { describeIngestedGolden } from './golden-ingest-suite.js'

let cluster: RunningClickHouseCluster
beforeAll(async () => {
  cluster = await startClickHouseCluster({ shards: 2 })
})
afterAll(() => cluster?.stop())

describeIngestedGolden(
  'two collectors on a two-shard cluster',
  async () => {
    const clusterConfig = {
      clickhouseCluster: cluster.clusterName,
      clickhouseClusterReplicated: 'false',
      clickhouseClusterNodes: cluster.nodes.map((node) => node.url).join(','),
    }
    const first: CollectorUnderTest = await startTestCollector(cluster.nodes[0]!.url, clusterConfig)
    const second = await startTestCollector(cluster.nodes[1]!.url, {
      ...clusterConfig,
      clickhouseDatabase: first.config.clickhouseDatabase,
    })
    return {
      collectors: [first.collector.url, second.collector.url],
      store: first.collector.store,
      dispose: async () => {
        // Both collectors first (their refreshers read every shard), then the database everywhere.
        await second.collector.close()
        await first.close()
        for (const node of cluster.nodes.slice(1)) {
          await fetch(
            `${node.url}/?query=${encodeURIComponent(`DROP DATABASE IF EXISTS ${first.config.clickhouseDatabase}`)}`,
            { method: 'POST' },
          ).catch(() => {})
        }
      },
    }
  },
  { timeZones: ['UTC', 'Asia/Kathmandu', 'Australia/Sydney', 'Europe/Berlin'] },
)
