/**
 * The tables behind the saved queries, in three layers; the design and the measurements that chose
 * it are in collector/docs/metric-layer.md.
 *
 * - `run_facts`: one row per run (its final outcome, cost, tokens, calls), recomputed from the raw
 *   tables whenever any of the run's rows changes (`run_changes`, fed by materialized views).
 * - Per quarter-hour, from run_facts: `quarter_totals` and `quarter_outcomes` per agent,
 *   `bucket_totals` and `bucket_outcomes` per bucket of agents (AGENT_BUCKET), `person_quarters` per
 *   person and agent; then the all-agents rows of quarter_totals and quarter_outcomes (agent_id '')
 *   as the sums of the buckets.
 * - Per agent and UTC day, from the quarter-hour rows: `agent_days` (bitmaps of the day's 96
 *   quarter-hours with a run and with a delivered run, so DAA is exact in every time zone: every
 *   offset in use is a multiple of 15 minutes) and `agent_day_units` (the leaderboard's value).
 * - Per person, from their quarter-hour rows: `person_activity` (what the people queries count).
 *
 * Every table is a ReplacingMergeTree keyed by what it counts: a refresh re-inserts the rows of the
 * keys its changed runs touch, and the newest row of a key wins (queries read with FINAL), so a
 * refresh that runs twice changes nothing. Each is ordered so that a refresh finds a key's inputs in
 * a narrow range of the layer below, with small granules (`KEYED_GRANULES`): work grows with what
 * changed, not with history.
 */
import { createTable, type MigrationContext } from '../store/migrations.js'
import {
  columnLines,
  RUN_ID_INDEX,
  RUN_ID_INDEX_DEFINITION,
  RUNS,
  SPANS,
  type TableDefinition,
} from '../store/schema.js'
import { quoteIdentifier } from '../store/store.js'
import { durationBucketSql, durationBucketsOfArraySql } from './durations.js'
import { personActivitySelect } from './people.js'
import { SPAN_ADDS_TO_RUN, SPAN_AWAITS_RUN } from './run-spans.js'

/**
 * Index granularity of the derived tables. A refresh reads the inputs of a few hundred keys per
 * second scattered over the whole history, and each key costs at least a granule: ClickHouse's
 * default of 8,192 rows is eight times what a key needs to read here. 256 rows measured no faster
 * per key than 1,024 (metric-layer.md), so 1,024: a sparse index of 10k marks per 10M rows.
 */
export const KEYED_GRANULES = 'index_granularity = 1024'

/**
 * Parts older than this many seconds are merged whatever their sizes (ClickHouse's
 * min_age_to_force_merge_seconds), on the rollups that queries read whole with FINAL. A refresh
 * re-inserts rows of keys spread over the whole month, and a catch-up writes a large part that
 * overlaps every key; ClickHouse's size-based merging leaves such a part beside the month's base
 * part, so every FINAL merges both. Merged by hand, the 30-day DAA took 89 ms instead of 215 ms at
 * 10M runs (metric-layer.md). These tables are small (0.3–3M rows at 10M runs: about a second to merge).
 */
export const FORCED_MERGES = 'min_age_to_force_merge_seconds = 60'

/** The settings of a force-merged rollup: small granules, and FORCED_MERGES. */
const FORCE_MERGED_SETTINGS = `${KEYED_GRANULES}, ${FORCED_MERGES}`

/**
 * Compressed blocks of at least this many bytes (ClickHouse's min_compress_block_size, 65,536 by
 * default), on the large rollups a refresh reads key by key and no query reads whole: run_facts,
 * quarter_totals, quarter_outcomes and person_quarters. A key's rows are about one granule, but
 * reading a granule decompresses every block it lies in, and at the default a block holds eight or
 * more granules of a column; at 4,096 bytes a granule of an 8-byte column is a block of its own.
 * Measured at 10M runs, in alternation (metric-layer.md): a refresh after 100 late outcomes spread
 * over the month took 1.08–1.25 s and 1.7–2.0 ClickHouse CPU s instead of 1.37–1.54 s and 2.4–2.6,
 * for 8% more disk. The rollups that queries read whole keep the default: their scans were 15–20% slower.
 */
export const SMALL_BLOCKS = 'min_compress_block_size = 4096'

/** The settings of a rollup read by key only: small granules, and SMALL_BLOCKS. */
const KEYED_READ_SETTINGS = `${KEYED_GRANULES}, ${SMALL_BLOCKS}`

/**
 * The compression of every rollup column, after the column's own transform (T64, Delta): LZ4, where
 * the raw tables keep ZSTD(1). The dashboard's queries decompress every block they read, and LZ4
 * decompresses several times faster. Measured at 10M runs on copies of the same rows, merged alike
 * (metric-layer.md): the twelve saved queries summed to 647 ms instead of 818, and refreshes took
 * less CPU; the rollups took 1,119 MiB instead of 892 (the whole database 11% more). Migration 10
 * changes it in place.
 */
export const ROLLUP_COMPRESSION = 'LZ4'

/** A rollup column's CODEC clause: its transforms (none, `T64`, `Delta(4)` …), then ROLLUP_COMPRESSION. */
function codec(...transforms: string[]): string {
  return `CODEC(${[...transforms, ROLLUP_COMPRESSION].join(', ')})`
}

/**
 * The agent bucket of a run (0 … 63): all agents' quarter-hour sums are kept as 64 partial sums,
 * one per bucket of agents, so a late outcome recomputes the few runs of its bucket (about 50 at
 * 10M runs a month) instead of every run of its quarter-hour (about 3,500).
 */
export const AGENT_BUCKET = 'toUInt8(cityHash64(agent_id) % 64)'

/** One row per run (the latest refresh wins): what every saved query reads. */
export const RUN_FACTS: TableDefinition = {
  name: 'run_facts',
  columns: `
    project_id LowCardinality(String),
    run_id String ${codec()},
    parent_run_id String ${codec()},
    agent_id LowCardinality(String),
    user_id String ${codec()},
    start_time DateTime('UTC') ${codec('Delta(4)')},
    duration_ns UInt64 ${codec('T64')},
    status_code LowCardinality(String),
    cost_usd Float64 ${codec()},
    input_tokens UInt64 ${codec('T64')},
    output_tokens UInt64 ${codec('T64')},
    cache_read_tokens UInt64 ${codec('T64')},
    cache_write_tokens UInt64 ${codec('T64')},
    reasoning_tokens UInt64 ${codec('T64')},
    llm_calls UInt32 ${codec('T64')},
    tool_calls UInt32 ${codec('T64')},
    tool_errors UInt32 ${codec('T64')},
    outcome LowCardinality(String),
    outcome_value Float64 ${codec()},
    outcome_unit LowCardinality(String),
    outcome_reason String ${codec()},
    outcome_recorded_at DateTime64(9, 'UTC') ${codec('Delta(8)')},
    refreshed_at DateTime64(6, 'UTC') DEFAULT now64(6) ${codec('Delta(8)')}`,
  engine: 'ReplacingMergeTree(refreshed_at)',
  // A run's row never moves (its start and agent are fixed). By quarter-hour, then agent bucket,
  // then agent: the runs a refresh recomputes a bucket's or an agent's quarter-hour from are one
  // narrow range each.
  orderBy: `(project_id, toStartOfFifteenMinutes(start_time), ${AGENT_BUCKET}, agent_id, run_id)`,
  // A late outcome names its run only: the refresh finds the run's facts by id (measured on
  // run_facts: at 1% and 500 ids, 975 of 980 granules passed).
  indexes: [RUN_ID_INDEX_DEFINITION],
  settings: KEYED_READ_SETTINGS,
  // By month, not by day like the raw tables: a refresh inserts the runs it touched, and a day
  // partition per touched day would make a late-outcome catch-up or a backfill write hundreds of
  // tiny parts (measured: FINAL reads then slow down several times; metric-layer.md).
  partitionBy: 'toYYYYMM(start_time)',
  ttlColumn: 'start_time',
  shardingKey: 'cityHash64(project_id, run_id)',
}

/**
 * Per project, agent and UTC day: bitmaps of the day's 96 quarter-hours (bit q = minutes
 * [15q, 15q + 15) after UTC midnight) in which the agent started a run, and one whose outcome is
 * delivered; `worked_before` and `delivered_before` are the same agent's bitmaps of the previous UTC
 * day (0 when it had none), so that queries count an agent once per calendar day without grouping
 * by agent. `runs` … `cost_usd` sum the agent's runs of the whole UTC day (the leaderboard adds the
 * partial UTC days at a range's ends from quarter_totals). A refresh re-inserts the rows of the keys
 * it touched, so a key may have several versions until a merge: queries read it with FINAL.
 */
export const AGENT_DAYS: TableDefinition = {
  name: 'agent_days',
  columns: `
    project_id LowCardinality(String),
    day Date,
    agent_id String ${codec()},
    worked UInt128 ${codec()},
    delivered UInt128 ${codec()},
    worked_before UInt128 ${codec()},
    delivered_before UInt128 ${codec()},
    runs UInt64 ${codec('T64')},
    delivered_runs UInt64 ${codec('T64')},
    known_outcome_runs UInt64 ${codec('T64')},
    cost_usd Float64 ${codec()},
    refreshed_at DateTime64(6, 'UTC') DEFAULT now64(6) ${codec('Delta(8)')}`,
  engine: 'ReplacingMergeTree(refreshed_at)',
  orderBy: '(project_id, day, agent_id)',
  partitionBy: 'toYYYYMM(day)',
  ttlColumn: 'day',
  shardingKey: 'cityHash64(project_id, agent_id)',
  settings: FORCE_MERGED_SETTINGS,
}

/**
 * Runs per duration bucket (durations.ts: key = the bucket's middle in ns): latency percentiles
 * read some 400 buckets a quarter-hour instead of every run's duration (migration 7).
 */
const RUN_DURATION_BUCKETS = 'run_duration_buckets'
const RUN_DURATION_BUCKETS_TYPE = `Map(UInt64, UInt64) ${codec()}`

/** Before migration 7: every run's duration, in ns. */
const RUN_DURATIONS_BEFORE_7 = 'run_durations_ns'

/** The measures of quarter_totals and bucket_totals (and the version column), after their keys. */
const TOTAL_COLUMNS = `
    runs UInt64 ${codec('T64')},
    delivered_runs UInt64 ${codec('T64')},
    partial_runs UInt64 ${codec('T64')},
    failed_runs UInt64 ${codec('T64')},
    abandoned_runs UInt64 ${codec('T64')},
    unknown_runs UInt64 ${codec('T64')},
    error_runs UInt64 ${codec('T64')},
    cost_usd Float64 ${codec()},
    input_tokens UInt64 ${codec('T64')},
    output_tokens UInt64 ${codec('T64')},
    llm_calls UInt64 ${codec('T64')},
    tool_calls UInt64 ${codec('T64')},
    tool_errors UInt64 ${codec('T64')},
    ${RUN_DURATION_BUCKETS} ${RUN_DURATION_BUCKETS_TYPE},
    refreshed_at DateTime64(6, 'UTC') DEFAULT now64(6) ${codec('Delta(8)')}`

/** The outcome, its measures and the version column of quarter_outcomes and bucket_outcomes. */
const OUTCOME_COLUMNS = `
    outcome LowCardinality(String),
    outcome_reason String ${codec()},
    outcome_unit LowCardinality(String),
    runs UInt64 ${codec('T64')},
    value Float64 ${codec()},
    refreshed_at DateTime64(6, 'UTC') DEFAULT now64(6) ${codec('Delta(8)')}`

/**
 * Per project, UTC quarter-hour and agent (agent_id '' = all agents together): sums over the runs
 * started in that quarter-hour. A refresh re-inserts the rows of the keys it touched, so a key may
 * have several versions until a merge: queries read it with FINAL.
 */
export const QUARTER_TOTALS: TableDefinition = {
  name: 'quarter_totals',
  columns: `
    project_id LowCardinality(String),
    agent_id String ${codec()},
    quarter DateTime('UTC') ${codec('Delta(4)')},${TOTAL_COLUMNS}`,
  engine: 'ReplacingMergeTree(refreshed_at)',
  // The all-agents rows ('') come first in each project's range.
  orderBy: '(project_id, agent_id, quarter)',
  partitionBy: 'toYYYYMM(quarter)',
  ttlColumn: 'quarter',
  shardingKey: 'cityHash64(project_id, agent_id)',
  settings: KEYED_READ_SETTINGS,
}

/**
 * Per project, UTC quarter-hour and agent (agent_id '' = all agents together): runs and the sum of
 * their outcome values, by outcome status, reason and unit. One row per key, like quarter_totals.
 */
export const QUARTER_OUTCOMES: TableDefinition = {
  name: 'quarter_outcomes',
  columns: `
    project_id LowCardinality(String),
    agent_id String ${codec()},
    quarter DateTime('UTC') ${codec('Delta(4)')},${OUTCOME_COLUMNS}`,
  engine: 'ReplacingMergeTree(refreshed_at)',
  orderBy: '(project_id, agent_id, quarter, outcome, outcome_reason, outcome_unit)',
  partitionBy: 'toYYYYMM(quarter)',
  ttlColumn: 'quarter',
  shardingKey: 'cityHash64(project_id, agent_id)',
  settings: KEYED_READ_SETTINGS,
}

/** The sums of quarter_totals for one bucket of agents (AGENT_BUCKET); the all-agents rows add them. */
export const BUCKET_TOTALS: TableDefinition = {
  ...QUARTER_TOTALS,
  name: 'bucket_totals',
  columns: `
    project_id LowCardinality(String),
    quarter DateTime('UTC') ${codec('Delta(4)')},
    bucket UInt8,${TOTAL_COLUMNS}`,
  orderBy: '(project_id, quarter, bucket)',
  shardingKey: 'cityHash64(project_id, quarter)',
  settings: FORCE_MERGED_SETTINGS,
}

/** The rows of quarter_outcomes for one bucket of agents; the all-agents rows add them. */
export const BUCKET_OUTCOMES: TableDefinition = {
  ...QUARTER_OUTCOMES,
  name: 'bucket_outcomes',
  columns: `
    project_id LowCardinality(String),
    quarter DateTime('UTC') ${codec('Delta(4)')},
    bucket UInt8,${OUTCOME_COLUMNS}`,
  orderBy: '(project_id, quarter, bucket, outcome, outcome_reason, outcome_unit)',
  shardingKey: 'cityHash64(project_id, quarter)',
  settings: FORCE_MERGED_SETTINGS,
}

/**
 * People are kept as cityHash64(user_id) (PERSON in run-facts.ts): distinct counts over 64-bit
 * numbers are about three times faster than over strings (measured at 10M runs: metric-layer.md),
 * and two of even ten million people share a hash with a probability of about 3 in a million.
 */
const PEOPLE_COLUMNS = `
    runs UInt32 ${codec('T64')},
    delivered_runs UInt32 ${codec('T64')},
    refreshed_at DateTime64(6, 'UTC') DEFAULT now64(6) ${codec('Delta(8)')}`

/**
 * Schema versions 2–5 kept people per quarter-hour first: `people_quarters`, read by the people
 * queries with FINAL. Migration 6 copies its rows into PERSON_QUARTERS and drops it; the earlier
 * migrations still create it, so that a database of any version upgrades through the same steps.
 */
export const LEGACY_PEOPLE_QUARTERS: TableDefinition = {
  name: 'people_quarters',
  columns: `
    project_id LowCardinality(String),
    quarter DateTime('UTC') ${codec('Delta(4)')},
    agent_id LowCardinality(String),
    person UInt64 ${codec()},${PEOPLE_COLUMNS}`,
  engine: 'ReplacingMergeTree(refreshed_at)',
  orderBy: '(project_id, quarter, agent_id, person)',
  partitionBy: 'toYYYYMM(quarter)',
  ttlColumn: 'quarter',
  shardingKey: 'cityHash64(project_id, person)',
  settings: KEYED_GRANULES,
}

/**
 * Per project, person, UTC quarter-hour and agent (runs with a user id only): the person's runs
 * with that agent in that quarter-hour, and how many were delivered. One row per key; no run ids.
 * Person first, so that a refresh reads one person's rows of every day as one narrow range when it
 * rebuilds their PERSON_ACTIVITY row. Only the refresh reads it.
 */
export const PERSON_QUARTERS: TableDefinition = {
  ...LEGACY_PEOPLE_QUARTERS,
  name: 'person_quarters',
  columns: `
    project_id LowCardinality(String),
    person UInt64 ${codec()},
    quarter DateTime('UTC') ${codec('Delta(4)')},
    agent_id LowCardinality(String),${PEOPLE_COLUMNS}`,
  orderBy: '(project_id, person, quarter, agent_id)',
  settings: KEYED_READ_SETTINGS,
}

/**
 * One row per project and person: every (quarter-hour, agent) of their runs, as parallel arrays in
 * time order, with whether one of those runs was delivered. What the people queries read.
 *
 * Exact distinct people over any range and time zone need every (person, quarter-hour) pair: at
 * 10M runs about 10M of them. As rows of a ReplacingMergeTree they cost a FINAL merge of 10M rows
 * and 20,000 or 30 hash sets (1.1–1.5 s per query); as one row per person, FINAL merges 500,000
 * rows and each person's days and agents are made distinct inside their own short arrays, after
 * which counting is a plain count() per agent or day (0.1–0.3 s; metric-layer.md). Agents are
 * kept as cityHash64(agent_id) (AGENT_HASH): as strings, FINAL over the arrays was 1.5–3× as slow.
 *
 * Not partitioned (a person's row spans months, and a ReplacingMergeTree replaces rows only within
 * a partition), so retention deletes the rows whose newest quarter-hour expired, row by row.
 * Sharded by person like PERSON_QUARTERS, so a person's row is built on the shard that has their
 * rows, and per-agent and per-day counts add up across shards (each person is on one).
 */
export const PERSON_ACTIVITY: TableDefinition = {
  name: 'person_activity',
  columns: `
    project_id LowCardinality(String),
    person UInt64 ${codec()},
    quarters Array(DateTime('UTC')) ${codec('Delta(4)')},
    agents Array(UInt64) ${codec()},
    delivered Array(UInt8) ${codec()},
    last_quarter DateTime('UTC') ${codec('Delta(4)')},
    refreshed_at DateTime64(6, 'UTC') DEFAULT now64(6) ${codec('Delta(8)')}`,
  engine: 'ReplacingMergeTree(refreshed_at)',
  orderBy: '(project_id, person)',
  ttlColumn: 'last_quarter',
  ttlDeletesRows: true,
  shardingKey: 'cityHash64(project_id, person)',
  settings: FORCE_MERGED_SETTINGS,
}

/**
 * Per project, UTC day, agent and unit: the agent's delivered runs reporting value in that unit and
 * the sum of their values (the leaderboard's main unit). One row per key, like agent_days.
 */
export const AGENT_DAY_UNITS: TableDefinition = {
  name: 'agent_day_units',
  columns: `
    project_id LowCardinality(String),
    day Date,
    agent_id String ${codec()},
    unit LowCardinality(String),
    delivered_runs UInt64 ${codec('T64')},
    value Float64 ${codec()},
    refreshed_at DateTime64(6, 'UTC') DEFAULT now64(6) ${codec('Delta(8)')}`,
  engine: 'ReplacingMergeTree(refreshed_at)',
  orderBy: '(project_id, day, agent_id, unit)',
  partitionBy: 'toYYYYMM(day)',
  ttlColumn: 'day',
  shardingKey: 'cityHash64(project_id, agent_id)',
  settings: FORCE_MERGED_SETTINGS,
}

/**
 * The rollups kept by `refreshRollups` on top of run_facts, in the order a refresh computes them:
 * the quarter-hour layer from run_facts, then the day layer from the quarter-hour rows. Each is a
 * ReplacingMergeTree keyed by what it counts: a refresh re-inserts the rows of every key its changed
 * runs touch, and the newest row of a key wins (queries read them with FINAL).
 */
export const DAY_ROLLUPS = [
  QUARTER_TOTALS,
  QUARTER_OUTCOMES,
  BUCKET_TOTALS,
  BUCKET_OUTCOMES,
  PERSON_QUARTERS,
  AGENT_DAYS,
  AGENT_DAY_UNITS,
  PERSON_ACTIVITY,
] as const

/** A totals table as it was before migration 7: every run's duration instead of their buckets. */
function totalsBefore7(table: TableDefinition): TableDefinition {
  const now = `${RUN_DURATION_BUCKETS} ${RUN_DURATION_BUCKETS_TYPE}`
  if (!table.columns.includes(now)) throw new Error(`${table.name} has no ${RUN_DURATION_BUCKETS}`)
  return {
    ...table,
    columns: table.columns.replace(now, `${RUN_DURATIONS_BEFORE_7} Array(UInt64) CODEC(ZSTD(1))`),
  }
}

export const QUARTER_TOTALS_BEFORE_7 = totalsBefore7(QUARTER_TOTALS)
export const BUCKET_TOTALS_BEFORE_7 = totalsBefore7(BUCKET_TOTALS)

/** The rollups as schema versions 3–5 had them, which migrations 3 and 4 re-create. */
const ROLLUPS_BEFORE_6 = [
  QUARTER_TOTALS_BEFORE_7,
  QUARTER_OUTCOMES,
  BUCKET_TOTALS_BEFORE_7,
  BUCKET_OUTCOMES,
  LEGACY_PEOPLE_QUARTERS,
  AGENT_DAYS,
  AGENT_DAY_UNITS,
] as const

/**
 * Every table the rollup migration creates that holds per-day data and should follow the raw
 * tables' retention (each has `ttlColumn` set).
 */
export const ROLLUP_TABLES: readonly TableDefinition[] = [RUN_FACTS, ...DAY_ROLLUPS]

/** How long the change log keeps entries. A refresh that finds its watermark older rebuilds everything. */
export const RUN_CHANGES_KEEP_DAYS = 7

/**
 * The change log: which runs had a row inserted, when, and into which table (`source`: runs, spans
 * or outcomes; '' before migration 4). A run whose only changes are outcomes keeps its span totals.
 */
export const RUN_CHANGES: TableDefinition = {
  name: 'run_changes',
  columns: `
    project_id LowCardinality(String),
    run_id String CODEC(ZSTD(1)),
    changed_at DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    source LowCardinality(String) DEFAULT ''`,
  engine: 'MergeTree()',
  // Refreshes read a recent time range, so time leads the key.
  orderBy: '(changed_at, project_id, run_id)',
  partitionBy: 'toDate(changed_at)',
  shardingKey: 'cityHash64(project_id, run_id)',
}

/** How long the trace change log, refresh claims and refresh records keep entries. */
export const LOG_KEEP_DAYS = RUN_CHANGES_KEEP_DAYS

/**
 * The trace change log: which traces had a span inserted, and when. The run resolver looks for
 * spans still waiting for their run only in the traces that changed, so attribution needs no time
 * window: a child and its run find each other whenever the second of them arrives.
 */
export const TRACE_CHANGES: TableDefinition = {
  name: 'trace_changes',
  columns: `
    project_id LowCardinality(String),
    trace_id String CODEC(ZSTD(1)),
    changed_at DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1))`,
  engine: 'MergeTree()',
  orderBy: '(changed_at, project_id, trace_id)',
  partitionBy: 'toDate(changed_at)',
  // The spans' key: on a cluster a trace's spans and its changes sit on the same shard.
  shardingKey: 'cityHash64(project_id, trace_id)',
}

/** The columns of `run_spans`, in order: the spans' own definitions (types, codecs), read from SPANS. */
export const RUN_SPAN_COLUMNS = [
  'project_id',
  'run_id',
  'span_id',
  'trace_id',
  'timestamp',
  'operation',
  'cost_usd',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'status_code',
  'error_type',
  'ingested_at',
] as const

/** The definition lines of `names` in `table`'s columns, in the order of `names`. */
function columnDefinitions(table: TableDefinition, names: readonly string[]): string {
  const lines = new Map(columnLines(table).map((line) => [line.name, line.definition]))
  return `\n    ${names
    .map((name) => {
      const line = lines.get(name)
      if (!line) throw new Error(`${table.name} has no column ${name}`)
      return line
    })
    .join(',\n    ')}`
}

/**
 * The spans that add to a run's facts (SPAN_ADDS_TO_RUN), sorted by run, fed by a view on spans.
 * A refresh recomputes each changed run's facts from its spans; read from `spans` (sorted by hour and
 * trace) through the run-id bloom filter, a refresh of a few thousand runs let most of the day's
 * granules through, so under heavy ingest every refresh read most of the day's spans again (600,000
 * spans sent as fast as one collector takes them: 16,000 rows read by the first refresh, 900,000 by
 * the last). Sorted by run, a run's spans are one narrow range: the read grows with what changed.
 * A span's run never changes once set (a span id names one span, re-sent unchanged; attribution only
 * fills an empty run id), so FINAL on (project, run, span) counts a retried span once, as FINAL on
 * spans does. Sharded like spans (a run's spans share its trace), so a view on each shard's spans
 * feeds its own rows.
 */
export const RUN_SPANS: TableDefinition = {
  name: 'run_spans',
  columns: columnDefinitions(SPANS, RUN_SPAN_COLUMNS),
  engine: 'ReplacingMergeTree(ingested_at)',
  orderBy: '(project_id, run_id, span_id)',
  // By month like run_facts: a run's spans are found by key in every partition, and fewer partitions
  // are fewer index lookups; a retried span has its first copy's timestamp, so the same partition.
  partitionBy: 'toYYYYMM(timestamp)',
  ttlColumn: 'timestamp',
  shardingKey: 'cityHash64(project_id, trace_id)',
  settings: KEYED_GRANULES,
}

/**
 * The traces that ever held a span waiting for its run (SPAN_AWAITS_RUN), fed by a view on spans.
 * The run resolver looks only at the changed traces that are in here: traffic whose spans are
 * attributed at ingestion (stamped with `daa.run.id`, or sent with their run in one request) never
 * costs it a read of spans, where it used to read every changed trace's spans with FINAL at every
 * refresh (collector/docs/metric-layer.md, "Attribution reads only traces with a waiting span").
 * Kept as long as spans are: a child may wait for its run as long as the child is stored.
 */
export const PENDING_TRACES: TableDefinition = {
  name: 'pending_traces',
  columns: `
    project_id LowCardinality(String),
    trace_id String CODEC(ZSTD(1)),
    last_pending_at DateTime64(9, 'UTC') CODEC(Delta(8), ZSTD(1))`,
  // One row per trace once merged; the latest waiting span's time decides when it expires.
  engine: 'ReplacingMergeTree(last_pending_at)',
  orderBy: '(project_id, trace_id)',
  ttlColumn: 'last_pending_at',
  // Not partitioned (a trace's row must replace its older ones), so retention deletes rows.
  ttlDeletesRows: true,
  // The spans' key: a trace's spans, its changes and its entry here share a shard.
  shardingKey: 'cityHash64(project_id, trace_id)',
  settings: 'index_granularity = 1024',
}

/**
 * Who refreshes the metrics: a collector writes a claim before each refresh and refreshes only while
 * the newest claim is its own, so several collectors on one ClickHouse take turns instead of
 * repeating each other's work. A claim older than the lease is void (its collector stopped).
 * Distributed with a constant key on a cluster, so every collector reads the same claims.
 */
export const REFRESH_CLAIMS: TableDefinition = {
  name: 'refresh_claims',
  columns: `
    holder String,
    claimed_at DateTime64(3, 'UTC')`,
  engine: 'MergeTree()',
  orderBy: 'claimed_at',
  shardingKey: '0',
}

/**
 * One row per finished refresh. The latest `started_at` is both the next refresh's watermark and
 * what API answers report as their freshness: every change committed before it is included.
 */
export const METRIC_REFRESHES: TableDefinition = {
  name: 'metric_refreshes',
  columns: `
    started_at DateTime64(3, 'UTC'),
    finished_at DateTime64(3, 'UTC'),
    holder String,
    mode LowCardinality(String),
    runs_refreshed UInt64,
    keys_refreshed UInt64`,
  engine: 'MergeTree()',
  orderBy: 'started_at',
  shardingKey: '0',
}

/** The legacy refresh log of migration 2, replaced by metric_refreshes in migration 3. */
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
  // Only spans that add to their run's facts (run-facts.ts): a late daa.outcome span, or any span
  // that is neither an LLM nor a tool call and has no cost, changes nothing a full recompute would
  // read it for (its outcome row logs the run through the outcomes feed). A child span attributed
  // to its run later is re-inserted with run_id set, which logs it then. (Migration 5 replaced
  // `run_changes_from_spans`, which logged every span.)
  { view: 'run_changes_from_counted_spans', source: 'spans', where: `WHERE ${SPAN_ADDS_TO_RUN}` },
  { view: 'run_changes_from_outcomes', source: 'outcomes', where: '' },
] as const

/**
 * What every migration's DDL needs, on one node or a cluster: ON CLUSTER, local names, every name
 * of a table (the table that holds the rows, then its Distributed table on a cluster: what an ALTER
 * of columns must reach), drops.
 */
function ddl(context: MigrationContext) {
  const onCluster = context.cluster?.replicated ? ` ON CLUSTER ${quoteIdentifier(context.cluster.name)}` : ''
  const local = (table: TableDefinition) =>
    context.cluster && table.shardingKey ? `${table.name}_local` : table.name
  const names = (table: TableDefinition) => [...new Set([local(table), table.name])].map(quoteIdentifier)
  // The Distributed table first: nothing is left that reads a dropped local table.
  const drop = (table: TableDefinition) =>
    [...names(table)].reverse().map((name) => `DROP TABLE IF EXISTS ${name}${onCluster} SYNC`)
  // Where a migration copies rows (quoted): without Keeper its statements run on every node in turn
  // (migrateEachNode), each copying its own local tables; with Keeper they run once, after ON CLUSTER
  // made the tables everywhere, through the Distributed tables.
  const copied = (table: TableDefinition) =>
    quoteIdentifier(context.cluster?.replicated ? table.name : local(table))
  return { onCluster, local, names, drop, copied }
}

/**
 * A table fed by a materialized view on spans, `view`, and filled from the spans already stored:
 * `select(from)` is the view's query over spans table `from`, and the copy's. Each shard's view
 * feeds its own rows, so `table` must be sharded like spans (by trace).
 */
function fedBySpansStatements(
  context: MigrationContext,
  table: TableDefinition,
  view: string,
  columns: string,
  select: (from: string) => string,
): string[] {
  const { onCluster, local, copied } = ddl(context)
  return [
    ...createTable(table, context),
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${quoteIdentifier(view)}${onCluster} ` +
      `TO ${quoteIdentifier(local(table))} AS ${select(quoteIdentifier(local(SPANS)))}`,
    `INSERT INTO ${copied(table)} (${columns}) ${select(copied(SPANS))}`,
  ]
}

/** The materialized views that feed run_changes, each tagging its rows with its source table. */
function changeFeedStatements(context: MigrationContext): string[] {
  const { onCluster, local } = ddl(context)
  const changesTable = quoteIdentifier(local(RUN_CHANGES))
  return CHANGE_FEEDS.map(
    ({ view, source, where }) =>
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${quoteIdentifier(view)}${onCluster} TO ${changesTable} AS ` +
      `SELECT project_id, run_id, now64(3) AS changed_at, '${source}' AS source FROM ${quoteIdentifier(
        context.cluster ? `${source}_local` : source,
      )} ${where} GROUP BY project_id, run_id`,
  )
}

/** The statements of the rollup migration (version 2), for a single node or a cluster. */
export function rollupMigrationStatements(context: MigrationContext): string[] {
  const { onCluster, local } = ddl(context)
  const changesTable = quoteIdentifier(local(RUN_CHANGES))
  return [
    ...createTable(RUN_FACTS, context),
    ...createTable(AGENT_DAYS, context),
    ...createTable(QUARTER_TOTALS_BEFORE_7, context),
    ...createTable(QUARTER_OUTCOMES, context),
    ...createTable(LEGACY_PEOPLE_QUARTERS, context),
    ...createTable(AGENT_DAY_UNITS, context),
    ...createTable(RUN_CHANGES, context),
    `ALTER TABLE ${changesTable}${onCluster} MODIFY TTL toDateTime(changed_at) + INTERVAL ${RUN_CHANGES_KEEP_DAYS} DAY`,
    ...createTable(ROLLUP_REFRESHES, context),
    // On a cluster the views sit on each node's local tables and log into that node's change log;
    // the refresh reads the change log and the raw tables through their Distributed tables.
    ...changeFeedStatements(context),
  ]
}

/** The view for platform teams: one row per run (see RUN_SUMMARY_VIEW_SQL). */
export const RUN_SUMMARY_VIEW = 'run_summary'

/**
 * One row per run, with its final outcome, cost, tokens, calls and person: run_facts read with
 * FINAL, under plain names. A `GROUP BY` over it answers what the saved queries answer (for DAA:
 * `uniqExactIf(agent_id, outcome = 'delivered')` per `toDate(start_time, tz)`; for run-health's
 * p95: `quantileExact(0.95)(duration_bucket_ms)`). Migration 3 creates it, migration 7 replaces it.
 */
const RUN_SUMMARY_VIEW_SQL = `
SELECT
    project_id,
    run_id,
    parent_run_id,
    CAST(agent_id AS String) AS agent_id,
    user_id,
    start_time,
    duration_ns / 1e6 AS duration_ms,
    -- The duration's bucket (durations.ts), in ms: run-health's percentiles are quantileExact of it.
    ${durationBucketSql('duration_ns')} / 1e6 AS duration_bucket_ms,
    status_code,
    CAST(outcome AS String) AS outcome,
    outcome_value,
    CAST(outcome_unit AS String) AS outcome_unit,
    outcome_reason,
    outcome_recorded_at,
    cost_usd,
    input_tokens,
    output_tokens,
    input_tokens + output_tokens AS total_tokens,
    cache_read_tokens,
    cache_write_tokens,
    reasoning_tokens,
    llm_calls,
    tool_calls,
    tool_errors
FROM run_facts FINAL`

/**
 * Migration 3: the day rollups become keyed ReplacingMergeTrees (re-created: a refresh rebuilds them
 * from run_facts), the trace change log and its view, refresh claims and records, and run_summary.
 */
export function metricLayerMigrationStatements(context: MigrationContext): string[] {
  const { onCluster, local, drop } = ddl(context)
  const keepFor = (table: TableDefinition, column: string) =>
    `ALTER TABLE ${quoteIdentifier(local(table))}${onCluster} MODIFY TTL toDateTime(${column}) + INTERVAL ${LOG_KEEP_DAYS} DAY`
  // run_facts too: its partitions become months. Both are derived: the first refresh (a full one,
  // as metric_refreshes starts empty) rebuilds them from the raw tables.
  return [
    ...[RUN_FACTS, ...ROLLUPS_BEFORE_6].flatMap(drop),
    ...[RUN_FACTS, ...ROLLUPS_BEFORE_6].flatMap((table) => createTable(table, context)),
    ...drop(ROLLUP_REFRESHES),
    ...createTable(TRACE_CHANGES, context),
    keepFor(TRACE_CHANGES, 'changed_at'),
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${quoteIdentifier('trace_changes_from_spans')}${onCluster} ` +
      `TO ${quoteIdentifier(local(TRACE_CHANGES))} AS SELECT project_id, trace_id, now64(3) AS changed_at ` +
      `FROM ${quoteIdentifier(context.cluster ? 'spans_local' : 'spans')} GROUP BY project_id, trace_id`,
    ...createTable(REFRESH_CLAIMS, context),
    keepFor(REFRESH_CLAIMS, 'claimed_at'),
    ...createTable(METRIC_REFRESHES, context),
    keepFor(METRIC_REFRESHES, 'started_at'),
    `CREATE VIEW IF NOT EXISTS ${quoteIdentifier(RUN_SUMMARY_VIEW)}${onCluster} AS${RUN_SUMMARY_VIEW_SQL}`,
  ]
}

/**
 * Migration 4: run_facts and the rollups are re-created with the keyed layout (run_facts by
 * quarter-hour, people by hashed person, small granules); the refresh log is emptied, so the first
 * refresh after it is a full rebuild from the raw tables (answers are partial until it finishes).
 */
export function keyedLayersMigrationStatements(context: MigrationContext): string[] {
  const { onCluster, local, drop } = ddl(context)
  const changeTables = [...new Set([RUN_CHANGES.name, local(RUN_CHANGES)])]
  return [
    ...[RUN_FACTS, ...ROLLUPS_BEFORE_6].flatMap(drop),
    ...[RUN_FACTS, ...ROLLUPS_BEFORE_6].flatMap((table) => createTable(table, context)),
    // The change log learns which table each change came from (the Distributed table too, on a cluster).
    ...changeTables.map(
      (name) =>
        `ALTER TABLE ${quoteIdentifier(name)}${onCluster} ADD COLUMN IF NOT EXISTS source LowCardinality(String) DEFAULT ''`,
    ),
    ...CHANGE_FEEDS.map(({ view }) => `DROP VIEW IF EXISTS ${quoteIdentifier(view)}${onCluster} SYNC`),
    ...changeFeedStatements(context),
    `TRUNCATE TABLE IF EXISTS ${quoteIdentifier(local(METRIC_REFRESHES))}${onCluster}`,
  ]
}

/**
 * Migration 5: run-id lookups that skip granules. The run-id bloom filters of spans and runs go from
 * 1% to 0.01% false positives (RUN_ID_INDEX), rebuilt for existing parts by a mutation (the
 * migration took 59 s at 100M spans on the test server, which waited for it; lookups are exact
 * either way, only slower without the filter); and the spans change feed logs only spans
 * that add to their run's facts, so a late outcome no longer makes its run recomputed from spans.
 * The new feed is created before the old one is dropped: a change inserted meanwhile is logged
 * twice rather than not at all.
 */
export function runLookupMigrationStatements(context: MigrationContext): string[] {
  const { onCluster, local } = ddl(context)
  const index = [SPANS, RUNS].flatMap((table) => {
    const name = quoteIdentifier(local(table))
    return [
      `ALTER TABLE ${name}${onCluster} DROP INDEX IF EXISTS ${RUN_ID_INDEX.name}`,
      `ALTER TABLE ${name}${onCluster} ADD INDEX IF NOT EXISTS ${RUN_ID_INDEX.name} ${RUN_ID_INDEX.spec}`,
      `ALTER TABLE ${name}${onCluster} MATERIALIZE INDEX ${RUN_ID_INDEX.name}`,
    ]
  })
  return [
    ...index,
    ...changeFeedStatements(context),
    `DROP VIEW IF EXISTS ${quoteIdentifier('run_changes_from_spans')}${onCluster} SYNC`,
  ]
}

/**
 * Migration 6: people by person. `people_quarters` (quarter-hour first) gives way to
 * `person_quarters` (person first: its rows, copied with their own refreshed_at, so a newer row
 * written meanwhile still wins) and `person_activity` (one row per person, built from them), which
 * the people queries read. Copied, not rebuilt: 10M people rows took seconds to copy where a full
 * rebuild of the metric layer takes minutes (metric-layer.md).
 */
export function personActivityMigrationStatements(context: MigrationContext): string[] {
  // Every table here is sharded by (project, person), so each shard's rows are copied on that shard.
  const { drop, copied: table } = ddl(context)
  const personColumns = 'project_id, person, quarter, agent_id, runs, delivered_runs, refreshed_at'
  return [
    ...createTable(PERSON_QUARTERS, context),
    ...createTable(PERSON_ACTIVITY, context),
    `INSERT INTO ${table(PERSON_QUARTERS)} (${personColumns})
     SELECT ${personColumns} FROM ${table(LEGACY_PEOPLE_QUARTERS)}`,
    `INSERT INTO ${table(PERSON_ACTIVITY)} (project_id, person, quarters, agents, delivered, last_quarter)
     ${personActivitySelect(`${table(PERSON_QUARTERS)} FINAL`)}`,
    ...drop(LEGACY_PEOPLE_QUARTERS),
  ]
}

/**
 * Migration 7: latency from duration buckets. quarter_totals and bucket_totals keep runs per
 * duration bucket (durations.ts) instead of every run's duration: the run-health query read 10M
 * durations at 10M runs (about 0.25 s) and reads some 400 buckets a quarter-hour now. The buckets
 * are computed from the durations in place (a mutation, waited for), then the durations dropped.
 * ALTERs only, so the same statements serve one node, every node in turn without Keeper, and
 * ON CLUSTER; the Distributed tables change their columns alike.
 */
export function durationBucketsMigrationStatements(context: MigrationContext): string[] {
  const { onCluster, local, names } = ddl(context)
  const columns = [QUARTER_TOTALS, BUCKET_TOTALS].flatMap((table) => {
    const storage = quoteIdentifier(local(table))
    return [
      ...names(table).map(
        (name) =>
          `ALTER TABLE ${name}${onCluster} ADD COLUMN IF NOT EXISTS ${RUN_DURATION_BUCKETS} ${RUN_DURATION_BUCKETS_TYPE} AFTER tool_errors`,
      ),
      `ALTER TABLE ${storage}${onCluster} UPDATE ${RUN_DURATION_BUCKETS} = ${durationBucketsOfArraySql(RUN_DURATIONS_BEFORE_7)} WHERE 1 SETTINGS mutations_sync = 2`,
      ...names(table).map(
        (name) => `ALTER TABLE ${name}${onCluster} DROP COLUMN IF EXISTS ${RUN_DURATIONS_BEFORE_7}`,
      ),
    ]
  })
  return [
    ...columns,
    // run_summary gains each run's duration bucket, so that its GROUP BY gives run-health's percentiles.
    `CREATE OR REPLACE VIEW ${quoteIdentifier(RUN_SUMMARY_VIEW)}${onCluster} AS${RUN_SUMMARY_VIEW_SQL}`,
  ]
}

/** The rollups read by key only, whose parts have SMALL_BLOCKS: read from their definitions. */
export const SMALL_BLOCK_TABLES: readonly TableDefinition[] = ROLLUP_TABLES.filter(
  (table) => table.settings === KEYED_READ_SETTINGS,
)

/** The rollups whose parts are merged once they are FORCED_MERGES old: read from their definitions. */
export const FORCE_MERGED_TABLES: readonly TableDefinition[] = ROLLUP_TABLES.filter(
  (table) => table.settings === FORCE_MERGED_SETTINGS,
)

/** ALTER … MODIFY SETTING `setting` on `tables`, on the tables that hold the rows (the local tables on a cluster). */
function modifySettingStatements(
  context: MigrationContext,
  tables: readonly TableDefinition[],
  setting: string,
): string[] {
  const { onCluster, local } = ddl(context)
  return tables.map(
    (table) => `ALTER TABLE ${quoteIdentifier(local(table))}${onCluster} MODIFY SETTING ${setting}`,
  )
}

/**
 * Migration 8: forced merges of the rollups queries read whole (FORCED_MERGES). A table setting,
 * changed in place (on every node in turn without Keeper); no row is rewritten by the migration
 * itself. A table given FORCED_MERGES after version 8 needs a migration of its own:
 * rollup-settings-upgrade.test.ts compares every upgraded table with a new database's.
 */
export function forcedMergesMigrationStatements(context: MigrationContext): string[] {
  return modifySettingStatements(context, FORCE_MERGED_TABLES, FORCED_MERGES)
}

/**
 * Migration 9: small compressed blocks (SMALL_BLOCKS) on the rollups a refresh reads by key only.
 * A table setting, changed in place like migration 8's; it applies to the parts written from then
 * on, the refreshes' and the merges', and a month's base part takes it when it is next merged.
 * `OPTIMIZE TABLE … FINAL` applies it at once, at the cost of rewriting the table (at 10M runs:
 * 17 s for run_facts, 5–10 s for each of the others).
 */
export function smallBlocksMigrationStatements(context: MigrationContext): string[] {
  return modifySettingStatements(context, SMALL_BLOCK_TABLES, SMALL_BLOCKS)
}

/** `MODIFY COLUMN name CODEC(…)` for each column of `table` that has a CODEC clause (type and default unchanged). */
function modifyCodecClauses(table: TableDefinition): string[] {
  return columnLines(table).flatMap(({ name, definition }) => {
    const codec = /\s(CODEC\(.*\))$/.exec(definition)
    return codec ? [`MODIFY COLUMN ${name} ${codec[1]}`] : []
  })
}

/**
 * Migration 10: every rollup column compressed with ROLLUP_COMPRESSION (LZ4) instead of ZSTD(1).
 * Changing only a column's codec is metadata: nothing is rewritten by the migration, no mutation
 * runs, and the parts written from then on (refreshes' and merges') take it; a month's base part
 * takes it when it is next merged, and `OPTIMIZE TABLE … FINAL` applies it at once. ALTERs only, on
 * the local and the Distributed tables alike, so the same statements serve one node, every node in
 * turn without Keeper, and ON CLUSTER.
 */
export function rollupCompressionMigrationStatements(context: MigrationContext): string[] {
  const { onCluster, names } = ddl(context)
  return ROLLUP_TABLES.flatMap((table) =>
    names(table).map((name) => `ALTER TABLE ${name}${onCluster} ${modifyCodecClauses(table).join(', ')}`),
  )
}

/**
 * Migration 11: pending_traces and its feed. The traces that already hold a waiting span are copied
 * in from spans (a superset is harmless: a trace whose spans all found their run costs one look), so
 * a child stored before the upgrade still finds its run when the run arrives after it.
 */
export function pendingTracesMigrationStatements(context: MigrationContext): string[] {
  return fedBySpansStatements(
    context,
    PENDING_TRACES,
    'pending_traces_from_spans',
    'project_id, trace_id, last_pending_at',
    (from) =>
      `SELECT project_id, trace_id, max(timestamp) AS last_pending_at FROM ${from} WHERE ${SPAN_AWAITS_RUN} GROUP BY project_id, trace_id`,
  )
}

/**
 * Migration 12: run_spans and its feed, filled from the spans already stored (the rows that add to a
 * run; a retried span's copies are replaced as FINAL reads them).
 */
export function runSpansMigrationStatements(context: MigrationContext): string[] {
  const columns = RUN_SPAN_COLUMNS.join(', ')
  return fedBySpansStatements(
    context,
    RUN_SPANS,
    'run_spans_from_spans',
    columns,
    (from) => `SELECT ${columns} FROM ${from} WHERE ${SPAN_ADDS_TO_RUN}`,
  )
}
