import { join } from 'node:path'
import { type CollectorConfig, ConfigError } from '../config.js'
import { createEmbeddedStore } from './embedded-store.js'
import { type MigrationReport, migrate, migrateEachNode } from './migrations.js'
import type { SchemaOptions } from './schema.js'
import { createServerStore } from './server-store.js'
import { ClickHouseError, type Store } from './store.js'

type StoreConfig = Pick<
  CollectorConfig,
  | 'dataDir'
  | 'retentionDays'
  | 'clickhouseUrl'
  | 'clickhouseUser'
  | 'clickhousePassword'
  | 'clickhouseDatabase'
  | 'clickhouseCluster'
  | 'clickhouseClusterReplicated'
  | 'clickhouseClusterNodes'
>

/** Opens the store the configuration names: a ClickHouse server when CLICKHOUSE_URL is set, else embedded. */
export async function openStore(config: StoreConfig): Promise<Store> {
  if (config.clickhouseUrl) {
    return createServerStore({
      url: config.clickhouseUrl,
      username: config.clickhouseUser,
      password: config.clickhousePassword,
      database: config.clickhouseDatabase,
    }).catch((error: unknown) => {
      throw explainSetupError(error, config)
    })
  }
  return createEmbeddedStore({ path: join(config.dataDir, 'data'), database: config.clickhouseDatabase })
}

export function schemaOptions(config: StoreConfig): SchemaOptions {
  return {
    retentionDays: config.retentionDays,
    cluster: config.clickhouseCluster
      ? { name: config.clickhouseCluster, replicated: config.clickhouseClusterReplicated }
      : undefined,
  }
}

/**
 * Migrates the configured database. A cluster without Keeper is migrated node by node through
 * CLICKHOUSE_CLUSTER_NODES; otherwise the open store's connection does it (ON CLUSTER where replicated).
 */
export async function migrateConfigured(store: Store, config: StoreConfig): Promise<MigrationReport> {
  try {
    return await migrateAsConfigured(store, config)
  } catch (error) {
    throw explainSetupError(error, config)
  }
}

/**
 * ClickHouse's words for two set-up mistakes, with what to do about them: a cluster without
 * Keeper named as a replicated one, and a read-only user (such as the Grafana user the README
 * describes) given to something that writes.
 */
function explainSetupError(error: unknown, config: StoreConfig): unknown {
  if (!(error instanceof ClickHouseError)) return error
  if (
    config.clickhouseCluster &&
    /Replicated DDL queries are disabled|distributed_ddl/i.test(error.message)
  ) {
    return new ConfigError(
      `ClickHouse cannot run ON CLUSTER DDL on "${config.clickhouseCluster}" (${error.message.trim()}): ` +
        'it has no Keeper. Set CLICKHOUSE_CLUSTER_REPLICATED=false and CLICKHOUSE_CLUSTER_NODES to the HTTP URL of every node, so the schema is made node by node.',
    )
  }
  if (error.code === 164 || /readonly mode/i.test(error.message)) {
    return new ConfigError(
      `The ClickHouse user "${config.clickhouseUser}" is read-only (${error.message.trim()}): daa creates tables and writes, ` +
        'so give it a user that may (a read-only user is for Grafana and other readers).',
    )
  }
  return error
}

async function migrateAsConfigured(store: Store, config: StoreConfig): Promise<MigrationReport> {
  const options = schemaOptions(config)
  if (!options.cluster || options.cluster.replicated || !config.clickhouseClusterNodes?.length) {
    return migrate(store, options)
  }
  const nodes = await Promise.all(
    config.clickhouseClusterNodes.map((url) => openStore({ ...config, clickhouseUrl: url })),
  )
  try {
    const reports = await migrateEachNode(nodes, options)
    return {
      applied: [...new Set(reports.flatMap((report) => report.applied))],
      // Every node gets the same retention: the one asked for, else the first node's.
      retentionDays: reports[0]!.retentionDays,
      previousRetentionDays: reports[0]!.previousRetentionDays,
      retentionChanged: [...new Set(reports.flatMap((report) => report.retentionChanged))],
    }
  } finally {
    await Promise.all(nodes.map((node) => node.close()))
  }
}

/** A retention in words: `400 days`, or `everything kept` for 0. */
export function retentionText(days: number): string {
  return days === 0 ? 'everything kept' : `${days} days`
}

/** What a migration did to retention, for an operator's log; undefined when it changed nothing. */
export function describeRetentionChange(report: MigrationReport): string | undefined {
  if (report.retentionChanged.length === 0) return undefined
  const was =
    report.previousRetentionDays === undefined ? '' : ` (was ${retentionText(report.previousRetentionDays)})`
  return `retention set to ${retentionText(report.retentionDays)}${was} on ${report.retentionChanged.length} tables`
}
