/**
 * The per-run facts, computed from the raw tables. This one SELECT is both the raw path of the
 * saved queries and what `refreshRollups` writes into `run_facts`, so the two cannot disagree.
 *
 * Definitions (the glossary's words made exact):
 * - A run is a row of `runs` (an invoke_agent span), deduplicated with FINAL.
 * - Spans count toward the run in their `run_id` (their nearest invoke_agent ancestor; a sub-agent's
 *   spans count toward the sub-agent's run, not its parent's). Spans are read with FINAL, so a
 *   retried span counts once.
 * - cost_usd = the run span's own cost + the cost of every other span of the run.
 * - Tokens = the token columns of the run's LLM-call spans (chat, generate_content, text_completion);
 *   `input_tokens` includes cached tokens and `output_tokens` includes reasoning, as in OpenTelemetry.
 * - llm_calls / tool_calls = the run's spans with an LLM-call / execute_tool operation; tool_errors =
 *   tool calls with status ERROR or an error type.
 * - The outcome is the run's outcome row with the latest recorded_at (ties: the larger source span
 *   id); `unknown` when the run has none.
 */

import { runDurationBucketsSql } from './durations.js'
import { personActivitySelect, personQuartersSelect } from './people.js'
import { AGENT_BUCKET } from './rollup-schema.js'
import { IS_LLM_CALL, IS_TOOL_CALL } from './run-spans.js'

/** The columns of `run_facts` that the SELECT fills, in order (refreshed_at takes its default). */
export const RUN_FACT_COLUMNS = [
  'project_id',
  'run_id',
  'parent_run_id',
  'agent_id',
  'user_id',
  'start_time',
  'duration_ns',
  'status_code',
  'cost_usd',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'llm_calls',
  'tool_calls',
  'tool_errors',
  'outcome',
  'outcome_value',
  'outcome_unit',
  'outcome_reason',
  'outcome_recorded_at',
] as const

/**
 * The per-run facts SELECT. `runFilter` is a boolean SQL expression over `project_id` and `run_id`
 * applied to all three tables (constant SQL text chosen by daa, never user input; values travel as
 * query parameters). `spans` says where the runs' spans are read:
 * - 'by run' (the default): `run_spans`, the spans that add to a run sorted by run, where each run
 *   is one narrow range: what a refresh of the changed runs reads;
 * - 'by day': `spans` itself, partitioned by day, for reads of every run (a full rebuild, the raw
 *   path), where FINAL merges each day's parts on their own instead of a month's.
 * Both give the same facts: the spans `run_spans` leaves out (SPAN_ADDS_TO_RUN) add nothing to any
 * of them.
 */
export function runFactsSelect(runFilter: string, spans: 'by run' | 'by day' = 'by run'): string {
  return `
SELECT
    r.project_id AS project_id,
    r.run_id AS run_id,
    r.parent_run_id AS parent_run_id,
    r.agent_id AS agent_id,
    r.user_id AS user_id,
    -- Second precision is enough: day boundaries in every time zone fall on whole seconds.
    toDateTime(r.start_time, 'UTC') AS start_time,
    r.duration_ns AS duration_ns,
    r.status_code AS status_code,
    r.cost_usd + s.child_cost_usd AS cost_usd,
    s.run_input_tokens AS input_tokens,
    s.run_output_tokens AS output_tokens,
    s.run_cache_read_tokens AS cache_read_tokens,
    s.run_cache_write_tokens AS cache_write_tokens,
    s.run_reasoning_tokens AS reasoning_tokens,
    s.run_llm_calls AS llm_calls,
    s.run_tool_calls AS tool_calls,
    s.run_tool_errors AS tool_errors,${OUTCOME_FACTS}
FROM (
    SELECT project_id, run_id, parent_run_id, agent_id, user_id, start_time, duration_ns, status_code, cost_usd
    FROM runs FINAL
    WHERE ${runFilter}
) AS r
LEFT JOIN (
    SELECT
        project_id,
        run_id,
        -- The run span's own cost is already in runs.cost_usd.
        sumIf(cost_usd, span_id != run_id) AS child_cost_usd,
        sumIf(input_tokens, is_llm_call) AS run_input_tokens,
        sumIf(output_tokens, is_llm_call) AS run_output_tokens,
        sumIf(cache_read_tokens, is_llm_call) AS run_cache_read_tokens,
        sumIf(cache_write_tokens, is_llm_call) AS run_cache_write_tokens,
        sumIf(reasoning_tokens, is_llm_call) AS run_reasoning_tokens,
        toUInt32(countIf(is_llm_call)) AS run_llm_calls,
        toUInt32(countIf(is_tool_call)) AS run_tool_calls,
        toUInt32(countIf(is_tool_call AND (status_code = 'ERROR' OR error_type != ''))) AS run_tool_errors
    FROM (
        SELECT
            project_id, run_id, span_id, cost_usd, input_tokens, output_tokens, cache_read_tokens,
            cache_write_tokens, reasoning_tokens, status_code, error_type,
            ${IS_LLM_CALL} AS is_llm_call,
            ${IS_TOOL_CALL} AS is_tool_call
        ${
          spans === 'by run'
            ? `FROM run_spans FINAL\n        WHERE ${runFilter}`
            : `FROM spans FINAL\n        WHERE run_id != '' AND (${runFilter})`
        }
    )
    GROUP BY project_id, run_id
) AS s ON s.project_id = r.project_id AND s.run_id = r.run_id
LEFT JOIN ${latestOutcomes(runFilter)} AS o ON o.project_id = r.project_id AND o.run_id = r.run_id`
}

/** Per run matching `runFilter`, its latest outcome (the `latest_…` columns); runs without one are absent. */
function latestOutcomes(runFilter: string): string {
  return `(
    -- Retried outcome rows are identical copies, so argMax needs no FINAL.
    SELECT
        project_id,
        run_id,
        argMax(status, (recorded_at, source_span_id)) AS latest_status,
        argMax(value, (recorded_at, source_span_id)) AS latest_value,
        argMax(unit, (recorded_at, source_span_id)) AS latest_unit,
        argMax(reason, (recorded_at, source_span_id)) AS latest_reason,
        max(recorded_at) AS latest_recorded_at
    FROM outcomes
    WHERE ${runFilter}
    GROUP BY project_id, run_id
)`
}

/** The run_facts columns that come from the outcome, and how they are read from latestOutcomes (`o`). */
const OUTCOME_FACTS = `
    -- An unmatched LEFT JOIN row has the default (empty) run_id.
    if(o.run_id = '', 'unknown', o.latest_status) AS outcome,
    o.latest_value AS outcome_value,
    o.latest_unit AS outcome_unit,
    o.latest_reason AS outcome_reason,
    o.latest_recorded_at AS outcome_recorded_at`

/**
 * The facts of runs whose only changes since their last refresh are outcomes: their stored row in
 * `run_facts` with the outcome read again. Spans and run rows are not read: a late outcome for an
 * old run costs a lookup in run_facts and in outcomes. Runs not in run_facts yet give no row (they
 * are computed in full when their run span arrives).
 */
export function outcomeFactsSelect(runFilter: string): string {
  const kept = RUN_FACT_COLUMNS.filter((column) => !column.startsWith('outcome'))
  return `
SELECT
    ${kept.map((column) => `f.${column} AS ${column}`).join(',\n    ')},${OUTCOME_FACTS}
FROM (
    -- The newest row of each run, as FINAL would keep, but without FINAL: the run-id index (a bloom
    -- filter: no false negatives), or a scan for thousands of runs (refresh.ts), finds every
    -- version, and FINAL beside that index also reads the ranges of other parts that overlap the
    -- granules found (at 10M runs, 100 runs: 230 → 115 ms).
    SELECT ${kept.join(', ')}
    FROM run_facts
    WHERE ${runFilter}
    ORDER BY refreshed_at DESC
    LIMIT 1 BY project_id, run_id
) AS f
LEFT JOIN ${latestOutcomes(runFilter)} AS o ON o.project_id = f.project_id AND o.run_id = f.run_id`
}

/** The raw path for the saved queries: the facts of every run of the query's project. */
export const RAW_RUN_FACTS = `(${runFactsSelect('project_id = {project:String}', 'by day')}\n)`

/** The quarter-hour (0 … 95) of its UTC day in which a DateTime('UTC') `quarter` falls. */
const QUARTER_OF_DAY = 'toUInt8(intDiv(toHour(quarter) * 60 + toMinute(quarter), 15))'

/**
 * Which rows a rollup SELECT computes: boolean SQL over its source's columns (constant text chosen
 * by daa; values travel as query parameters). '1' computes every row.
 */
export interface RollupFilter {
  /** Rows read from the source (per-run facts, or per-agent quarter-hour rows for the day rollups). */
  runs: string
  /**
   * agent_days only: which of its rows to compute, over (project_id, agent_id, day). `runs` must
   * also read the day before each of them, whose bitmaps the row carries.
   */
  days?: string
}

const ALL: RollupFilter = { runs: '1', days: '1' }

/**
 * The rows of `agent_days`, computed from the per-agent rows of `quarter_totals` (`source`: that
 * table, or a parenthesised SELECT with its columns): an agent's UTC day is its 96 quarter-hours.
 * Runs without an agent id count toward runs (the all-agents rows) but are no agent's.
 *
 * Each row also carries the agent's bitmaps of the previous UTC day (`worked_before`,
 * `delivered_before`), so a query can count an agent once per calendar day in any time zone
 * without grouping by agent: a calendar day spans at most two UTC days, and the agent counts on the
 * first of them in which it was active.
 */
export function agentDaysSelect(source: string, filter: RollupFilter = ALL): string {
  const bit = `bitShiftLeft(toUInt128(1), ${QUARTER_OF_DAY})`
  // One read of the source for both days: each agent-day, then the agent's day before it (if it had
  // rows) beside it. As a join of two reads, the statement took twice as long (3.2–4.0 s against
  // 1.7–1.8 s for the 10,000 late outcomes of a catch-up at 10M runs; metric-layer.md).
  return `
SELECT
    project_id,
    day,
    agent_id,
    worked,
    delivered,
    if(previous_day = day - 1, previous_worked, toUInt128(0)) AS worked_before,
    if(previous_day = day - 1, previous_delivered, toUInt128(0)) AS delivered_before,
    day_runs AS runs,
    day_delivered_runs AS delivered_runs,
    day_known_outcome_runs AS known_outcome_runs,
    day_cost_usd AS cost_usd
FROM (
    SELECT
        *,
        lagInFrame(day) OVER agent AS previous_day,
        lagInFrame(worked) OVER agent AS previous_worked,
        lagInFrame(delivered) OVER agent AS previous_delivered
    FROM (
        -- Aliases unlike the source's columns, which the aggregates read.
        SELECT
            project_id,
            toDate(quarter) AS day,
            agent_id,
            groupBitOrIf(${bit}, runs > 0) AS worked,
            groupBitOrIf(${bit}, delivered_runs > 0) AS delivered,
            sum(runs) AS day_runs,
            sum(delivered_runs) AS day_delivered_runs,
            sum(runs - unknown_runs) AS day_known_outcome_runs,
            sum(cost_usd) AS day_cost_usd
        FROM ${source}
        WHERE agent_id != '' AND (${filter.runs})
        GROUP BY project_id, day, agent_id
    )
    WINDOW agent AS (PARTITION BY project_id, agent_id ORDER BY day ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE ${filter.days ?? '1'}`
}

/** The rows of `agent_day_units`, computed from the per-agent rows of `quarter_outcomes` (`source`). */
export function agentDayUnitsSelect(source: string, filter: RollupFilter = ALL): string {
  // Aliases unlike the source's columns, which the aggregates read.
  return `
SELECT project_id, day, agent_id, unit, unit_runs AS delivered_runs, unit_value AS value
FROM (
    SELECT project_id, toDate(quarter) AS day, agent_id, outcome_unit AS unit,
           sum(runs) AS unit_runs, sum(value) AS unit_value
    FROM ${source}
    WHERE agent_id != '' AND outcome = 'delivered' AND outcome_unit != '' AND (${filter.runs})
    GROUP BY project_id, day, agent_id, unit
)`
}

/**
 * The measures of quarter_totals (and bucket_totals), in their columns' order: each one's
 * aggregate over per-run facts, and over rows of the same table (to add buckets into all agents).
 */
const QUARTER_TOTAL_MEASURES: readonly (readonly [column: string, perRun: string, perRow: string])[] = [
  ['runs', 'count()', 'sum(runs)'],
  ['delivered_runs', "countIf(outcome = 'delivered')", 'sum(delivered_runs)'],
  ['partial_runs', "countIf(outcome = 'partial')", 'sum(partial_runs)'],
  ['failed_runs', "countIf(outcome = 'failed')", 'sum(failed_runs)'],
  ['abandoned_runs', "countIf(outcome = 'abandoned')", 'sum(abandoned_runs)'],
  ['unknown_runs', "countIf(outcome = 'unknown')", 'sum(unknown_runs)'],
  ['error_runs', "countIf(status_code = 'ERROR')", 'sum(error_runs)'],
  ['cost_usd', 'sum(cost_usd)', 'sum(cost_usd)'],
  ['input_tokens', 'sum(input_tokens)', 'sum(input_tokens)'],
  ['output_tokens', 'sum(output_tokens)', 'sum(output_tokens)'],
  ['llm_calls', 'sum(toUInt64(llm_calls))', 'sum(llm_calls)'],
  ['tool_calls', 'sum(toUInt64(tool_calls))', 'sum(tool_calls)'],
  ['tool_errors', 'sum(toUInt64(tool_errors))', 'sum(tool_errors)'],
  // Runs per duration bucket: latency percentiles over the bucketed durations (durations.ts).
  ['run_duration_buckets', `sumMap(${runDurationBucketsSql('duration_ns')})`, 'sumMap(run_duration_buckets)'],
]

/** The measures of quarter_outcomes (and bucket_outcomes), like QUARTER_TOTAL_MEASURES. */
const QUARTER_OUTCOME_MEASURES: readonly (readonly [column: string, perRun: string, perRow: string])[] = [
  ['runs', 'count()', 'sum(runs)'],
  ['value', 'sum(outcome_value)', 'sum(value)'],
]

/**
 * `SELECT <keys>, <measures> FROM source WHERE … GROUP BY <keys>`, with the aggregates computed under
 * other names first: an aggregate may not read a column that an alias of the same name shadows.
 */
function grouped(
  keys: readonly (readonly [column: string, expression: string])[],
  measures: readonly (readonly [column: string, aggregate: string])[],
  source: string,
  where: string,
): string {
  return `
SELECT ${[...keys.map(([column]) => column), ...measures.map(([column]) => `m_${column} AS ${column}`)].join(', ')}
FROM (
    SELECT
        ${[...keys.map(([column, expression]) => `${expression} AS ${column}`), ...measures.map(([column, aggregate]) => `${aggregate} AS m_${column}`)].join(',\n        ')}
    FROM ${source}
    WHERE ${where}
    GROUP BY ${keys.map(([column]) => column).join(', ')}
)`
}

const perRun = (measures: typeof QUARTER_TOTAL_MEASURES) =>
  measures.map(([column, aggregate]) => [column, aggregate] as const)
const perRow = (measures: typeof QUARTER_TOTAL_MEASURES) =>
  measures.map(([column, , aggregate]) => [column, aggregate] as const)
const QUARTER = ['quarter', 'toStartOfFifteenMinutes(start_time)'] as const
const OUTCOME_KEYS = [
  ['outcome', 'outcome'],
  ['outcome_reason', 'outcome_reason'],
  ['outcome_unit', 'outcome_unit'],
] as const

/**
 * The per-agent rows of `quarter_totals`, from per-run facts `source` (run_facts, or RAW_RUN_FACTS).
 * Runs without an agent id count only toward the all-agents rows.
 */
export function agentQuarterTotalsSelect(source: string, filter: RollupFilter = ALL): string {
  return grouped(
    [['project_id', 'project_id'], ['agent_id', 'agent_id'], QUARTER],
    perRun(QUARTER_TOTAL_MEASURES),
    source,
    `agent_id != '' AND (${filter.runs})`,
  )
}

/** The rows of `bucket_totals`: the sums of each bucket of agents (AGENT_BUCKET), from per-run facts. */
export function bucketTotalsSelect(source: string, filter: RollupFilter = ALL): string {
  return grouped(
    [['project_id', 'project_id'], QUARTER, ['bucket', AGENT_BUCKET]],
    perRun(QUARTER_TOTAL_MEASURES),
    source,
    filter.runs,
  )
}

/** The all-agents rows of `quarter_totals` (agent_id ''), added up from `bucket_totals` rows (`source`). */
export function allAgentsTotalsSelect(source: string, filter: RollupFilter = ALL): string {
  return grouped(
    [
      ['project_id', 'project_id'],
      ['agent_id', "''"],
      ['quarter', 'quarter'],
    ],
    perRow(QUARTER_TOTAL_MEASURES),
    source,
    filter.runs,
  )
}

/** The per-agent rows of `quarter_outcomes`, like agentQuarterTotalsSelect. */
export function agentQuarterOutcomesSelect(source: string, filter: RollupFilter = ALL): string {
  return grouped(
    [['project_id', 'project_id'], ['agent_id', 'agent_id'], QUARTER, ...OUTCOME_KEYS],
    perRun(QUARTER_OUTCOME_MEASURES),
    source,
    `agent_id != '' AND (${filter.runs})`,
  )
}

/** The rows of `bucket_outcomes`, like bucketTotalsSelect. */
export function bucketOutcomesSelect(source: string, filter: RollupFilter = ALL): string {
  return grouped(
    [['project_id', 'project_id'], QUARTER, ['bucket', AGENT_BUCKET], ...OUTCOME_KEYS],
    perRun(QUARTER_OUTCOME_MEASURES),
    source,
    filter.runs,
  )
}

/** The all-agents rows of `quarter_outcomes`, added up from `bucket_outcomes` rows (`source`). */
export function allAgentsOutcomesSelect(source: string, filter: RollupFilter = ALL): string {
  return grouped(
    [['project_id', 'project_id'], ['agent_id', "''"], ['quarter', 'quarter'], ...OUTCOME_KEYS],
    perRow(QUARTER_OUTCOME_MEASURES),
    source,
    filter.runs,
  )
}

/**
 * What each rollup a saved query may read (its table name, as written in its SQL) becomes on the
 * raw path: the same rows computed from spans, runs and outcomes at query time.
 */
const RAW_QUARTER_TOTALS = `(${agentQuarterTotalsSelect(RAW_RUN_FACTS)}
UNION ALL ${allAgentsTotalsSelect(`(${bucketTotalsSelect(RAW_RUN_FACTS)})`)}\n)`
const RAW_QUARTER_OUTCOMES = `(${agentQuarterOutcomesSelect(RAW_RUN_FACTS)}
UNION ALL ${allAgentsOutcomesSelect(`(${bucketOutcomesSelect(RAW_RUN_FACTS)})`)}\n)`

export const RAW_SOURCES: Readonly<Record<string, string>> = {
  run_facts: RAW_RUN_FACTS,
  agent_days: `(${agentDaysSelect(RAW_QUARTER_TOTALS)}\n)`,
  quarter_totals: RAW_QUARTER_TOTALS,
  quarter_outcomes: RAW_QUARTER_OUTCOMES,
  person_activity: `(${personActivitySelect(`(${personQuartersSelect(RAW_RUN_FACTS)})`)}\n)`,
  agent_day_units: `(${agentDayUnitsSelect(RAW_QUARTER_OUTCOMES)}\n)`,
}
