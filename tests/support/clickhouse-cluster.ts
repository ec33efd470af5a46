/**
 * Several real ClickHouse servers wired as one cluster (`daa_test`, one shard per node) for tests of
 * Distributed tables. There is no Keeper, so `ON CLUSTER` DDL and replicated engines are unavailable:
 * create the local tables node by node, then a Distributed table over them.
 */
import { pickFreePorts, type RunningClickHouse, startClickHouseServer } from './clickhouse-server.js'

export const CLUSTER_NAME = 'daa_test'

export interface ClickHouseClusterOptions {
  /** Number of nodes, each one shard with a single replica. Default: 2. */
  shards?: number
  /** Per-node start timeout, see startClickHouseServer. Default: 60000. */
  startTimeoutMs?: number
}

export interface RunningClickHouseCluster {
  clusterName: typeof CLUSTER_NAME
  /** One node per shard, in shard order; each has `tcpPort` set. */
  nodes: RunningClickHouse[]
  /** Stops every node. */
  stop(): Promise<void>
}

/** The `<remote_servers>` config every node shares: shard i is node i's native TCP port. */
function clusterConfigXml(tcpPorts: number[]): string {
  const shards = tcpPorts
    .map((port) => `<shard><replica><host>127.0.0.1</host><port>${port}</port></replica></shard>`)
    .join('\n      ')
  return `<clickhouse>
  <remote_servers>
    <${CLUSTER_NAME}>
      ${shards}
    </${CLUSTER_NAME}>
  </remote_servers>
</clickhouse>
`
}

export async function startClickHouseCluster(
  options: ClickHouseClusterOptions = {},
): Promise<RunningClickHouseCluster> {
  const shards = options.shards ?? 2
  // Every node's config names every node's TCP port, so all ports are picked before any node starts.
  const ports = await pickFreePorts(shards * 2)
  const httpPorts = ports.slice(0, shards)
  const tcpPorts = ports.slice(shards)
  const configXml = clusterConfigXml(tcpPorts)

  const started = await Promise.allSettled(
    httpPorts.map((httpPort, i) =>
      startClickHouseServer({
        httpPort,
        tcpPort: tcpPorts[i]!,
        configXml,
        ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
      }),
    ),
  )
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()))
  }
  const failure = started.find((result) => result.status === 'rejected')
  if (failure) {
    await stop()
    throw failure.reason
  }
  return { clusterName: CLUSTER_NAME, nodes, stop }
}
