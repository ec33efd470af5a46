import { createClient } from '@clickhouse/client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type RunningClickHouseCluster, startClickHouseCluster } from './clickhouse-cluster.js'

let cluster: RunningClickHouseCluster

beforeAll(async () => {
  const started = performance.now()
  cluster = await startClickHouseCluster({ shards: 2 })
  console.log(`ClickHouse cluster of 2 nodes started in ${Math.round(performance.now() - started)} ms`)
})
afterAll(() => cluster?.stop())

it('spreads inserts through a Distributed table over the shards and reads them back', async () => {
  const clients = cluster.nodes.map((node) => createClient({ url: node.url }))
  try {
    // No Keeper, so no ON CLUSTER: the same DDL runs on every node.
    for (const client of clients) {
      await client.command({ query: 'CREATE DATABASE IF NOT EXISTS daa' })
      await client.command({
        query: 'CREATE TABLE daa.events_local (id UInt32) ENGINE = MergeTree ORDER BY id',
      })
      await client.command({
        query: `CREATE TABLE daa.events AS daa.events_local
          ENGINE = Distributed('${cluster.clusterName}', daa, events_local, rand())`,
      })
    }

    const rows = 1000
    await clients[0]!.insert({
      table: 'daa.events',
      values: Array.from({ length: rows }, (_, id) => ({ id })),
      format: 'JSONEachRow',
      // Synchronous insert: rows are on the shards when insert() resolves, not queued in the background.
      clickhouse_settings: { distributed_foreground_insert: 1 },
    })

    const count = async (client: (typeof clients)[number], table: string) => {
      const result = await client.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' })
      const [row] = await result.json<{ n: string }>()
      return Number(row!.n)
    }
    for (const client of clients) expect(await count(client, 'daa.events')).toBe(rows)

    const perShard = await Promise.all(clients.map((client) => count(client, 'daa.events_local')))
    for (const n of perShard) expect(n).toBeGreaterThan(0)
    expect(perShard.reduce((a, b) => a + b, 0)).toBe(rows)
  } finally {
    await Promise.all(clients.map((client) => client.close()))
  }
})
