/**
 * daa's tables, described once and turned into DDL for a single node or for a cluster.
 *
 * Layout choices (for billions of spans): partitions by day so retention drops whole parts,
 * ordering keys led by project so a tenant's queries read only its ranges, LowCardinality for
 * small vocabularies, ZSTD and Delta codecs for wide and time columns. Every table is a
 * ReplacingMergeTree keyed so that a retried request replaces rows instead of adding them:
 * queries read through `FINAL` or group by the key, so a retry is never counted twice.
 */

/** The retention of a database daa creates when none is asked for, in days. */
export const DEFAULT_RETENTION_DAYS = 400

/** How the tables are laid out across ClickHouse nodes. */
export interface SchemaOptions {
  /**
   * Days to keep spans, runs, outcomes and the rollups; 0 keeps them forever. Set, every table's
   * TTL is changed to it. Default: what the database keeps now (DEFAULT_RETENTION_DAYS for a new
   * one), so a process that was not told a retention never changes it.
   */
  retentionDays?: number
  /** Cluster layout; absent for a single node. */
  cluster?: ClusterLayout
}

export interface ClusterLayout {
  /** Cluster name from the server's `remote_servers`. */
  name: string
  /**
   * With Keeper: `ON CLUSTER` DDL and Replicated engines. Without Keeper: the migration runs on
   * every node in turn, with plain engines (ON CLUSTER needs Keeper to coordinate).
   */
  replicated: boolean
}

export interface TableDefinition {
  name: string
  columns: string
  /** The MergeTree family engine without the Replicated prefix, with its arguments. */
  engine: string
  orderBy: string
  partitionBy?: string
  /** Column expression that retention counts from; the table gets a TTL when set. */
  ttlColumn?: string
  /**
   * Whether retention deletes expired rows one by one (rewriting parts) rather than dropping whole
   * parts once all their rows expired. For a table not partitioned by time, whose parts never all
   * expire together. Default: false.
   */
  ttlDeletesRows?: boolean
  /** Sharding expression for the Distributed table; tables without one are not distributed. */
  shardingKey?: string
  indexes?: string[]
  /** Table settings for the SETTINGS clause, e.g. `index_granularity = 1024`. Default: none. */
  settings?: string
}

/** One line of a table's `columns`: the column's name and its whole definition, without the comma. */
export interface ColumnLine {
  name: string
  definition: string
}

/** A table's columns, one per line of its `columns` text, in order: the one parser of that text. */
export function columnLines(table: TableDefinition): ColumnLine[] {
  return table.columns
    .split('\n')
    .map((line) => line.trim().replace(/,$/, ''))
    .filter(Boolean)
    .map((definition) => ({ name: definition.split(/\s/, 1)[0]!, definition }))
}

const ATTRIBUTE_MAP = 'Map(LowCardinality(String), String) CODEC(ZSTD(1))'

/**
 * The run-id lookup index of spans, runs and run_facts. A refresh looks up the few hundred runs that
 * changed, by id, in tables sorted by time: a granule is skipped only when none of the ids may be
 * in it, so the false-positive rate must be tiny. At 1% and 250 ids, 92% of the granules pass
 * (measured at 100M spans: all 100M rows read, 7.2 s); at 0.01%, 2.5% do (13M rows, 1.2 s), for
 * about 2 KB of filter per 8,192-row granule.
 */
export const RUN_ID_INDEX = {
  name: 'idx_run_id',
  spec: 'run_id TYPE bloom_filter(0.0001) GRANULARITY 1',
} as const

/** RUN_ID_INDEX as a column-list entry of CREATE TABLE. */
export const RUN_ID_INDEX_DEFINITION = `INDEX ${RUN_ID_INDEX.name} ${RUN_ID_INDEX.spec}`

export const SPANS: TableDefinition = {
  name: 'spans',
  columns: `
    project_id LowCardinality(String),
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    parent_span_id String CODEC(ZSTD(1)),
    trace_state String CODEC(ZSTD(1)),
    span_name LowCardinality(String) CODEC(ZSTD(1)),
    span_kind LowCardinality(String) CODEC(ZSTD(1)),
    service_name LowCardinality(String) CODEC(ZSTD(1)),
    resource_attributes ${ATTRIBUTE_MAP},
    scope_name LowCardinality(String) CODEC(ZSTD(1)),
    scope_version LowCardinality(String) CODEC(ZSTD(1)),
    span_attributes ${ATTRIBUTE_MAP},
    duration_ns UInt64 CODEC(ZSTD(1)),
    status_code LowCardinality(String) CODEC(ZSTD(1)),
    status_message String CODEC(ZSTD(1)),
    events Nested(timestamp DateTime64(9), name LowCardinality(String), attributes Map(LowCardinality(String), String)) CODEC(ZSTD(1)),
    links Nested(trace_id String, span_id String, trace_state String, attributes Map(LowCardinality(String), String)) CODEC(ZSTD(1)),
    operation LowCardinality(String) CODEC(ZSTD(1)),
    run_id String CODEC(ZSTD(1)),
    agent_id String CODEC(ZSTD(1)),
    user_id String CODEC(ZSTD(1)),
    conversation_id String CODEC(ZSTD(1)),
    request_model LowCardinality(String) CODEC(ZSTD(1)),
    response_model LowCardinality(String) CODEC(ZSTD(1)),
    provider LowCardinality(String) CODEC(ZSTD(1)),
    tool_name LowCardinality(String) CODEC(ZSTD(1)),
    tool_call_id String CODEC(ZSTD(1)),
    input_tokens UInt64 CODEC(T64, ZSTD(1)),
    output_tokens UInt64 CODEC(T64, ZSTD(1)),
    cache_read_tokens UInt64 CODEC(T64, ZSTD(1)),
    cache_write_tokens UInt64 CODEC(T64, ZSTD(1)),
    reasoning_tokens UInt64 CODEC(T64, ZSTD(1)),
    cost_usd Float64 CODEC(ZSTD(1)),
    error_type LowCardinality(String) CODEC(ZSTD(1)),
    ingested_at DateTime64(3) DEFAULT now64(3) CODEC(Delta(8), ZSTD(1))`,
  engine: 'ReplacingMergeTree(ingested_at)',
  // A span's timestamp never changes, so the hour in the key keeps a retried span on the same key.
  orderBy: '(project_id, toStartOfHour(timestamp), trace_id, span_id)',
  partitionBy: 'toDate(timestamp)',
  ttlColumn: 'timestamp',
  shardingKey: 'cityHash64(project_id, trace_id)',
  indexes: ['INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1', RUN_ID_INDEX_DEFINITION],
}

export const RUNS: TableDefinition = {
  name: 'runs',
  columns: `
    project_id LowCardinality(String),
    run_id String CODEC(ZSTD(1)),
    trace_id String CODEC(ZSTD(1)),
    parent_run_id String CODEC(ZSTD(1)),
    agent_id String CODEC(ZSTD(1)),
    agent_name String CODEC(ZSTD(1)),
    agent_version LowCardinality(String) CODEC(ZSTD(1)),
    user_id String CODEC(ZSTD(1)),
    conversation_id String CODEC(ZSTD(1)),
    service_name LowCardinality(String) CODEC(ZSTD(1)),
    start_time DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    duration_ns UInt64 CODEC(ZSTD(1)),
    status_code LowCardinality(String) CODEC(ZSTD(1)),
    error_type LowCardinality(String) CODEC(ZSTD(1)),
    cost_usd Float64 CODEC(ZSTD(1)),
    ingested_at DateTime64(3) DEFAULT now64(3) CODEC(Delta(8), ZSTD(1))`,
  engine: 'ReplacingMergeTree(ingested_at)',
  orderBy: '(project_id, toDate(start_time), agent_id, run_id)',
  partitionBy: 'toDate(start_time)',
  ttlColumn: 'start_time',
  shardingKey: 'cityHash64(project_id, run_id)',
  indexes: [RUN_ID_INDEX_DEFINITION],
}

export const OUTCOMES: TableDefinition = {
  name: 'outcomes',
  columns: `
    project_id LowCardinality(String),
    run_id String CODEC(ZSTD(1)),
    status LowCardinality(String),
    value Float64 CODEC(ZSTD(1)),
    unit LowCardinality(String) CODEC(ZSTD(1)),
    reason String CODEC(ZSTD(1)),
    recorded_at DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    source_span_id String CODEC(ZSTD(1)),
    ingested_at DateTime64(3) DEFAULT now64(3) CODEC(Delta(8), ZSTD(1))`,
  engine: 'ReplacingMergeTree(ingested_at)',
  // Every recorded outcome is kept; the latest recorded_at of a run wins when queried.
  orderBy: '(project_id, run_id, recorded_at, source_span_id)',
  partitionBy: 'toYYYYMM(recorded_at)',
  ttlColumn: 'recorded_at',
  // Same key as runs, so a run and its outcomes live on the same shard and join locally.
  shardingKey: 'cityHash64(project_id, run_id)',
}

export const API_KEYS: TableDefinition = {
  name: 'api_keys',
  columns: `
    key_hash String,
    project_id String,
    name String,
    created_at DateTime64(3),
    revoked UInt8 DEFAULT 0,
    updated_at DateTime64(3) DEFAULT now64(3)`,
  engine: 'ReplacingMergeTree(updated_at)',
  orderBy: 'key_hash',
  shardingKey: 'cityHash64(key_hash)',
}
