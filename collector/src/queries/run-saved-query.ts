/**
 * Validates a request's parameters and runs a saved query for one project. The project is always
 * the caller's (the API key's, or the CLI's `--project`), never a request parameter.
 */
import { z } from 'zod'
import { ClickHouseError, type Store } from '../store/store.js'
import { lastRefresh } from './refresh.js'
import { RAW_SOURCES } from './run-facts.js'
import { replaceRollupSources, type SavedQuery, savedQueries } from './saved-queries.js'

/** Longest range one request may ask for, in calendar days (from and to inclusive). */
export const MAX_RANGE_DAYS = 366

/** Why a saved-query request was refused; `status` is the HTTP status it maps to. */
export class SavedQueryRequestError extends Error {
  override readonly name = 'SavedQueryRequestError'
  constructor(
    /**
     * unknown_time_zone: a tz ClickHouse's time zone database does not hold, which may be a real
     * zone newer than it (a client can fall back to another zone on it).
     */
    readonly code: 'unknown_query' | 'invalid_parameters' | 'unknown_time_zone',
    message: string,
  ) {
    super(message)
  }

  get status(): 400 | 404 {
    return this.code === 'unknown_query' ? 404 : 400
  }
}

const isoDate = z
  .string({ error: 'is required, as YYYY-MM-DD' })
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD')
  .refine((text) => {
    const parsed = Date.parse(`${text}T00:00:00Z`)
    // Only well-formed text gets here meaningfully; the regex reports the rest.
    return (
      !/^\d{4}-\d{2}-\d{2}$/.test(text) ||
      (!Number.isNaN(parsed) && new Date(parsed).toISOString().startsWith(text))
    )
  }, 'is not a calendar date')
  .refine((text) => text >= '2000-01-01' && text <= '2100-12-31', 'must be between 2000-01-01 and 2100-12-31')

/** The longest agent id a query can be filtered by. */
const AGENT_PARAM_MAX_CHARS = 16_384

/** The parameters a request may set; anything else (`project` included) is refused. */
const RequestParams = z
  .strictObject(
    {
      from: isoDate,
      to: isoDate,
      tz: z.string().min(1, 'must not be empty').max(64).default('UTC'),
      // Agent ids are what senders wrote, so the page must be able to drill into a long one (the
      // POST it sends holds the id a dozen times within its 1 MiB). 16,384 characters keeps the
      // parameter, which travels to ClickHouse in its URL, well inside what ClickHouse reads.
      agent: z
        .string()
        .max(AGENT_PARAM_MAX_CHARS, `is longer than ${AGENT_PARAM_MAX_CHARS} characters`)
        .default(''),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown parameter${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}` +
            (issue.keys.includes('project') ? ' (the project comes from the API key)' : '')
          : undefined,
    },
  )
  // The range is checked only once both ends are dates: a bad date is reported alone. The messages
  // name both fields themselves, so they carry no path to be prefixed with.
  .refine((params) => params.from <= params.to, {
    message: 'from must not be after to',
    when: (payload) => payload.issues.length === 0,
  })
  .refine((params) => rangeDays(params.from, params.to) <= MAX_RANGE_DAYS, {
    message: `the range from … to must be at most ${MAX_RANGE_DAYS} days`,
    when: (payload) => payload.issues.length === 0,
  })

export type SavedQueryParams = z.output<typeof RequestParams>

function rangeDays(from: string, to: string): number {
  return (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1
}

/** Looks a saved query up by name; SavedQueryRequestError (404) when there is none. */
export function findSavedQuery(name: string): SavedQuery {
  const query = savedQueries().get(name)
  if (!query) {
    throw new SavedQueryRequestError(
      'unknown_query',
      `There is no saved query "${name}". Known: ${[...savedQueries().keys()].join(', ')}.`,
    )
  }
  return query
}

const knownTimeZones = new WeakMap<Store, Promise<ReadonlySet<string>>>()

/** The time zones this ClickHouse knows (its tz database decides what a day is), cached per store. */
function timeZonesOf(store: Store): Promise<ReadonlySet<string>> {
  let zones = knownTimeZones.get(store)
  if (!zones) {
    zones = store
      .query<{ time_zone: string }>('SELECT time_zone FROM system.time_zones')
      .then((rows) => new Set(rows.map((row) => row.time_zone)))
    zones.catch(() => knownTimeZones.delete(store))
    knownTimeZones.set(store, zones)
  }
  return zones
}

/** Days in the range asked for when a request names neither end: the page's default range too. */
export const DEFAULT_RANGE_DAYS = 30

/** Today's calendar date in `tz` (UTC where the runtime does not know the zone). */
function todayIn(tz: unknown): string {
  try {
    // en-CA formats a date as YYYY-MM-DD.
    return new Intl.DateTimeFormat('en-CA', { timeZone: typeof tz === 'string' ? tz : 'UTC' }).format(
      new Date(),
    )
  } catch {
    return new Date().toISOString().slice(0, 10)
  }
}

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10)
}

/**
 * A missing end of the range: `to` is today in the request's time zone and `from` the day that makes
 * the range DEFAULT_RANGE_DAYS long, so `daa query daa --project demo` and a bare GET answer for the
 * last 30 days. An end that is given is kept as given (and validated).
 */
function withDefaultRange(raw: Record<string, unknown>): Record<string, unknown> {
  if (raw.from !== undefined && raw.to !== undefined) return raw
  const to = raw.to ?? todayIn(raw.tz ?? 'UTC')
  const from =
    raw.from ??
    (typeof to === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(to)
      ? addDays(to, 1 - DEFAULT_RANGE_DAYS)
      : undefined)
  return { ...raw, from, to }
}

/**
 * Validates raw request parameters (strings from a URL or a command line). A missing `from` or `to`
 * takes its default (withDefaultRange); the answer's `params` say which range was read.
 */
export async function validateParams(store: Store, raw: Record<string, unknown>): Promise<SavedQueryParams> {
  const parsed = RequestParams.safeParse(withDefaultRange(raw))
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) =>
      issue.path.length > 0 ? `${issue.path.join('.')} ${issue.message}` : issue.message,
    )
    throw new SavedQueryRequestError('invalid_parameters', `Invalid parameters: ${problems.join('; ')}.`)
  }
  if (!(await timeZonesOf(store)).has(parsed.data.tz)) {
    throw new SavedQueryRequestError(
      'unknown_time_zone',
      `Invalid parameters: tz "${parsed.data.tz}" is not an IANA time zone ClickHouse knows (e.g. UTC, America/Los_Angeles, Asia/Kolkata).`,
    )
  }
  return parsed.data
}

export interface SavedQueryResult {
  query: string
  /** The validated parameters (the project is not echoed). */
  params: SavedQueryParams
  columns: { name: string; type: string }[]
  rows: Record<string, unknown>[]
  /**
   * How fresh the answer is: every span, run and outcome acknowledged before this instant (ISO 8601,
   * UTC) is included; null when the metrics were never refreshed. The raw path is always current.
   */
  fresh_as_of: string | null
  elapsed_ms: number
}

/** Significant digits kept in Float64 results (money, values, ratios): see roundFloats. */
export const FLOAT_DIGITS = 12

/**
 * Rounds Float64 results to FLOAT_DIGITS significant digits. Costs and values are recorded with
 * at most a few decimals, but their sums in binary floating point carry errors in the 16th digit
 * (five runs of 0.0021 USD add up to 0.010499999999999999): rounded, they print as recorded
 * (0.0105), in the API, the CSV and the CLI alike. Twelve digits keep every cent of a trillion.
 */
function roundFloats(rows: Record<string, unknown>[], columns: readonly { name: string; type: string }[]) {
  const floats = columns.filter((column) => column.type.includes('Float')).map((column) => column.name)
  if (floats.length === 0) return rows
  for (const row of rows) {
    for (const name of floats) {
      const value = row[name]
      if (typeof value === 'number' && Number.isFinite(value) && value !== 0) {
        row[name] = Number(value.toPrecision(FLOAT_DIGITS))
      }
    }
  }
  return rows
}

/** Time and memory one metrics query may take on ClickHouse (its max_execution_time and max_memory_usage). */
export interface QueryLimits {
  /** Seconds. Default 30 (DAA_QUERY_TIMEOUT_S). */
  maxExecutionSeconds?: number
  /** Bytes. Default 4 GiB (DAA_QUERY_MAX_MEMORY_MB). */
  maxMemoryBytes?: number
}

export const DEFAULT_QUERY_LIMITS = { maxExecutionSeconds: 30, maxMemoryBytes: 4096 * 1024 * 1024 } as const

/** A saved query stopped at its time or memory limit: the server was not wrong, the question was too big. */
export class SavedQueryLimitError extends Error {
  override readonly name = 'SavedQueryLimitError'
  readonly status = 503
  constructor(
    readonly limit: 'time' | 'memory',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

// ClickHouse's codes for a query stopped by max_execution_time / max_memory_usage.
const TIMEOUT_CODES = new Set([159, 160]) // TIMEOUT_EXCEEDED, TOO_SLOW
const MEMORY_CODES = new Set([241]) // MEMORY_LIMIT_EXCEEDED

function withLimits(sql: string, limits: QueryLimits): string {
  const seconds = limits.maxExecutionSeconds ?? DEFAULT_QUERY_LIMITS.maxExecutionSeconds
  const bytes = Math.floor(limits.maxMemoryBytes ?? DEFAULT_QUERY_LIMITS.maxMemoryBytes)
  // Saved queries end with their outermost clause (no SETTINGS, no semicolon): append ours.
  return `${sql.trimEnd().replace(/;$/, '')}\nSETTINGS max_execution_time = ${Number(seconds)}, max_memory_usage = ${bytes}, timeout_overflow_mode = 'throw'`
}

export interface RunOptions {
  /** Time and memory limits; default DEFAULT_QUERY_LIMITS. */
  limits?: QueryLimits
  /**
   * `rollup` (default) reads the pre-aggregated run_facts, agent_days and quarter_totals, as the
   * dashboards do; `raw` computes the same rows from spans, runs and outcomes on the fly (for checks and benchmarks).
   */
  source?: 'rollup' | 'raw'
}

const freshnessReads = new WeakMap<Store, Promise<Date | null>>()

/**
 * lastRefresh, one read at a time per store: queries that start while a read is under way share
 * it (a dashboard sends its twelve at once). An earlier read is still a true lower bound for what
 * a later query sees, because the rollups only get fresher.
 */
function sharedLastRefresh(store: Store): Promise<Date | null> {
  let read = freshnessReads.get(store)
  if (!read) {
    read = lastRefresh(store).finally(() => freshnessReads.delete(store))
    freshnessReads.set(store, read)
  }
  return read
}

/** Validates `raw` and runs the saved query `name` for `projectId`. */
export async function runSavedQuery(
  store: Store,
  projectId: string,
  name: string,
  raw: Record<string, unknown>,
  options: RunOptions = {},
): Promise<SavedQueryResult> {
  const query = findSavedQuery(name)
  const params = await validateParams(store, raw)
  const sql =
    options.source === 'raw'
      ? replaceRollupSources(query.sql, (source) => RAW_SOURCES[source] ?? source)
      : query.sql
  const started = performance.now()
  // Freshness is read first: whatever the query then sees is at least this fresh.
  const freshAsOf = options.source === 'raw' ? new Date() : await sharedLastRefresh(store)
  const limits = options.limits ?? {}
  let rows: Record<string, unknown>[]
  try {
    rows = await store.query<Record<string, unknown>>(withLimits(sql, limits), {
      ...params,
      project: projectId,
    })
  } catch (error) {
    if (error instanceof ClickHouseError && TIMEOUT_CODES.has(error.code)) {
      const seconds = limits.maxExecutionSeconds ?? DEFAULT_QUERY_LIMITS.maxExecutionSeconds
      throw new SavedQueryLimitError(
        'time',
        `The query "${query.name}" ran longer than its limit of ${seconds} s (DAA_QUERY_TIMEOUT_S): ask for a shorter range or raise the limit.`,
        { cause: error },
      )
    }
    if (error instanceof ClickHouseError && MEMORY_CODES.has(error.code)) {
      const mib = Math.round((limits.maxMemoryBytes ?? DEFAULT_QUERY_LIMITS.maxMemoryBytes) / 1048576)
      throw new SavedQueryLimitError(
        'memory',
        `The query "${query.name}" needed more than its memory limit of ${mib} MiB (DAA_QUERY_MAX_MEMORY_MB): ask for a shorter range or raise the limit.`,
        { cause: error },
      )
    }
    throw error
  }
  const columns = query.columns.map(({ name: column, type }) => ({ name: column, type }))
  return {
    query: query.name,
    params,
    columns,
    rows: roundFloats(rows, columns),
    fresh_as_of: freshAsOf?.toISOString() ?? null,
    elapsed_ms: Math.round((performance.now() - started) * 100) / 100,
  }
}
