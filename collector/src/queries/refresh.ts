/**
 * Keeps `run_facts` equal to the raw computation. See rollup-schema.ts for the design.
 *
 * Cadence: call `refreshRollups(store)` every minute (RECOMMENDED_REFRESH_INTERVAL_MS) from one or
 * more collectors; `startRollupRefresher` does that. The saved queries see a run's newest spans
 * and outcomes once a refresh has run after they were inserted, so dashboards lag by at most one
 * interval plus the refresh's own duration. The refresh is idempotent: concurrent or repeated
 * refreshes are safe and only repeat work.
 */
import type { Store } from '../store/store.js'
import { RUN_CHANGES_KEEP_DAYS } from './rollup-schema.js'
import { RUN_FACT_COLUMNS, runFactsSelect } from './run-facts.js'

/** How often the collector should refresh the rollup. */
export const RECOMMENDED_REFRESH_INTERVAL_MS = 60_000

/**
 * How far before the previous refresh's start the next one looks again. An insert stamps the change
 * log when it starts but becomes visible when it commits; anything committing within this margin
 * after a refresh began is picked up by the next one.
 */
export const REFRESH_OVERLAP_MS = 5 * 60_000

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
  if (since === null) {
    const [count] = await store.query<{ runs: number }>(
      'SELECT uniqExact(project_id, run_id) AS runs FROM runs',
    )
    runsRefreshed = count?.runs ?? 0
    await insertInChunks(store, runsRefreshed, 'cityHash64(run_id) % {chunks:UInt64} = {chunk:UInt64}', {})
  } else {
    const params = { since: clickHouseTime(since) }
    const [count] = await store.query<{ runs: number }>(
      "SELECT uniqExact(project_id, run_id) AS runs FROM run_changes WHERE changed_at >= {since:DateTime64(3, 'UTC')}",
      params,
    )
    runsRefreshed = count?.runs ?? 0
    await insertInChunks(store, runsRefreshed, `(project_id, run_id) IN (${CHANGED_RUNS})`, params)
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
