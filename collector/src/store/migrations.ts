import {
  durationBucketsMigrationStatements,
  forcedMergesMigrationStatements,
  keyedLayersMigrationStatements,
  metricLayerMigrationStatements,
  PENDING_TRACES,
  pendingTracesMigrationStatements,
  personActivityMigrationStatements,
  ROLLUP_TABLES,
  RUN_SPANS,
  rollupCompressionMigrationStatements,
  rollupMigrationStatements,
  runLookupMigrationStatements,
  runSpansMigrationStatements,
  smallBlocksMigrationStatements,
} from '../queries/rollup-schema.js'
import {
  API_KEYS,
  type ClusterLayout,
  DEFAULT_RETENTION_DAYS,
  OUTCOMES,
  RUNS,
  type SchemaOptions,
  SPANS,
  type TableDefinition,
} from './schema.js'
import { quoteIdentifier, type Store } from './store.js'

/**
 * A numbered schema change. Statements must be idempotent (IF NOT EXISTS and friends): two
 * collectors may start at once, and `daa migrate` may run against a database that is current.
 */
export interface Migration {
  version: number
  name: string
  statements(context: MigrationContext): string[]
}

export interface MigrationContext extends SchemaOptions {
  database: string
  /** The retention the tables get (resolved: see SchemaOptions.retentionDays). */
  retentionDays: number
}

export interface MigrationReport {
  /** Versions applied by this call, in order; empty when the schema was already current. */
  applied: number[]
  /** The days the database keeps now (0: everything). */
  retentionDays: number
  /** The days it kept before this call; undefined for a new database. */
  previousRetentionDays: number | undefined
  /** Tables whose retention TTL was changed to match `retentionDays`. */
  retentionChanged: string[]
}

export const MIGRATIONS_TABLE = 'daa_migrations'

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'spans, runs, outcomes and api_keys',
    statements: (context) =>
      [SPANS, RUNS, OUTCOMES, API_KEYS].flatMap((table) => createTable(table, context)),
  },
  {
    version: 2,
    name: 'run_facts and the day rollups, run_changes log and its feeding views, rollup_refreshes',
    statements: (context) => rollupMigrationStatements(context),
  },
  {
    version: 3,
    name: 'keyed day rollups, trace_changes, refresh_claims, metric_refreshes and the run_summary view',
    statements: (context) => metricLayerMigrationStatements(context),
  },
  {
    version: 4,
    name: 'run_facts by quarter-hour, people by hashed person, small granules in every derived table',
    statements: (context) => keyedLayersMigrationStatements(context),
  },
  {
    version: 5,
    name: 'tighter run-id bloom filters on spans and runs; the spans change feed logs only spans that add to a run',
    statements: (context) => runLookupMigrationStatements(context),
  },
  {
    version: 6,
    name: 'people by person: person_quarters (copied from people_quarters) and person_activity',
    statements: (context) => personActivityMigrationStatements(context),
  },
  {
    version: 7,
    name: 'latency from duration buckets: run_duration_buckets in quarter_totals and bucket_totals',
    statements: (context) => durationBucketsMigrationStatements(context),
  },
  {
    version: 8,
    name: 'forced merges of agent_days, agent_day_units, person_activity and the bucket tables',
    statements: (context) => forcedMergesMigrationStatements(context),
  },
  {
    version: 9,
    name: 'small compressed blocks on run_facts, quarter_totals, quarter_outcomes and person_quarters',
    statements: (context) => smallBlocksMigrationStatements(context),
  },
  {
    version: 10,
    name: 'LZ4 instead of ZSTD(1) on every rollup column',
    statements: (context) => rollupCompressionMigrationStatements(context),
  },
  {
    version: 11,
    name: 'pending_traces: attribution reads only the changed traces that hold a span waiting for its run',
    statements: (context) => pendingTracesMigrationStatements(context),
  },
  {
    version: 12,
    name: 'run_spans: the spans that add to a run, sorted by run, so a refresh reads what changed',
    statements: (context) => runSpansMigrationStatements(context),
  },
]

/**
 * Tables whose rows expire after `retentionDays`: the raw data and every rollup built from it.
 * A function, because rollup-schema.ts imports this module back.
 */
const ttlTables = () =>
  [SPANS, RUNS, OUTCOMES, PENDING_TRACES, RUN_SPANS, ...ROLLUP_TABLES].filter((table) => table.ttlColumn)

function onCluster(cluster: ClusterLayout | undefined): string {
  return cluster?.replicated ? ` ON CLUSTER ${quoteIdentifier(cluster.name)}` : ''
}

function engineFor(table: TableDefinition, context: MigrationContext, localName: string): string {
  if (!context.cluster?.replicated) return table.engine
  // Explicit Keeper paths with the {shard}/{replica} macros every replicated cluster defines.
  const open = table.engine.indexOf('(')
  const family = table.engine.slice(0, open)
  const args = table.engine.slice(open + 1, -1)
  const path = `'/clickhouse/tables/{shard}/${context.database}/${localName}', '{replica}'`
  return `Replicated${family}(${path}${args ? `, ${args}` : ''})`
}

function ttlClause(column: string, retentionDays: number): string {
  return `toDateTime(${column}) + INTERVAL ${retentionDays} DAY`
}

function settingsClause(table: TableDefinition): string {
  const settings = [
    // Whole-day partitions expire together, so TTL can drop parts instead of rewriting them.
    table.ttlColumn && !table.ttlDeletesRows ? 'ttl_only_drop_parts = 1' : '',
    table.settings ?? '',
  ].filter(Boolean)
  return settings.length > 0 ? `SETTINGS ${settings.join(', ')}` : ''
}

/** DDL for one table: the table itself on a single node; local tables plus a Distributed table on a cluster. */
export function createTable(table: TableDefinition, context: MigrationContext): string[] {
  const distributed = context.cluster !== undefined && table.shardingKey !== undefined
  const localName = distributed ? `${table.name}_local` : table.name
  const body = [table.columns.trim(), ...(table.indexes ?? [])].join(',\n    ')
  const clauses = [
    `ENGINE = ${engineFor(table, context, localName)}`,
    table.partitionBy ? `PARTITION BY ${table.partitionBy}` : '',
    `ORDER BY ${table.orderBy}`,
    table.ttlColumn && context.retentionDays > 0
      ? `TTL ${ttlClause(table.ttlColumn, context.retentionDays)}`
      : '',
    settingsClause(table),
  ].filter(Boolean)
  const statements = [
    `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(localName)}${onCluster(context.cluster)} (\n    ${body}\n) ${clauses.join('\n')}`,
  ]
  if (distributed && context.cluster) {
    statements.push(
      `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(table.name)}${onCluster(context.cluster)} AS ${quoteIdentifier(localName)} ` +
        `ENGINE = Distributed(${quoteIdentifier(context.cluster.name)}, ${quoteIdentifier(context.database)}, ${quoteIdentifier(localName)}, ${table.shardingKey})`,
    )
  }
  return statements
}

/** The name of the table that holds rows: the local table on a cluster, else the table itself. */
function storageTableName(table: TableDefinition, context: Pick<SchemaOptions, 'cluster'>): string {
  return context.cluster && table.shardingKey ? `${table.name}_local` : table.name
}

async function appliedVersions(store: Store): Promise<Set<number>> {
  await store.command(
    `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version UInt32, name String, applied_at DateTime64(3) DEFAULT now64(3)) ` +
      'ENGINE = ReplacingMergeTree(applied_at) ORDER BY version',
  )
  const rows = await store.query<{ version: number }>(`SELECT DISTINCT version FROM ${MIGRATIONS_TABLE}`)
  return new Set(rows.map((row) => row.version))
}

/** A table's retention in days, read from its TTL (0 without one); undefined when there is no such table. */
async function tableRetention(store: Store, name: string): Promise<number | undefined> {
  const [row] = await store.query<{ engine_full: string }>(
    'SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {name:String}',
    { name },
  )
  if (!row) return undefined
  return Number(/TTL .*? \+ toIntervalDay\((\d+)\)/.exec(row.engine_full)?.[1] ?? 0)
}

/** Brings retention TTLs in line with `retentionDays` when it changed since the tables were made. */
async function applyRetention(store: Store, context: MigrationContext): Promise<string[]> {
  const changed: string[] = []
  for (const table of ttlTables()) {
    const name = storageTableName(table, context)
    const current = await tableRetention(store, name)
    if (current === undefined || !table.ttlColumn) continue
    if (current === context.retentionDays) continue
    const wanted = context.retentionDays > 0
    const alter = `ALTER TABLE ${quoteIdentifier(name)}${onCluster(context.cluster)}`
    await store.command(
      wanted
        ? `${alter} MODIFY TTL ${ttlClause(table.ttlColumn, context.retentionDays)}`
        : `${alter} REMOVE TTL`,
    )
    changed.push(name)
  }
  return changed
}

/**
 * Runs the migrations this database has not seen yet, then aligns retention: to
 * `options.retentionDays` when it is given, else to what the database's spans keep now, so that a
 * command run without the setting (`daa keys list`) never changes what is kept.
 */
export async function migrate(store: Store, options: SchemaOptions): Promise<MigrationReport> {
  const database = store.database
  const previousRetentionDays = await tableRetention(store, storageTableName(SPANS, options))
  const retentionDays = options.retentionDays ?? previousRetentionDays ?? DEFAULT_RETENTION_DAYS
  const context: MigrationContext = { ...options, database, retentionDays }
  const done = await appliedVersions(store)
  const applied: number[] = []
  for (const migration of MIGRATIONS) {
    if (done.has(migration.version)) continue
    for (const statement of migration.statements(context)) await store.command(statement)
    await store.insert(MIGRATIONS_TABLE, [{ version: migration.version, name: migration.name }])
    applied.push(migration.version)
  }
  const retentionChanged = await applyRetention(store, context)
  return { applied, retentionDays, previousRetentionDays, retentionChanged }
}

/**
 * Migrates a cluster without Keeper: the same DDL runs on every node, since ON CLUSTER needs
 * Keeper to coordinate. Each store must point at a different node of `options.cluster`.
 */
export async function migrateEachNode(
  stores: readonly Store[],
  options: SchemaOptions,
): Promise<MigrationReport[]> {
  const reports: MigrationReport[] = []
  for (const store of stores) reports.push(await migrate(store, options))
  return reports
}
