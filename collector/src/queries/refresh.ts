/**
 * Keeps `run_facts` and the rollups built on it (quarter_totals, quarter_outcomes, the bucket
 * tables, person_quarters, agent_days, agent_day_units, person_activity) equal to the raw
 * computation, continuously. The design and the measurements that chose it:
 * collector/docs/metric-layer.md.
 *
 * Each refresh, for the changes logged since the instant the previous refresh covered (its start
 * minus the inserts still in flight then; 1 s at least on one node, 5 s on a cluster):
 * (1) attributes spans that arrived before their run, in the traces that changed (run-resolver.ts);
 * (2) recomputes the facts of every changed run into run_facts: from the raw tables when a run or
 *     span row changed, from its stored row and its outcomes when only outcomes did;
 * (3) re-inserts the rows of the keys those runs touch, layer by layer: the quarter-hour rollups
 *     (each bucket of agents', each agent's, each person's) from run_facts, then the all-agents
 *     rows from the buckets, the day rollups (an agent's UTC day) and the people (a person's row
 *     of every quarter-hour) from the quarter-hour rows.
 * Every table is a ReplacingMergeTree keyed by what it counts, so a re-inserted row replaces the
 * previous one and queries read with FINAL. Only INSERTs: the same statements run on one node, on
 * the embedded engine and through Distributed tables on a cluster. A key that lost all its runs to
 * another outcome (quarter_outcomes, agent_day_units) gets a row of zeros, which queries skip.
 *
 * Work grows with what changed, not with history: 10k late outcomes touch 10k runs and their keys.
 * The refresh is idempotent; a collector refreshes only while it holds the claim (`holdsClaim`), so
 * several collectors take turns instead of repeating each other's work.
 */
import { randomUUID } from 'node:crypto'
import { resolvePendingRuns } from '../ingest/run-resolver.js'
import { columnLines, type TableDefinition } from '../store/schema.js'
import { quoteIdentifier, type Store } from '../store/store.js'
import { PERSON, personActivitySelect, personQuartersSelect } from './people.js'
import {
  AGENT_BUCKET,
  AGENT_DAY_UNITS,
  AGENT_DAYS,
  BUCKET_OUTCOMES,
  BUCKET_TOTALS,
  LOG_KEEP_DAYS,
  PERSON_ACTIVITY,
  PERSON_QUARTERS,
  QUARTER_OUTCOMES,
  QUARTER_TOTALS,
} from './rollup-schema.js'
import {
  agentDaysSelect,
  agentDayUnitsSelect,
  agentQuarterOutcomesSelect,
  agentQuarterTotalsSelect,
  allAgentsOutcomesSelect,
  allAgentsTotalsSelect,
  bucketOutcomesSelect,
  bucketTotalsSelect,
  outcomeFactsSelect,
  type RollupFilter,
  RUN_FACT_COLUMNS,
  runFactsSelect,
} from './run-facts.js'

/** How often a collector refreshes the metrics (DAA_ROLLUP_INTERVAL_MS). */
export const RECOMMENDED_REFRESH_INTERVAL_MS = 1000

/**
 * The least margin a refresh leaves for inserts still in flight on a cluster. A change is logged
 * when its insert runs and becomes visible when the insert commits; a refresh covers the changes
 * logged before its start minus a margin: the age of the oldest insert still running (plus
 * LOCAL_REFRESH_OVERLAP_MS), and on a cluster at least this much, because the inserts of
 * collectors writing through other nodes do not show in this node's `system.processes`. The next
 * refresh starts from there.
 * Covered changes are never missed; the rest are re-read by the next refresh (every refresh re-reads
 * about the margin's worth of changes, so a smaller margin is less work per refresh).
 */
export const REFRESH_OVERLAP_MS = 5_000

/**
 * The margin on one node, where system.processes shows every insert in flight, beyond the age of
 * the oldest one. An insert is listed there from before it logs its changes until after every part
 * it writes is committed, and the list is read after the refresh's `now`: an insert that started
 * before `now` is either in the list (and the margin reaches back past its start) or committed, so
 * the refresh's reads, which come after, see its changes. What is left to cover is the rounding of
 * `changed_at` to milliseconds. It was 1 s: at 25 late outcomes a second that re-read a second's
 * changes in every refresh (collector/docs/metric-layer.md, "A smaller margin on one node").
 */
export const LOCAL_REFRESH_OVERLAP_MS = 100

/** Whether the change log is spread over a cluster's shards (a Distributed table), per store. */
const clustered = new WeakMap<Store, Promise<boolean>>()

function isClustered(store: Store): Promise<boolean> {
  let known = clustered.get(store)
  if (!known) {
    known = store
      .query<{ engine: string }>(
        "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'run_changes'",
      )
      .then(([row]) => row?.engine === 'Distributed')
      .catch(() => true)
    clustered.set(store, known)
  }
  return known
}

/** The start of the covered interval: now minus the margin for inserts still in flight. */
async function coveredUntil(store: Store, now: Date): Promise<Date> {
  let running = 0
  try {
    const [oldest] = await store.query<{ ms: number }>(
      "SELECT toUInt64(max(elapsed) * 1000) AS ms FROM system.processes WHERE query_kind = 'Insert'",
    )
    running = (oldest?.ms ?? 0) + LOCAL_REFRESH_OVERLAP_MS
  } catch {
    // A server that does not show its processes: the cluster's margin, which assumes nothing.
    running = REFRESH_OVERLAP_MS
  }
  const floor = (await isClustered(store)) ? REFRESH_OVERLAP_MS : LOCAL_REFRESH_OVERLAP_MS
  return new Date(now.getTime() - Math.max(floor, running))
}

/** A claim older than this is void: its collector stopped or hangs, and another takes over. */
export const CLAIM_LEASE_MS = 30_000

/** UTC days per INSERT … SELECT in a full rebuild, to bound memory. */
const DAYS_PER_INSERT = 4

/** Runs recomputed per INSERT … SELECT, to bound the join's memory. */
const RUNS_PER_CHUNK = 1_000_000

/**
 * Above this many changed runs, a refresh finds their rows in run_facts by scanning instead of
 * through the run-id bloom filter. The filter is checked once per id per granule, so its cost
 * grows with the ids while a scan's does not, and with ids spread over all of history almost every
 * granule passes anyway. Measured at 10M runs (metric-layer.md), finding the keys of n changed
 * runs with the filter / by scanning: 1,000 ids 0.55 / 0.87 s, 2,000 1.0 / 0.8 s, 7,000 2.05 /
 * 1.0 s, 10,000 2.1–2.3 / 1.4–1.5 s; 100 ids 0.12 / 0.73 s. Both grow with the table's rows, so the
 * crossover does not depend on its size.
 */
const RUN_ID_INDEX_MAX_RUNS = 2_000

/** The SETTINGS clause of a statement that finds `runs` runs in run_facts by id. */
function runIdLookup(runs: number): string {
  return runs > RUN_ID_INDEX_MAX_RUNS ? '\nSETTINGS use_skip_indexes = 0' : ''
}

export interface RefreshOptions {
  /**
   * Recompute what changed at or after this instant. Default: the previous refresh's start minus
   * REFRESH_OVERLAP_MS; a full rebuild when there was none, or when it is older than the change
   * logs keep entries.
   */
  since?: Date
  /** Recompute every run, whatever changed. Default: false. */
  full?: boolean
  /** Who refreshes, recorded in metric_refreshes. Default: 'manual'. */
  holder?: string
}

export interface RefreshReport {
  mode: 'incremental' | 'full'
  /** The watermark used by an incremental refresh; null for a full one. */
  since: Date | null
  /** Runs whose facts were recomputed (a run changed in several tables counts once). */
  runsRefreshed: number
  /** Rollup keys (agent, person and quarter-hour) re-inserted; UTC days for a full refresh. */
  keysRefreshed: number
  /** Passes of the run resolver that attributed spans to their runs. */
  attributionPasses: number
  /**
   * The instant this refresh covers (ClickHouse's clock at its start, minus the margin for inserts
   * in flight): every change logged before it is in the answers. The next refresh's watermark, and
   * the answers' `fresh_as_of`.
   */
  startedAt: Date
  elapsedMs: number
}

/** `2026-01-02 03:04:05.678` in UTC, the text ClickHouse parses into DateTime64(3, 'UTC'). */
function clickHouseTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '')
}

function parseClickHouseTime(text: string): Date {
  return new Date(`${text.replace(' ', 'T')}Z`)
}

async function serverNow(store: Store): Promise<Date> {
  const [now] = await store.query<{ now: string }>("SELECT toString(now64(3, 'UTC')) AS now")
  return parseClickHouseTime(now!.now)
}

const INSERT_FACTS = `INSERT INTO run_facts (${RUN_FACT_COLUMNS.join(', ')})`

const CHANGED_RUNS = `
    SELECT project_id, run_id FROM run_changes
    WHERE changed_at >= {since:DateTime64(3, 'UTC')}`

/** Changed runs with a new run or span row (or logged before the change log had a source). */
const FULLY_CHANGED_RUNS = `${CHANGED_RUNS} AND source != 'outcomes'`

/** Changed runs whose only new rows are outcomes. */
const OUTCOME_CHANGED_RUNS = `${CHANGED_RUNS} AND source = 'outcomes'
    AND (project_id, run_id) NOT IN (${FULLY_CHANGED_RUNS})`

/** The column names of a table, in order, without the version column (it takes its default). */
function columnsOf(table: TableDefinition): string[] {
  return columnLines(table)
    .map((line) => line.name)
    .filter((name) => name !== 'refreshed_at')
}

/** Recomputes the facts of changed runs (or all runs), then their rollup keys, and records the refresh. */
export async function refreshRollups(store: Store, options: RefreshOptions = {}): Promise<RefreshReport> {
  const clock = Date.now()
  const now = await serverNow(store)
  // Recorded as the refresh's start: every change logged before it is in this refresh's answers.
  const startedAt = await coveredUntil(store, now)
  const since = options.full ? null : (options.since ?? (await defaultWatermark(store, now)))

  // Attribution first: the spans it re-inserts log their runs as changed for step 2.
  const attributionPasses = await resolvePendingRuns(store, since === null ? {} : { since })

  let runsRefreshed: number
  let keysRefreshed: number
  if (since === null) {
    const [count] = await store.query<{ runs: number }>(
      'SELECT uniqExact(project_id, run_id) AS runs FROM runs',
    )
    runsRefreshed = count?.runs ?? 0
    await insertFacts(store, runsRefreshed, '1', {}, 'by day')
    const days = (
      await store.query<{ day: string }>(
        'SELECT DISTINCT toString(toDate(start_time)) AS day FROM run_facts ORDER BY day',
      )
    ).map((row) => row.day)
    for (let first = 0; first < days.length; first += DAYS_PER_INSERT) {
      await recomputeRollups(store, dayScope(), { days: days.slice(first, first + DAYS_PER_INSERT) })
    }
    await rebuildPeople(store)
    keysRefreshed = days.length
  } else {
    const params = { since: clickHouseTime(since) }
    const [count] = await store.query<{ runs: number; full: number }>(
      `SELECT uniqExact(project_id, run_id) AS runs, uniqExactIf(project_id, run_id, source != 'outcomes') AS full
       FROM run_changes WHERE changed_at >= {since:DateTime64(3, 'UTC')}`,
      params,
    )
    runsRefreshed = count?.runs ?? 0
    // Runs with a new run or span row are recomputed from the raw tables; runs with only new
    // outcomes (a late outcome for a run of any age) keep their span totals from run_facts.
    await insertFacts(store, count?.full ?? 0, `(project_id, run_id) IN (${FULLY_CHANGED_RUNS})`, params)
    if (runsRefreshed > (count?.full ?? 0)) {
      await store.command(
        `${INSERT_FACTS}\n${outcomeFactsSelect(`(project_id, run_id) IN (${OUTCOME_CHANGED_RUNS})`)}${runIdLookup(runsRefreshed - (count?.full ?? 0))}`,
        params,
      )
    }
    const keys =
      runsRefreshed === 0
        ? []
        : rollupKeys(
            await store.query<KeyRow>(
              // A run's project, agent and start never change, so any version of its run_facts row
              // gives its keys. Every version's person is taken: a run that changed hands (its
              // user id arrived later) has both people rebuilt.
              `SELECT DISTINCT project_id AS p, agent_id AS a, toString(toStartOfFifteenMinutes(start_time)) AS q,
                      if(user_id = '', '', toString(${PERSON})) AS h
               FROM run_facts WHERE (project_id, run_id) IN (${CHANGED_RUNS})${runIdLookup(runsRefreshed)}`,
              params,
            ),
          )
    for (const chunk of chunksOf(keys)) await recomputeRollups(store, keyScope(chunk), {})
    keysRefreshed = keys.length
  }

  const mode = since === null ? 'full' : 'incremental'
  await store.insert('metric_refreshes', [
    {
      started_at: clickHouseTime(startedAt),
      finished_at: clickHouseTime(new Date(now.getTime() + (Date.now() - clock))),
      holder: options.holder ?? 'manual',
      mode,
      runs_refreshed: runsRefreshed,
      keys_refreshed: keysRefreshed,
    },
  ])
  return {
    mode,
    since,
    runsRefreshed,
    keysRefreshed,
    attributionPasses,
    startedAt,
    elapsedMs: Date.now() - clock,
  }
}

async function insertFacts(
  store: Store,
  runs: number,
  filter: string,
  params: Record<string, string>,
  // A full rebuild reads every run's spans: from spans, by day (run-facts.ts, runFactsSelect).
  spans: 'by run' | 'by day' = 'by run',
): Promise<void> {
  if (runs === 0) return
  const chunks = Math.max(1, Math.ceil(runs / RUNS_PER_CHUNK))
  const chunked =
    chunks === 1 ? filter : `(${filter}) AND cityHash64(run_id) % {chunks:UInt64} = {chunk:UInt64}`
  const sql = `${INSERT_FACTS}\n${runFactsSelect(chunked, spans)}`
  for (let chunk = 0; chunk < chunks; chunk++) {
    await store.command(sql, { ...params, chunks, chunk })
  }
}

/**
 * A person's row holds all of their quarter-hours, so it is rebuilt from all of their
 * person_quarters rows: one narrow range (person first), whichever days changed. Named, because a
 * full rebuild runs it on its own, once, after the days (rebuildPeople).
 */
const PERSON_ACTIVITY_STEP = {
  name: 'person activity',
  table: PERSON_ACTIVITY,
  select: personActivitySelect,
  from: 'person_quarters FINAL',
} as const

/**
 * The steps of a recompute, in two waves: the quarter-hour layer from run_facts (each agent's rows,
 * each bucket of agents' rows, each person's); then the all-agents rows from the buckets, the day
 * layer from the per-agent quarter-hour rows and each person's row from their quarter-hour rows.
 * Each step is one INSERT … SELECT into `table` from `from` (read with FINAL). A wave reads only
 * what the wave before it wrote, so its statements are sent together (measured at 10M runs, one
 * refresh after 500 late outcomes: 5.0 s one at a time, 4.7 s in three waves, before the people
 * step; each statement is mostly CPU-bound on two cores).
 */
const WAVES = [
  [
    {
      name: 'agent quarters',
      table: QUARTER_TOTALS,
      select: agentQuarterTotalsSelect,
      from: 'run_facts FINAL',
    },
    {
      name: 'agent quarter outcomes',
      table: QUARTER_OUTCOMES,
      select: agentQuarterOutcomesSelect,
      from: 'run_facts FINAL',
    },
    { name: 'bucket quarters', table: BUCKET_TOTALS, select: bucketTotalsSelect, from: 'run_facts FINAL' },
    {
      name: 'bucket quarter outcomes',
      table: BUCKET_OUTCOMES,
      select: bucketOutcomesSelect,
      from: 'run_facts FINAL',
    },
    {
      name: 'person quarters',
      table: PERSON_QUARTERS,
      select: personQuartersSelect,
      from: 'run_facts FINAL',
    },
  ],
  [
    {
      name: 'all-agents quarters',
      table: QUARTER_TOTALS,
      select: allAgentsTotalsSelect,
      from: 'bucket_totals FINAL',
    },
    {
      name: 'all-agents quarter outcomes',
      table: QUARTER_OUTCOMES,
      select: allAgentsOutcomesSelect,
      from: 'bucket_outcomes FINAL',
    },
    // The day layer reads the per-agent quarter-hour rows only (agent_id != ''), all written by
    // the first wave.
    { name: 'agent days', table: AGENT_DAYS, select: agentDaysSelect, from: 'quarter_totals FINAL' },
    {
      name: 'agent day units',
      table: AGENT_DAY_UNITS,
      select: agentDayUnitsSelect,
      from: 'quarter_outcomes FINAL',
    },
    PERSON_ACTIVITY_STEP,
  ],
] as const

type StepName = (typeof WAVES)[number][number]['name']

/**
 * Which rows each step writes (a step without a filter is skipped) and, for steps whose keys can
 * lose all their runs, which existing rows it zeroes.
 */
interface RollupScope {
  filters: Partial<Record<StepName, RollupFilter>>
  /** The existing rows in scope (a WHERE over the step's table). */
  existing: Partial<Record<StepName, string>>
  /** Settings of every statement (a SETTINGS clause without the keyword). Default: none. */
  settings?: string
}

/**
 * A ClickHouse string literal for any text: quotes and backslashes escaped, and every control
 * character written as \xHH, so that no agent id can end the literal or the statement.
 */
function stringLiteral(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes.
  return `'${text.replace(/[\\'\x00-\x1f\x7f]/g, (char) =>
    char === '\\' || char === "'" ? `\\${char}` : `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
  )}'`
}

/** One rollup key: project, agent and quarter-hour (`YYYY-MM-DD hh:mm:ss`, UTC). */
interface RollupKey {
  p: string
  a: string
  q: string
  /** The people (PERSON, as decimal text) of the key's changed runs. */
  people: string[]
}

/** A row of the keys query: a key and one person of its changed runs ('' for none). */
interface KeyRow {
  p: string
  a: string
  q: string
  h: string
}

/** The keys of the rows, each with the people of its changed runs. */
function rollupKeys(rows: readonly KeyRow[]): RollupKey[] {
  const keys = new Map<string, RollupKey>()
  for (const { p, a, q, h } of rows) {
    const id = JSON.stringify([p, a, q])
    let key = keys.get(id)
    if (!key) {
      key = { p, a, q, people: [] }
      keys.set(id, key)
    }
    if (h !== '') key.people.push(h)
  }
  return [...keys.values()]
}

/**
 * The changed keys, written into the statement as three parallel array literals (project, agent,
 * quarter-hour). Literals rather than a staging table: on a cluster a subquery over a staging table
 * inside each rollup's INSERT … SELECT is not evaluated where the table is (measured: it fails),
 * while literal sets travel with the query to every shard. Literals rather than query parameters:
 * parameters travel in the URL, where ClickHouse's HTTP interface refuses one longer than 100,000
 * characters, so a catch-up went out in chunks of about 2,900 keys, and each chunk cost every
 * statement again. After 10,000 late outcomes at 10M runs, one chunk refreshed in 9.6–11.6 s
 * against 15.0–19.5 s for four (collector/docs/metric-layer.md).
 */
function changedKeys(keys: readonly RollupKey[]): string {
  return literalRows([
    ['project_id', stringArray(keys.map((key) => key.p))],
    ['agent_id', stringArray(keys.map((key) => key.a))],
    ['start_time', `CAST(${stringArray(keys.map((key) => key.q))}, 'Array(DateTime(\\'UTC\\'))')`],
  ])
}

/** An array literal of strings, each escaped (stringLiteral). */
function stringArray(values: readonly string[]): string {
  return `[${values.map(stringLiteral).join(',')}]`
}

/** A SELECT of rows from parallel array literals, one per named column (all of one length). */
function literalRows(columns: readonly (readonly [name: string, array: string])[]): string {
  return `
    SELECT ${columns.map(([name], index) => `k.${index + 1} AS ${name}`).join(', ')}
    FROM (SELECT arrayJoin(arrayZip(${columns.map(([, array]) => array).join(',\n        ')})) AS k)`
}

/**
 * The people of the keys' changed runs, as a SELECT of (project_id, person) over array literals;
 * '' when there are none. A person's hash is a UInt64 literal.
 */
function changedPeople(keys: readonly RollupKey[]): string {
  const projects: string[] = []
  const people: string[] = []
  const seen = new Set<string>()
  for (const key of keys) {
    for (const person of key.people) {
      const id = `${key.p}\u0000${person}`
      if (seen.has(id)) continue
      seen.add(id)
      // Decimal digits only (toString of a UInt64), checked so that nothing else reaches the SQL.
      if (!/^\d+$/.test(person)) throw new Error(`not a person hash: ${JSON.stringify(person)}`)
      projects.push(key.p)
      people.push(person)
    }
  }
  if (people.length === 0) return ''
  return literalRows([
    ['project_id', stringArray(projects)],
    ['person', `CAST([${people.join(',')}], 'Array(UInt64)')`],
  ])
}

/**
 * Characters of key literals per chunk of a refresh: 10,000–20,000 keys, as the ids are longer or
 * shorter (a catch-up of 10,000 late outcomes at 10M runs is one chunk), so that the largest
 * statement (agent days names the keys twice) stays a few megabytes, under the sessions'
 * max_query_size (store.ts), and a catch-up of any size is bounded in memory.
 */
const KEY_LITERAL_CHARS = 1_000_000

function chunksOf(keys: readonly RollupKey[]): RollupKey[][] {
  const chunks: RollupKey[][] = []
  let current: RollupKey[] = []
  let chars = 0
  for (const key of keys) {
    // Each value is written quoted and comma-separated; escapes only lengthen rare ids. A person
    // is its project and its hash.
    const size = key.p.length + key.a.length + key.q.length + 9 + key.people.length * (key.p.length + 24)
    if (current.length > 0 && chars + size > KEY_LITERAL_CHARS) {
      chunks.push(current)
      current = []
      chars = 0
    }
    current.push(key)
    chars += size
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

function keyScope(keys: readonly RollupKey[]): RollupScope {
  const CHANGED_KEYS = changedKeys(keys)
  // An agent's UTC days, and the days after them (whose rows carry the previous day's bitmaps).
  const agentDays = `SELECT project_id, agent_id, toDate(start_time) + arrayJoin([0, 1]) FROM (${CHANGED_KEYS})`
  const agentDaysOwn = `SELECT project_id, agent_id, toDate(start_time) FROM (${CHANGED_KEYS})`
  const quarters = `SELECT project_id, start_time FROM (${CHANGED_KEYS})`
  const people = changedPeople(keys)
  // Each filter is a prefix of its source's sorting key, so it reads only the keys' ranges:
  // run_facts (project, quarter-hour, bucket, agent), the bucket tables (project, quarter-hour,
  // bucket), quarter_totals and quarter_outcomes (project, agent, quarter-hour).
  const agentQuarters = `(project_id, toStartOfFifteenMinutes(start_time), ${AGENT_BUCKET}, agent_id) IN (
        SELECT project_id, start_time, ${AGENT_BUCKET}, agent_id FROM (${CHANGED_KEYS}))`
  const bucketQuarters = `(project_id, toStartOfFifteenMinutes(start_time), ${AGENT_BUCKET}) IN (
        SELECT project_id, start_time, ${AGENT_BUCKET} FROM (${CHANGED_KEYS}))`
  return {
    // The five statements of a wave run side by side on the server's cores, each over a few hundred
    // narrow ranges: one thread each spends less CPU on them than two threads each (measured at 10M
    // runs, refreshes after 100 late outcomes spread over the month, in alternation: 3.46-3.79
    // against 3.85-4.03 ClickHouse CPU s, 2.0-2.3 against 2.2-2.6 s; metric-layer.md).
    settings: 'max_threads = 1',
    filters: {
      'agent quarters': { runs: agentQuarters },
      'agent quarter outcomes': { runs: agentQuarters },
      'bucket quarters': { runs: bucketQuarters },
      'bucket quarter outcomes': { runs: bucketQuarters },
      'person quarters': { runs: agentQuarters },
      // The people of the changed runs, found with the keys: only their person_quarters rows can
      // differ from before (wave 1 rewrote the other people of the same keys as they were).
      // Looking them up here instead, from every run of the changed keys in run_facts, was most
      // of this statement: 4.7 of 4.9–5.4 s after 10,000 late outcomes at 10M runs.
      ...(people.length > 0 ? { 'person activity': { runs: `(project_id, person) IN (${people})` } } : {}),
      'all-agents quarters': { runs: `(project_id, quarter) IN (${quarters})` },
      'all-agents quarter outcomes': { runs: `(project_id, quarter) IN (${quarters})` },
      // The changed days and the days after them, read with the days before them.
      'agent days': {
        runs: `(project_id, agent_id, toDate(quarter)) IN (
        SELECT project_id, agent_id, toDate(start_time) + arrayJoin([-1, 0, 1]) FROM (${CHANGED_KEYS}))`,
        days: `(project_id, agent_id, day) IN (${agentDays})`,
      },
      'agent day units': { runs: `(project_id, agent_id, toDate(quarter)) IN (${agentDaysOwn})` },
    },
    existing: {
      'agent quarter outcomes': `agent_id != '' AND (project_id, agent_id, quarter) IN (
        SELECT project_id, agent_id, start_time FROM (${CHANGED_KEYS}))`,
      'bucket quarter outcomes': `(project_id, quarter, bucket) IN (
        SELECT project_id, start_time, ${AGENT_BUCKET} FROM (${CHANGED_KEYS}))`,
      'all-agents quarter outcomes': `agent_id = '' AND (project_id, quarter) IN (${quarters})`,
      'agent day units': `(project_id, agent_id, day) IN (${agentDaysOwn})`,
    },
  }
}

/** Every key of the UTC days in the {days:Array(Date)} parameter (a full rebuild, a few days at a time). */
function dayScope(): RollupScope {
  const days = { runs: 'toDate(start_time) IN {days:Array(Date)}' }
  const quarterDays = 'toDate(quarter) IN {days:Array(Date)}'
  return {
    filters: {
      'agent quarters': days,
      'agent quarter outcomes': days,
      'bucket quarters': days,
      'bucket quarter outcomes': days,
      'person quarters': days,
      // Not per day: a person's row holds every day, so a rebuild builds it once, after the days.
      'all-agents quarters': { runs: quarterDays },
      'all-agents quarter outcomes': { runs: quarterDays },
      'agent days': {
        runs: `${quarterDays} OR toDate(quarter) + 1 IN {days:Array(Date)}`,
        days: 'day IN {days:Array(Date)}',
      },
      'agent day units': { runs: quarterDays },
    },
    existing: {
      'agent quarter outcomes': `agent_id != '' AND ${quarterDays}`,
      'bucket quarter outcomes': quarterDays,
      'all-agents quarter outcomes': `agent_id = '' AND ${quarterDays}`,
      'agent day units': 'day IN {days:Array(Date)}',
    },
  }
}

/** The measures of the rollups that may need rows of zeros, and each one's zero. */
const ZERO_MEASURES: Record<string, Record<string, string>> = {
  [AGENT_DAY_UNITS.name]: { delivered_runs: 'toUInt64(0)', value: 'toFloat64(0)' },
  [QUARTER_OUTCOMES.name]: { runs: 'toUInt64(0)', value: 'toFloat64(0)' },
  [BUCKET_OUTCOMES.name]: { runs: 'toUInt64(0)', value: 'toFloat64(0)' },
}

/** Re-inserts every rollup row in `scope`: one INSERT per step, wave after wave (each reads the one before). */
async function recomputeRollups(
  store: Store,
  scope: RollupScope,
  params: Record<string, string | string[]>,
): Promise<void> {
  for (const wave of WAVES) {
    await Promise.all(
      wave
        .filter((step) => scope.filters[step.name])
        .map((step) => store.command(recomputeStatement(step, scope), params)),
    )
  }
}

/** person_quarters rows per INSERT … SELECT when a rebuild builds every person's row, to bound memory. */
const PERSON_ROWS_PER_CHUNK = 5_000_000

/** Builds every person's person_activity row (a full rebuild, once its days are done), in chunks of people. */
async function rebuildPeople(store: Store): Promise<void> {
  const [count] = await store.query<{ rows: number }>('SELECT count() AS rows FROM person_quarters')
  const chunks = Math.max(1, Math.ceil((count?.rows ?? 0) / PERSON_ROWS_PER_CHUNK))
  const scope: RollupScope = {
    filters: { [PERSON_ACTIVITY_STEP.name]: { runs: 'person % {chunks:UInt64} = {chunk:UInt64}' } },
    existing: {},
  }
  const sql = recomputeStatement(PERSON_ACTIVITY_STEP, scope)
  for (let chunk = 0; chunk < chunks; chunk++) {
    await store.command(sql, { chunks: String(chunks), chunk: String(chunk) })
  }
}

function recomputeStatement(step: (typeof WAVES)[number][number], scope: RollupScope): string {
  const { name, table, select, from } = step
  const columns = columnsOf(table)
  const target = `INSERT INTO ${quoteIdentifier(table.name)} (${columns.join(', ')})`
  const filter = scope.filters[name]
  if (!filter) throw new Error(`no rows in scope for the rollup step "${name}"`)
  const fresh = select(from, filter)
  const zeros = ZERO_MEASURES[table.name]
  const existing = scope.existing[name]
  const settings = scope.settings ? `\nSETTINGS ${scope.settings}` : ''
  if (!zeros || !existing) return `${target}\n${fresh}${settings}`
  // Rows of this key set that exist now but have no runs any more become zeros; a fresh row wins.
  const keys = columns.filter((column) => !(column in zeros))
  const zeroRow = columns.map((column) => (column in zeros ? `${zeros[column]} AS ${column}` : column))
  return `${target}
SELECT ${columns.join(', ')} FROM (
    SELECT ${columns.join(', ')}, 1 AS is_fresh FROM (${fresh}
    )
    UNION ALL
    SELECT ${zeroRow.join(', ')}, 0 AS is_fresh FROM ${quoteIdentifier(table.name)} FINAL WHERE ${existing}
)
ORDER BY is_fresh DESC
LIMIT 1 BY ${keys.join(', ')}${settings}`
}

/** The previous refresh's start minus the overlap; null (rebuild) when there is none usable. */
async function defaultWatermark(store: Store, now: Date): Promise<Date | null> {
  const latest = await lastRefresh(store)
  if (!latest) return null
  const since = latest
  const oldestLogged = now.getTime() - (LOG_KEEP_DAYS - 1) * 86_400_000
  return since.getTime() < oldestLogged ? null : since
}

/**
 * When the latest finished refresh began: every change committed before it is in the metrics.
 * Null when the metrics were never refreshed.
 */
export async function lastRefresh(store: Store): Promise<Date | null> {
  // Newest first along the sorting key: reads one granule, however many refreshes are kept.
  const [last] = await store.query<{ started: string }>(
    'SELECT toString(started_at) AS started FROM metric_refreshes ORDER BY started_at DESC LIMIT 1',
  )
  return last ? parseClickHouseTime(last.started) : null
}

/** The newest claim younger than the lease; undefined when there is none, or it was released. */
async function latestClaim(store: Store): Promise<{ holder: string; age_ms: number } | undefined> {
  const [row] = await store.query<{ holder: string; age_ms: number }>(
    `SELECT argMax(holder, (claimed_at, holder)) AS holder,
            toInt64(dateDiff('millisecond', max(claimed_at), now64(3, 'UTC'))) AS age_ms
     FROM refresh_claims
     WHERE claimed_at >= now64(3, 'UTC') - toIntervalMillisecond({lease:UInt64})`,
    { lease: CLAIM_LEASE_MS },
  )
  return row && row.holder !== '' ? row : undefined
}

async function writeClaim(store: Store, holder: string): Promise<void> {
  await store.command(
    "INSERT INTO refresh_claims (holder, claimed_at) SELECT {holder:String}, now64(3, 'UTC')",
    { holder },
  )
}

/**
 * Whether `holder` may refresh now: it writes a claim unless another collector's claim is younger
 * than CLAIM_LEASE_MS, then holds it if the newest claim is its own (ties: the larger holder id).
 */
export async function holdsClaim(store: Store, holder: string): Promise<boolean> {
  const before = await latestClaim(store)
  if (before && before.holder !== holder) return false
  await writeClaim(store, holder)
  return (await latestClaim(store))?.holder === holder
}

/**
 * Gives up `holder`'s claim, if the newest claim is its own, so that another collector takes over
 * at its next tick instead of after the lease: a claim by the empty holder is no one's.
 */
export async function releaseClaim(store: Store, holder: string): Promise<void> {
  if ((await latestClaim(store))?.holder === holder) await writeClaim(store, '')
}

export interface RollupRefresher {
  /** Stops the loop after the refresh in progress, if any, and gives up the claim if it held it. */
  stop(): Promise<void>
}

/**
 * Refreshes the metrics now and then every `intervalMs`, while this collector holds the claim;
 * errors go to `onError` and the loop goes on. A refresh that outlasts the interval is not
 * overlapped: the ticks during it are skipped.
 */
export function startRollupRefresher(
  store: Store,
  options: {
    intervalMs?: number
    onError?: (error: unknown) => void
    /** Called after each refresh this refresher finishes. */
    onRefreshed?: (report: RefreshReport) => void
    holder?: string
  } = {},
): RollupRefresher {
  const intervalMs = options.intervalMs ?? RECOMMENDED_REFRESH_INTERVAL_MS
  const holder = options.holder ?? randomUUID()
  let current: Promise<void> | undefined
  let stopped = false
  const tick = () => {
    if (stopped || current) return
    current = (async () => {
      if (!(await holdsClaim(store, holder))) return
      // Not inside `onRefreshed?.(…)`: an optional call skips evaluating its arguments.
      const report = await refreshRollups(store, { holder })
      options.onRefreshed?.(report)
    })()
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        current = undefined
      })
  }
  tick()
  // A fixed tick, not a refresh started as soon as the previous one ends: a long refresh is
  // followed by a pause until the next tick, during which changes gather into the next refresh.
  // Back to back, refreshes were smaller and more frequent and the metrics staler (metric-layer.md).
  const timer = setInterval(tick, intervalMs)
  timer.unref()
  return {
    async stop() {
      stopped = true
      clearInterval(timer)
      await current
      // A collector shutting down hands over now; one that died leaves its claim to the lease.
      await releaseClaim(store, holder).catch((error: unknown) => options.onError?.(error))
    },
  }
}
