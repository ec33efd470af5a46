/**
 * The dashboard's panels, once, for both faces: the Grafana generator (grafana/dashboard.ts) and
 * the built-in page (page/src) read this list. A panel names the saved query it runs and the
 * columns it draws; the SQL itself is only ever the saved query's (collector/queries/*.sql).
 *
 * No Node.js imports here: the page bundles this file for the browser.
 */

/** How a value is shown: Grafana unit ids, and the page's formatter for the same thing. */
export type ValueUnit = 'count' | 'percent' | 'usd' | 'ms' | 'ratio' | 'tokens' | 'value'

export interface SeriesSpec {
  /** Output column of the saved query. */
  column: string
  label: string
  unit: ValueUnit
  /** Drawn as bars (stacked with the panel's other bars) instead of a line. */
  bars?: boolean
  /** On the right-hand axis (a rate beside counts). */
  right?: boolean
  /** Drawn below zero (dormant agents in the lifecycle). */
  negative?: boolean
  /** Hidden until asked for (context columns that would crowd the chart). */
  hidden?: boolean
  /** In the built-in page's drill-down into one agent: shown, or hidden (e.g. DAA, always 0 or 1 there). */
  drill?: 'show' | 'hide'
  /**
   * A share, and the column it is a share of: on a day where that column is 0 the page draws a gap,
   * not the 0 the query answers (a delivery rate of a day without runs is not 0%).
   */
  per?: string
}

export interface ColumnSpec {
  column: string
  label: string
  unit: ValueUnit | 'text' | 'date'
}

interface PanelBase {
  /** Stable id: the page's anchors, the Grafana panel id order and test names. */
  id: string
  title: string
  /** The saved query's name (collector/queries/<query>.sql). */
  query: string
  /** One line under the title: what to read from it. */
  hint: string
  /** Width on a 24-column grid (Grafana's; the page uses halves and wholes). */
  width: 12 | 24
}

/** Daily series: one row per calendar day, `day` first. */
export interface TimeSeriesPanel extends PanelBase {
  kind: 'timeseries'
  series: SeriesSpec[]
  /** A long result (one row per day and `splitBy` value) drawn as one series per value. */
  splitBy?: string
}

/** Rows shown as a table. */
export interface TablePanel extends PanelBase {
  kind: 'table'
  columns: ColumnSpec[]
}

/** Cohort rows drawn as a grid: one row per cohort day, one cell per day offset. */
export interface CohortPanel extends PanelBase {
  kind: 'cohorts'
  cohort: string
  offset: string
  size: string
  rate: string
}

export type PanelSpec = TimeSeriesPanel | TablePanel | CohortPanel

/** The headline figures above the panels: the range's total or its last day. */
export interface StatSpec {
  id: string
  label: string
  query: string
  column: string
  unit: ValueUnit
  /** `last`: the last day's value; `sum`: over the range; `ratio`: sum(numerator) / sum(denominator). */
  reduce: 'last' | 'sum' | 'mean' | { numerator: string; denominator: string }
}

/**
 * The name of cost_per_delivered_usd wherever a face shows it (tile, chart, leaderboard, drill-down,
 * Grafana): the README's glossary name for the metric, so that one metric is not read as several.
 */
export const COST_PER_DELIVERED = 'Cost per delivered outcome'

export const STATS: StatSpec[] = [
  { id: 'daa', label: 'DAA (last day)', query: 'daa', column: 'daa', unit: 'count', reduce: 'last' },
  { id: 'waa', label: 'WAA', query: 'waa-maa', column: 'waa', unit: 'count', reduce: 'last' },
  { id: 'maa', label: 'MAA', query: 'waa-maa', column: 'maa', unit: 'count', reduce: 'last' },
  {
    id: 'delivery-rate',
    label: 'Delivery rate',
    query: 'delivery-rate',
    column: 'delivery_rate',
    unit: 'percent',
    reduce: { numerator: 'delivered', denominator: 'known_outcome_runs' },
  },
  {
    id: 'cost-per-delivered',
    label: COST_PER_DELIVERED,
    query: 'cost-per-outcome',
    column: 'cost_per_delivered_usd',
    unit: 'usd',
    reduce: { numerator: 'cost_usd', denominator: 'delivered_runs' },
  },
  {
    id: 'delivered-runs',
    label: 'Delivered runs',
    query: 'daa',
    column: 'delivered_runs',
    unit: 'count',
    reduce: 'sum',
  },
]

export const PANELS: PanelSpec[] = [
  {
    id: 'daa',
    title: 'Daily Active Agents',
    query: 'daa',
    hint: 'Agents with a delivered run each day, against agents that ran at all.',
    kind: 'timeseries',
    width: 12,
    series: [
      { column: 'daa', label: 'DAA', unit: 'count', drill: 'hide' },
      { column: 'working_agents', label: 'Working agents', unit: 'count', drill: 'hide' },
      { column: 'runs', label: 'Runs', unit: 'count', hidden: true, drill: 'show' },
      { column: 'delivered_runs', label: 'Delivered runs', unit: 'count', hidden: true, drill: 'show' },
    ],
  },
  {
    id: 'waa-maa',
    title: 'WAA, MAA and stickiness',
    query: 'waa-maa',
    hint: 'Trailing 7- and 30-day active agents; stickiness = DAA / MAA.',
    kind: 'timeseries',
    width: 12,
    series: [
      { column: 'daa', label: 'DAA', unit: 'count', hidden: true },
      { column: 'waa', label: 'WAA', unit: 'count' },
      { column: 'maa', label: 'MAA', unit: 'count' },
      { column: 'stickiness', label: 'Stickiness', unit: 'percent', right: true, per: 'maa' },
    ],
  },
  {
    id: 'delivery-rate',
    title: 'Delivery rate and outcome mix',
    query: 'delivery-rate',
    hint: 'Runs by outcome each day; the line is delivered / runs with a known outcome.',
    kind: 'timeseries',
    width: 12,
    series: [
      { column: 'delivered', label: 'Delivered', unit: 'count', bars: true },
      { column: 'partial', label: 'Partial', unit: 'count', bars: true },
      { column: 'failed', label: 'Failed', unit: 'count', bars: true },
      { column: 'abandoned', label: 'Abandoned', unit: 'count', bars: true },
      { column: 'unknown', label: 'Unknown', unit: 'count', bars: true },
      {
        column: 'delivery_rate',
        label: 'Delivery rate',
        unit: 'percent',
        right: true,
        per: 'known_outcome_runs',
      },
    ],
  },
  {
    id: 'cost-per-outcome',
    title: 'Cost and tokens per delivered outcome',
    query: 'cost-per-outcome',
    hint: 'Everything spent (failed runs too) divided by what was delivered.',
    kind: 'timeseries',
    width: 12,
    series: [
      { column: 'cost_per_delivered_usd', label: COST_PER_DELIVERED, unit: 'usd', per: 'delivered_runs' },
      {
        column: 'tokens_per_delivered',
        label: 'Tokens per delivered outcome',
        unit: 'tokens',
        right: true,
        per: 'delivered_runs',
      },
      { column: 'cost_usd', label: 'Cost', unit: 'usd', hidden: true },
    ],
  },
  {
    id: 'value',
    title: 'Value and ROI',
    query: 'value',
    hint: 'Value reported by delivered runs, per unit; ROI = value / cost for currencies.',
    kind: 'timeseries',
    width: 12,
    splitBy: 'unit',
    series: [
      { column: 'value', label: 'Value', unit: 'value' },
      { column: 'roi', label: 'ROI', unit: 'ratio', right: true, per: 'cost_usd' },
    ],
  },
  {
    id: 'people-served',
    title: 'People served',
    query: 'people-served',
    hint: 'Distinct people with a delivered run, against people with any run.',
    kind: 'timeseries',
    width: 12,
    series: [
      { column: 'people_served', label: 'People served', unit: 'count' },
      { column: 'people_with_runs', label: 'People with runs', unit: 'count' },
    ],
  },
  {
    id: 'agent-lifecycle',
    title: 'Agent lifecycle',
    query: 'agent-lifecycle',
    hint: 'New, returning and resurrecting agents add up to DAA; dormant ones drop below zero.',
    kind: 'timeseries',
    width: 12,
    series: [
      { column: 'new_agents', label: 'New', unit: 'count', bars: true },
      { column: 'returning_agents', label: 'Returning', unit: 'count', bars: true },
      { column: 'resurrecting_agents', label: 'Resurrecting', unit: 'count', bars: true },
      { column: 'dormant_agents', label: 'Dormant', unit: 'count', bars: true, negative: true },
    ],
  },
  {
    id: 'run-health',
    title: 'Run health',
    query: 'run-health',
    hint: 'Run latency percentiles; the tool error rate on the right.',
    kind: 'timeseries',
    width: 12,
    series: [
      { column: 'latency_p50_ms', label: 'p50 latency', unit: 'ms', per: 'runs' },
      { column: 'latency_p95_ms', label: 'p95 latency', unit: 'ms', per: 'runs' },
      { column: 'latency_p99_ms', label: 'p99 latency', unit: 'ms', per: 'runs' },
      {
        column: 'tool_error_rate',
        label: 'Tool error rate',
        unit: 'percent',
        right: true,
        per: 'tool_calls',
      },
      { column: 'llm_calls_per_run', label: 'LLM calls per run', unit: 'ratio', hidden: true, per: 'runs' },
      { column: 'tool_calls_per_run', label: 'Tool calls per run', unit: 'ratio', hidden: true, per: 'runs' },
    ],
  },
  {
    id: 'agent-leaderboard',
    title: 'Agent leaderboard',
    query: 'agent-leaderboard',
    hint: 'Ranked by delivered runs. Choose an agent to drill down.',
    kind: 'table',
    width: 24,
    columns: [
      { column: 'rank', label: '#', unit: 'count' },
      { column: 'agent_id', label: 'Agent', unit: 'text' },
      { column: 'runs', label: 'Runs', unit: 'count' },
      { column: 'delivered_runs', label: 'Delivered', unit: 'count' },
      { column: 'delivery_rate', label: 'Delivery rate', unit: 'percent' },
      { column: 'cost_usd', label: 'Cost', unit: 'usd' },
      { column: 'cost_per_delivered_usd', label: COST_PER_DELIVERED, unit: 'usd' },
      { column: 'value', label: 'Value', unit: 'value' },
      { column: 'value_unit', label: 'Unit', unit: 'text' },
      { column: 'people_served', label: 'People', unit: 'count' },
    ],
  },
  {
    id: 'agent-retention',
    title: 'Retention cohorts',
    query: 'agent-retention',
    hint: 'Agents by first delivering day: the share delivering again N days later.',
    kind: 'cohorts',
    width: 12,
    cohort: 'cohort_day',
    offset: 'day_offset',
    size: 'cohort_agents',
    rate: 'retention_rate',
  },
  {
    id: 'outcomes-by-reason',
    title: 'Outcomes by reason',
    query: 'outcomes-by-reason',
    hint: 'Every outcome status and the reason given, over the range.',
    kind: 'table',
    width: 12,
    columns: [
      { column: 'status', label: 'Status', unit: 'text' },
      { column: 'reason', label: 'Reason', unit: 'text' },
      { column: 'runs', label: 'Runs', unit: 'count' },
      { column: 'share_of_runs', label: 'Share', unit: 'percent' },
      { column: 'value', label: 'Value', unit: 'value' },
      { column: 'unit', label: 'Unit', unit: 'text' },
    ],
  },
]

/** The drill-down's list of one agent's latest runs (the built-in page). */
export const RECENT_RUNS: TablePanel = {
  id: 'recent-runs',
  title: 'Recent runs',
  query: 'recent-runs',
  hint: 'The latest runs in the range, newest first.',
  kind: 'table',
  width: 24,
  columns: [
    { column: 'started_at', label: 'Started', unit: 'date' },
    { column: 'outcome', label: 'Outcome', unit: 'text' },
    { column: 'reason', label: 'Reason', unit: 'text' },
    { column: 'value', label: 'Value', unit: 'value' },
    { column: 'unit', label: 'Unit', unit: 'text' },
    { column: 'duration_ms', label: 'Duration', unit: 'ms' },
    { column: 'cost_usd', label: 'Cost', unit: 'usd' },
    { column: 'total_tokens', label: 'Tokens', unit: 'tokens' },
    { column: 'llm_calls', label: 'LLM calls', unit: 'count' },
    { column: 'tool_calls', label: 'Tool calls', unit: 'count' },
    { column: 'tool_errors', label: 'Tool errors', unit: 'count' },
    { column: 'user_id', label: 'Person', unit: 'text' },
  ],
}

/** Every column a panel or a headline figure reads from its saved query. */
export function columnsRead(query: string): string[] {
  const columns = new Set<string>()
  for (const panel of [...PANELS, RECENT_RUNS].filter((candidate) => candidate.query === query)) {
    if (panel.kind === 'timeseries') {
      columns.add('day')
      if (panel.splitBy) columns.add(panel.splitBy)
      for (const series of panel.series) columns.add(series.column)
    } else if (panel.kind === 'table') {
      for (const column of panel.columns) columns.add(column.column)
    } else {
      for (const column of [panel.cohort, panel.offset, panel.size, panel.rate]) columns.add(column)
    }
  }
  for (const stat of STATS.filter((candidate) => candidate.query === query)) {
    if (typeof stat.reduce === 'object') {
      columns.add(stat.reduce.numerator)
      columns.add(stat.reduce.denominator)
    } else columns.add(stat.column)
  }
  return [...columns]
}
