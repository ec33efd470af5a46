/**
 * Keeps `run_facts` and the day rollups built on it (agent_days, agent_day_units, quarter_totals,
 * quarter_outcomes, people_quarters) equal to the raw computation. See rollup-schema.ts for the design.
 *
 * Each refresh: (1) recomputes the facts of the runs changed since the watermark into run_facts;
 * (2) rebuilds every UTC day those runs started on (and, for agent_days, the day after, whose rows
 * carry the previous day's bitmaps) in each day rollup: the day's rows are computed from run_facts
 * into a staging table private to this refresh, then swapped in with REPLACE PARTITION (or the day
 * dropped when it has no rows). The day rollups so hold one row per key and are read without FINAL.
 *
 * Single node and embedded only for step 2 as written: on a cluster the swap has to run against each
 * shard's local tables (REPLACE PARTITION is local to a table; Replicated engines replicate it).
 *
 * Cadence: call `refreshRollups(store)` every minute (RECOMMENDED_REFRESH_INTERVAL_MS) from one or
 * more collectors; `startRollupRefresher` does that. The saved queries see a run's newest spans
 * and outcomes once a refresh has run after they were inserted, so dashboards lag by at most one
 * interval plus the refresh's own duration. The refresh is idempotent: concurrent or repeated
 * refreshes are safe and only repeat work.
 */
import { randomUUID } from 'node:crypto'
import type { TableDefinition } from '../store/schema.js'
import { quoteIdentifier, type Store } from '../store/store.js'
import {
  AGENT_DAY_UNITS,
  AGENT_DAYS,
  DAY_ROLLUPS,
  PEOPLE_QUARTERS,
  QUARTER_OUTCOMES,
  QUARTER_TOTALS,
  RUN_CHANGES_KEEP_DAYS,
} from './rollup-schema.js'
import {
  agentDaysSelect,
  agentDayUnitsSelect,
  peopleQuartersSelect,
  quarterOutcomesSelect,
  quarterTotalsSelect,
  RUN_FACT_COLUMNS,
  runFactsSelect,
} from './run-facts.js'

/** How often the collector should refresh the rollup. */
export const RECOMMENDED_REFRESH_INTERVAL_MS = 60_000

/**
 * How far before the previous refresh's start the next one looks again. An insert stamps the change
 * log when it starts but becomes visible when it commits; anything committing within this margin
 * after a refresh began is picked up by the next one.
 */
export const REFRESH_OVERLAP_MS = 5 * 60_000

/** UTC days rebuilt per INSERT … SELECT into a day rollup's staging table, to bound memory. */
const DAYS_PER_INSERT = 4

/** Runs recomputed per INSERT … SELECT, to bound the join's memory. */
const RUNS_PER_CHUNK = 1_000_000

export interface RefreshOptions {
  /**
   * Recompute the runs changed at or after this instant. Default: the previous refresh's start minus
   * REFRESH_OVERLAP_MS; a full rebuild when there was none, or when it is older than the change log
   * keeps entries (RUN_CHANGES_KEEP_DAYS).
   */
  since?: Date
  /** Recompute every run, whatever changed. Default: false. */
  full?: boolean
}

export interface RefreshReport {
  mode: 'incremental' | 'full'
  /** The watermark used by an incremental refresh; null for a full one. */
  since: Date | null
  /** Runs whose facts were recomputed (a run changed in several tables counts once). */
  runsRefreshed: number
  /** UTC days whose day-rollup partitions (DAY_ROLLUPS) were rebuilt. */
  daysRebuilt: number
  /** ClickHouse's clock when the refresh began: the next refresh's watermark. */
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

const INSERT_FACTS = `INSERT INTO run_facts (${RUN_FACT_COLUMNS.join(', ')})`

const CHANGED_RUNS = `
    SELECT project_id, run_id FROM run_changes
    WHERE changed_at >= {since:DateTime64(3, 'UTC')}
      AND cityHash64(run_id) % {chunks:UInt64} = {chunk:UInt64}`

/** Recomputes the facts of changed runs (or all runs) and records the refresh. */
export async function refreshRollups(store: Store, options: RefreshOptions = {}): Promise<RefreshReport> {
  const clock = Date.now()
  const [now] = await store.query<{ now: string }>("SELECT toString(now64(3, 'UTC')) AS now")
  const startedAt = parseClickHouseTime(now!.now)
  const since = options.full ? null : (options.since ?? (await defaultWatermark(store, startedAt)))

  let runsRefreshed: number
  let days: string[]
  if (since === null) {
    const [count] = await store.query<{ runs: number }>(
      'SELECT uniqExact(project_id, run_id) AS runs FROM runs',
    )
    runsRefreshed = count?.runs ?? 0
    await insertInChunks(store, runsRefreshed, 'cityHash64(run_id) % {chunks:UInt64} = {chunk:UInt64}', {})
    days = (
      await store.query<{ day: string }>('SELECT DISTINCT toString(toDate(start_time)) AS day FROM run_facts')
    ).map((row) => row.day)
  } else {
    const params = { since: clickHouseTime(since) }
    const [count] = await store.query<{ runs: number }>(
      "SELECT uniqExact(project_id, run_id) AS runs FROM run_changes WHERE changed_at >= {since:DateTime64(3, 'UTC')}",
      params,
    )
    runsRefreshed = count?.runs ?? 0
    await insertInChunks(store, runsRefreshed, `(project_id, run_id) IN (${CHANGED_RUNS})`, params)
    days =
      runsRefreshed === 0
        ? []
        : (
            await store.query<{ day: string }>(
              `SELECT DISTINCT toString(toDate(start_time)) AS day FROM run_facts
               WHERE (project_id, run_id) IN (
                   SELECT project_id, run_id FROM run_changes WHERE changed_at >= {since:DateTime64(3, 'UTC')})`,
              params,
            )
          ).map((row) => row.day)
  }
  days.sort()
  for (const table of DAY_ROLLUPS) {
    // An agent_days row carries the previous day's bitmaps: a changed day changes the next day's rows.
    const rebuilt =
      table === AGENT_DAYS ? [...new Set(days.flatMap((day) => [day, nextDay(day)]))].sort() : days
    await rebuildDays(store, table, rebuilt)
  }

  await store.insert('rollup_refreshes', [
    {
      started_at: clickHouseTime(startedAt),
      finished_at: clickHouseTime(new Date(startedAt.getTime() + (Date.now() - clock))),
      mode: since === null ? 'full' : 'incremental',
      runs_refreshed: runsRefreshed,
    },
  ])
  return {
    mode: since === null ? 'full' : 'incremental',
    since,
    runsRefreshed,
    daysRebuilt: days.length,
    startedAt,
    elapsedMs: Date.now() - clock,
  }
}

async function insertInChunks(
  store: Store,
  runs: number,
  filter: string,
  params: Record<string, string>,
): Promise<void> {
  if (runs === 0) return
  const chunks = Math.max(1, Math.ceil(runs / RUNS_PER_CHUNK))
  const sql = `${INSERT_FACTS}\n${runFactsSelect(filter)}`
  for (let chunk = 0; chunk < chunks; chunk++) {
    await store.command(sql, { ...params, chunks, chunk })
  }
}

const DAY_ROLLUP_SELECTS: Record<string, (source: string, days: boolean) => string> = {
  [AGENT_DAYS.name]: agentDaysSelect,
  [AGENT_DAY_UNITS.name]: agentDayUnitsSelect,
  [QUARTER_TOTALS.name]: quarterTotalsSelect,
  [QUARTER_OUTCOMES.name]: quarterOutcomesSelect,
  [PEOPLE_QUARTERS.name]: peopleQuartersSelect,
}

/**
 * Rebuilds the given UTC days (YYYY-MM-DD) of a day rollup from run_facts: each day's partition is
 * computed whole into a staging table of this refresh's own, then swapped in with REPLACE
 * PARTITION, which is atomic per partition. The table so holds exactly one row per key; a
 * concurrent refresh of the same day swaps in the same rows computed a moment later.
 */
async function rebuildDays(store: Store, table: TableDefinition, days: readonly string[]): Promise<void> {
  if (days.length === 0) return
  const target = quoteIdentifier(table.name)
  const stagingName = `${table.name}_staging_${randomUUID().replaceAll('-', '')}`
  const staging = quoteIdentifier(stagingName)
  const select = DAY_ROLLUP_SELECTS[table.name]!
  await store.command(`CREATE TABLE ${staging} AS ${target}`)
  try {
    for (let first = 0; first < days.length; first += DAYS_PER_INSERT) {
      const batch = days.slice(first, first + DAYS_PER_INSERT)
      await store.command(`INSERT INTO ${staging}\n${select('run_facts FINAL', true)}`, {
        days: batch,
        days_and_previous: [...new Set(batch.flatMap((day) => [previousDay(day), day]))],
      })
      const filled = new Set(
        (
          await store.query<{ partition_id: string }>(
            'SELECT DISTINCT partition_id FROM system.parts WHERE database = currentDatabase() AND table = {table:String} AND active',
            { table: stagingName },
          )
        ).map((row) => row.partition_id),
      )
      for (const day of batch) {
        // Partition ids of a Date partition key are YYYYMMDD; `day` comes from ClickHouse's toString(Date).
        if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`unexpected day "${day}"`)
        const partition = day.replaceAll('-', '')
        // ClickHouse refuses to REPLACE from an empty partition; a day without rows is dropped instead.
        await store.command(
          filled.has(partition)
            ? `ALTER TABLE ${target} REPLACE PARTITION ID '${partition}' FROM ${staging}`
            : `ALTER TABLE ${target} DROP PARTITION ID '${partition}'`,
        )
      }
    }
  } finally {
    await store.command(`DROP TABLE IF EXISTS ${staging} SYNC`)
  }
}

function previousDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10)
}

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)
}

/** The previous refresh's start minus the overlap; null (rebuild) when there is none usable. */
async function defaultWatermark(store: Store, now: Date): Promise<Date | null> {
  const [last] = await store.query<{ started: string; refreshes: number }>(
    'SELECT toString(max(started_at)) AS started, count() AS refreshes FROM rollup_refreshes',
  )
  if (!last || last.refreshes === 0) return null
  const since = new Date(parseClickHouseTime(last.started).getTime() - REFRESH_OVERLAP_MS)
  const oldestLogged = now.getTime() - (RUN_CHANGES_KEEP_DAYS - 1) * 86_400_000
  return since.getTime() < oldestLogged ? null : since
}

export interface RollupRefresher {
  /** Stops the loop after the refresh in progress, if any. */
  stop(): Promise<void>
}

/** Refreshes the rollup now and then every `intervalMs`; errors go to `onError` and the loop goes on. */
export function startRollupRefresher(
  store: Store,
  options: { intervalMs?: number; onError?: (error: unknown) => void } = {},
): RollupRefresher {
  const intervalMs = options.intervalMs ?? RECOMMENDED_REFRESH_INTERVAL_MS
  let current: Promise<void> | undefined
  let stopped = false
  // A refresh that outlasts the interval is not overlapped by the next tick; that tick is skipped.
  const tick = () => {
    if (stopped || current) return
    current = refreshRollups(store)
      .then(
        () => undefined,
        (error: unknown) => options.onError?.(error),
      )
      .finally(() => {
        current = undefined
      })
  }
  tick()
  const timer = setInterval(tick, intervalMs)
  timer.unref()
  return {
    async stop() {
      stopped = true
      clearInterval(timer)
      await current
    },
  }
}
