/**
 * The pre-aggregation behind the saved queries: one row of facts per run.
 *
 * Every saved query is a question about runs (their day, agent, person, outcome, cost, tokens,
 * calls), so the rollup is `run_facts`: each run joined once with its spans' totals and its winning
 * outcome. Queries then read one narrow row per run instead of joining spans and outcomes.
 *
 * Why not insert-triggered materialized views that sum into the rollup: the raw tables are
 * ReplacingMergeTree, so a retried batch is inserted twice and a view would count it twice; and a
 * late outcome changes a run that was already summed. Instead:
 *
 * - `run_changes` is a change log: materialized views on runs, spans and outcomes write the
 *   (project, run) of every inserted row. Writing a run id twice is harmless, so retries are fine.
 * - `refreshRollups` (refresh.ts) recomputes the facts of every run changed since the last refresh
 *   from the raw tables (read through FINAL, exactly like the raw path) and inserts them into
 *   `run_facts`, a ReplacingMergeTree keyed by the run: the new row replaces the old one. The refresh
 *   is idempotent, so overlapping or concurrent refreshes only repeat work.
 * - `rollup_refreshes` records each refresh, so the next one knows where to start.
 */
import { createTable, type MigrationContext } from '../store/migrations.js'
import type { TableDefinition } from '../store/schema.js'
import { quoteIdentifier } from '../store/store.js'

/** One row per run (the latest refresh wins): what every saved query reads. */
export const RUN_FACTS: TableDefinition = {
  name: 'run_facts',
  columns: `
    project_id LowCardinality(String),
    run_id String CODEC(ZSTD(1)),
    parent_run_id String CODEC(ZSTD(1)),
    agent_id LowCardinality(String),
    user_id String CODEC(ZSTD(1)),
    start_time DateTime('UTC') CODEC(Delta(4), ZSTD(1)),
    duration_ns UInt64 CODEC(T64, ZSTD(1)),
    status_code LowCardinality(String),
    cost_usd Float64 CODEC(ZSTD(1)),
    input_tokens UInt64 CODEC(T64, ZSTD(1)),
    output_tokens UInt64 CODEC(T64, ZSTD(1)),
    cache_read_tokens UInt64 CODEC(T64, ZSTD(1)),
    cache_write_tokens UInt64 CODEC(T64, ZSTD(1)),
    reasoning_tokens UInt64 CODEC(T64, ZSTD(1)),
    llm_calls UInt32 CODEC(T64, ZSTD(1)),
    tool_calls UInt32 CODEC(T64, ZSTD(1)),
    tool_errors UInt32 CODEC(T64, ZSTD(1)),
    outcome LowCardinality(String),
    outcome_value Float64 CODEC(ZSTD(1)),
    outcome_unit LowCardinality(String),
    outcome_reason String CODEC(ZSTD(1)),
    outcome_recorded_at DateTime64(9, 'UTC') CODEC(Delta(8), ZSTD(1)),
    refreshed_at DateTime64(6, 'UTC') DEFAULT now64(6) CODEC(Delta(8), ZSTD(1))`,
  engine: 'ReplacingMergeTree(refreshed_at)',
  // The same key as `runs`: a tenant's days are contiguous ranges, and a run's row never moves.
  orderBy: '(project_id, toDate(start_time), agent_id, run_id)',
  partitionBy: 'toDate(start_time)',
  ttlColumn: 'start_time',
  shardingKey: 'cityHash64(project_id, run_id)',
}

/** How long the change log keeps entries. A refresh that finds its watermark older rebuilds everything. */
export const RUN_CHANGES_KEEP_DAYS = 7

/** The change log: which runs had a row inserted (in any table) and when. */
export const RUN_CHANGES: TableDefinition = {
  name: 'run_changes',
  columns: `
    project_id LowCardinality(String),
    run_id String CODEC(ZSTD(1)),
    changed_at DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1))`,
  engine: 'MergeTree()',
  // Refreshes read a recent time range, so time leads the key.
  orderBy: '(changed_at, project_id, run_id)',
  partitionBy: 'toDate(changed_at)',
  shardingKey: 'cityHash64(project_id, run_id)',
}

/** One row per refresh; the latest start is the next refresh's watermark. */
export const ROLLUP_REFRESHES: TableDefinition = {
  name: 'rollup_refreshes',
  columns: `
    started_at DateTime64(3, 'UTC'),
    finished_at DateTime64(3, 'UTC'),
    mode LowCardinality(String),
    runs_refreshed UInt64`,
  engine: 'MergeTree()',
  orderBy: 'started_at',
}

/**
 * Materialized views that feed the change log. `now64()` rather than the rows' `ingested_at`: a
 * spool replay may carry an old ingestion time, but the change happens when the insert does.
 * The GROUP BY runs per inserted block, so a batch of spans logs each run once.
 */
const CHANGE_FEEDS = [
  { view: 'run_changes_from_runs', source: 'runs', where: '' },
  // A child span attributed to its run later is re-inserted with run_id set, which logs it then.
  { view: 'run_changes_from_spans', source: 'spans', where: "WHERE run_id != ''" },
  { view: 'run_changes_from_outcomes', source: 'outcomes', where: '' },
] as const

/** The statements of the rollup migration (version 2), for a single node or a cluster. */
export function rollupMigrationStatements(context: MigrationContext): string[] {
  const local = (table: TableDefinition) =>
    context.cluster && table.shardingKey ? `${table.name}_local` : table.name
  const onCluster = context.cluster?.replicated ? ` ON CLUSTER ${quoteIdentifier(context.cluster.name)}` : ''
  const changesTable = quoteIdentifier(local(RUN_CHANGES))
  return [
    ...createTable(RUN_FACTS, context),
    ...createTable(RUN_CHANGES, context),
    `ALTER TABLE ${changesTable}${onCluster} MODIFY TTL toDateTime(changed_at) + INTERVAL ${RUN_CHANGES_KEEP_DAYS} DAY`,
    ...createTable(ROLLUP_REFRESHES, context),
    // On a cluster the views sit on each node's local tables and log into that node's change log;
    // the refresh reads the change log and the raw tables through their Distributed tables.
    ...CHANGE_FEEDS.map(
      ({ view, source, where }) =>
        `CREATE MATERIALIZED VIEW IF NOT EXISTS ${quoteIdentifier(view)}${onCluster} TO ${changesTable} AS ` +
        `SELECT project_id, run_id, now64(3) AS changed_at FROM ${quoteIdentifier(
          context.cluster ? `${source}_local` : source,
        )} ${where} GROUP BY project_id, run_id`,
    ),
  ]
}
