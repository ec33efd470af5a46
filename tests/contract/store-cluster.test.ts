import {
  createServerStore,
  loadConfig,
  migrateConfigured,
  migrateEachNode,
  openStore,
  type Store,
} from '@daa/collector'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningClickHouseCluster, startClickHouseCluster } from '../support/clickhouse-cluster.js'
import { describeStoreContract, freshDatabaseName } from './store-contract.js'

let cluster: RunningClickHouseCluster
beforeAll(async () => {
  cluster = await startClickHouseCluster({ shards: 2 })
})
afterAll(() => cluster?.stop())

async function openNodes(database: string): Promise<Store[]> {
  return Promise.all(cluster.nodes.map((node) => createServerStore({ url: node.url, database })))
}

describeStoreContract('two-shard cluster (Distributed tables, no Keeper)', async () => {
  const database = freshDatabaseName()
  const nodes = await openNodes(database)
  const [store] = nodes as [Store, Store]
  return {
    store,
    schema: { retentionDays: 400, cluster: { name: cluster.clusterName, replicated: false } },
    migrate: async (schema) => {
      const reports = await migrateEachNode(nodes, schema)
      return reports[0]!
    },
    dispose: async () => {
      for (const node of nodes) {
        await node.command(`DROP DATABASE IF EXISTS ${database}`)
        await node.close()
      }
    },
  }
})

describe('two-shard cluster layout', () => {
  it('says what to set when a cluster without Keeper is configured as replicated', async () => {
    const database = freshDatabaseName()
    const config = loadConfig(
      {},
      {
        CLICKHOUSE_URL: cluster.nodes[0]!.url,
        CLICKHOUSE_DATABASE: database,
        CLICKHOUSE_CLUSTER: cluster.clusterName,
      },
    )
    const store = await openStore(config)
    try {
      await expect(migrateConfigured(store, config)).rejects.toThrow(
        /cannot run ON CLUSTER DDL .*Set CLICKHOUSE_CLUSTER_REPLICATED=false and CLICKHOUSE_CLUSTER_NODES/,
      )
    } finally {
      await store.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => {})
      await store.close()
    }
  })

  it('spreads spans over both shards and reads them all back through the Distributed table', async () => {
    const database = freshDatabaseName()
    const nodes = await openNodes(database)
    try {
      await migrateEachNode(nodes, {
        retentionDays: 400,
        cluster: { name: cluster.clusterName, replicated: false },
      })
      const rows = Array.from({ length: 200 }, (_, index) => ({
        project_id: 'p1',
        timestamp: '2026-11-28T10:00:00Z',
        trace_id: index.toString(16).padStart(32, '0'),
        span_id: index.toString(16).padStart(16, '0'),
      }))
      await nodes[0]!.insert('spans', rows)
      const perShard = await Promise.all(
        nodes.map((node) => node.query<{ n: number }>('SELECT count() AS n FROM spans_local')),
      )
      const counts = perShard.map(([row]) => row?.n ?? 0)
      expect(counts.every((n) => n > 0)).toBe(true)
      expect(counts.reduce((a, b) => a + b, 0)).toBe(200)
      for (const node of nodes) {
        const [total] = await node.query<{ n: number }>('SELECT count() AS n FROM spans')
        expect(total?.n).toBe(200)
      }
    } finally {
      for (const node of nodes) {
        await node.command(`DROP DATABASE IF EXISTS ${database}`)
        await node.close()
      }
    }
  })
})
