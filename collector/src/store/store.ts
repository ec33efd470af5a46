/**
 * One small interface over the two ways daa runs ClickHouse: embedded (chDB, in-process)
 * and server (`@clickhouse/client` over HTTP). Both run the same SQL text.
 */

/** A query parameter value. SQL values always travel as parameters, never spliced into SQL text. */
export type QueryParamValue = string | number | boolean | bigint | Date | null | readonly QueryParamValue[]

export type QueryParams = Record<string, QueryParamValue>

export interface Store {
  /** Which backend runs the SQL. */
  readonly kind: 'embedded' | 'server'
  /** The database that holds daa's tables. */
  readonly database: string
  /** Runs a statement that returns no rows (DDL, INSERT … SELECT, SYSTEM …). */
  command(sql: string, params?: QueryParams): Promise<void>
  /**
   * Runs a query and returns its rows as objects. 64-bit integers come back as JS numbers;
   * cast to String in SQL where exactness above 2^53 matters.
   */
  query<Row = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<Row[]>
  /** Inserts rows, one object per row, keyed by column name. Resolves once ClickHouse has committed them. */
  insert(table: string, rows: readonly object[]): Promise<void>
  /** Inserts rows already encoded by `encodeRows` (the ingest hot path). Resolves once committed. */
  insertEncoded(table: string, rows: EncodedRows): Promise<void>
  /** True when ClickHouse answers. Never throws. */
  ping(): Promise<boolean>
  /** Releases the connection (or the embedded engine). Idempotent. */
  close(): Promise<void>
}

/**
 * An error reported by ClickHouse itself, carrying its numeric code (e.g. 60) and name
 * (e.g. UNKNOWN_TABLE) so callers can branch on them without parsing messages.
 */
export class ClickHouseError extends Error {
  override readonly name = 'ClickHouseError'
  constructor(
    /** ClickHouse's numeric error code; 0 when the backend gave none. */
    readonly code: number,
    /** ClickHouse's symbolic error name, e.g. UNKNOWN_TABLE; '' when unknown. */
    readonly type: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** ClickHouse is not reachable (connection refused, timeout, engine missing): retry later. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError'
}

const CODE = /Code:\s*(\d+)/
// The error name is the last parenthesised identifier, before an optional "(version …)".
const TYPE = /\(([A-Z][A-Z0-9_]*)\)\s*(?:\(version [^)]*\))?\s*$/

/** Builds a ClickHouseError from the message text every ClickHouse interface shares. */
export function clickHouseErrorFromMessage(message: string, cause?: unknown): ClickHouseError {
  const code = CODE.exec(message)?.[1]
  const type = TYPE.exec(message.trim())?.[1] ?? ''
  const clean = message.replace(/^Code:\s*\d+\.\s*DB::Exception:\s*/, '').trim()
  return new ClickHouseError(code ? Number(code) : 0, type, clean, { cause })
}

/** Settings every daa query runs with, on both backends, so results never depend on the host. */
export const SESSION_SETTINGS = {
  session_timezone: 'UTC',
  output_format_json_quote_64bit_integers: 0,
  date_time_output_format: 'iso',
  // An insert into a Distributed table is acknowledged only once every shard has it: an
  // acknowledged span must never sit in a node's local send queue.
  distributed_foreground_insert: 1,
  // On a cluster, IN and JOIN subqueries over Distributed tables run once and are shipped to every
  // shard, so results are right whatever shard each row lives on. (No effect on a single node.)
  distributed_product_mode: 'global',
  // A refresh writes the keys it recomputes into its statements (refresh.ts: changedKeys), up to a
  // few megabytes; ClickHouse's default limit on a query's text is 256 KiB.
  max_query_size: String(16 * 1024 * 1024),
} as const

/** Quotes an identifier (database or table name) for SQL text: identifiers cannot travel as parameters. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``
}

/**
 * Settings of every insert, on both backends. An insert must be committed when it returns: with
 * `async_insert` (which a server profile may turn on) ClickHouse answers before the rows are
 * written, and a failure afterwards would lose rows whose write-ahead log segment is already gone.
 * A batch spans as many days as its spans do (a backfill, a sender's clock): the rows are
 * partitioned by day, and a batch is bounded by its row count instead of its day count.
 */
export const INSERT_SETTINGS = {
  async_insert: 0,
  wait_for_async_insert: 1,
  max_partitions_per_insert_block: 0,
} as const

/**
 * Rows encoded as JSONCompactEachRow lines under one column list: about half the bytes of
 * JSONEachRow and markedly cheaper for ClickHouse to parse. Ingest encodes each request's rows as
 * they arrive, so a batch waiting for ClickHouse holds a few flat strings instead of many
 * short-lived objects (which the garbage collector would otherwise promote and sweep).
 */
export interface EncodedRows {
  columns: readonly string[]
  /** JSONCompactEachRow text, each chunk whole lines. */
  chunks: EncodedChunk[]
  /** Rows across all chunks. */
  count: number
  /**
   * Characters held in memory: a large map shared by many rows (a resource's attributes) counts
   * once, although every line carries it when sent.
   */
  bytes: number
}

/**
 * One line that carries a large shared value, kept in three pieces: joining them (or letting V8
 * flatten a concatenation, which it does in place the moment the text is written anywhere) would
 * make one copy of the shared value per row, held until the batch is committed.
 */
export interface SharedLine {
  head: string
  shared: string
  /** Ends with the line's newline. */
  tail: string
}

/** Whole lines of JSONCompactEachRow: a flat string of lines, or one line around a shared value. */
export type EncodedChunk = string | SharedLine

/** The pieces of a chunk, in order, as they are sent. */
export function chunkPieces(chunk: EncodedChunk): string[] {
  return typeof chunk === 'string' ? [chunk] : [chunk.head, chunk.shared, chunk.tail]
}

/** Characters of a chunk once sent. */
export function chunkLength(chunk: EncodedChunk): number {
  return typeof chunk === 'string'
    ? chunk.length
    : chunk.head.length + chunk.shared.length + chunk.tail.length
}

/** A chunk as one string (for one insert at a time, never for a batch that waits). */
export function chunkText(chunk: EncodedChunk): string {
  return typeof chunk === 'string' ? chunk : chunk.head + chunk.shared + chunk.tail
}

/** Lines in a chunk. */
export function chunkLineCount(chunk: EncodedChunk): number {
  if (typeof chunk !== 'string') return 1
  let count = 0
  for (let at = chunk.indexOf('\n'); at !== -1; at = chunk.indexOf('\n', at + 1)) count++
  return count
}

/** A map value at least this long (as JSON) is encoded once and shared by the lines that carry it. */
const SHARED_VALUE_MIN_CHARS = 1024

/**
 * Encodes rows under `columns` (default: the keys of the first row), followed by the `trailing`
 * values on every line. A map object shared by many rows (the decoders share a resource's
 * attributes, and mapping renders them once) is turned into JSON once from its second row on; when
 * it is large, each line that carries it is its own chunk (a SharedLine), so memory holds one copy
 * of it instead of one per row. Small lines are joined into one flat chunk.
 */
export function encodeRows(
  rows: readonly object[],
  columns: readonly string[] = Object.keys(rows[0] ?? {}),
  trailing: readonly unknown[] = [],
  options: EncodeOptions = {},
): EncodedRows {
  const width = columns.length
  const keyed: unknown[] = new Array(width + trailing.length)
  for (let index = 0; index < trailing.length; index++) keyed[width + index] = trailing[index]
  // Object.values reads a row in one native call, where reading 40 columns by name costs a keyed
  // lookup each: about a third of the encoding time.
  const inColumnOrder = options.sameShape === true && rows.length > 0 && hasKeysInOrder(rows[0]!, columns)
  const sharedText = new Map<object, string | null>()
  // Only a map that the previous row carried too is a candidate: rows' own maps are not stringified twice.
  const previous: unknown[] = new Array(width)
  const chunks: EncodedChunk[] = []
  let lines: string[] = []
  let bytes = 0
  for (let line = 0; line < rows.length; line++) {
    const record = rows[line] as Record<string, unknown>
    let values = keyed
    if (inColumnOrder) {
      values = Object.values(record)
      if (values.length === width) {
        for (const value of trailing) values.push(value)
      } else {
        values = keyed
        for (let index = 0; index < width; index++) keyed[index] = record[columns[index]!]
      }
    } else {
      for (let index = 0; index < width; index++) keyed[index] = record[columns[index]!]
    }
    let shared = -1
    let text: string | null = null
    for (let index = 0; index < width; index++) {
      const value = values[index]
      const repeated = previous[index] === value
      previous[index] = value
      if (shared === -1 && repeated && typeof value === 'object' && value !== null && !Array.isArray(value)) {
        let known = sharedText.get(value)
        if (known === undefined) {
          const json = JSON.stringify(value)
          known = json.length >= SHARED_VALUE_MIN_CHARS ? json : null
          sharedText.set(value, known)
          if (known !== null) bytes += known.length
        }
        if (known !== null) {
          shared = index
          text = known
        }
      }
    }
    if (shared === -1 || text === null) {
      const encoded = JSON.stringify(values)
      lines.push(encoded)
      bytes += encoded.length + 1
      continue
    }
    const head = shared === 0 ? '[' : `${JSON.stringify(values.slice(0, shared)).slice(0, -1)},`
    const tail =
      shared === values.length - 1 ? ']\n' : `,${JSON.stringify(values.slice(shared + 1)).slice(1)}\n`
    if (lines.length > 0) chunks.push(flatChunk(lines))
    lines = []
    chunks.push({ head, shared: text, tail })
    bytes += head.length + tail.length
  }
  if (lines.length > 0) chunks.push(flatChunk(lines))
  return { columns, chunks, count: rows.length, bytes }
}

/** Options of encodeRows. */
export interface EncodeOptions {
  /**
   * Every row was built by the same object literal (mapSpans' rows), so every row has the first
   * row's keys in the first row's order. When those are `columns`, rows are read with Object.values.
   * Default: false (rows are read column by column, by name).
   */
  sameShape?: boolean
}

function hasKeysInOrder(row: object, columns: readonly string[]): boolean {
  const keys = Object.keys(row)
  if (keys.length !== columns.length) return false
  for (let index = 0; index < keys.length; index++) if (keys[index] !== columns[index]) return false
  return true
}

/**
 * Small lines become one flat string: a batch waiting for ClickHouse then holds no rope of small
 * pieces. (Held as UTF-8 Buffers instead, off the JavaScript heap, the collector measured no less
 * CPU: see docs/ingest-speed.md.)
 */
function flatChunk(lines: string[]): string {
  // An empty last element gives the final newline without a second copy of the joined text.
  lines.push('')
  return lines.join('\n')
}

/** The lines of encoded rows, one string each (to isolate a row ClickHouse refuses). */
export function encodedLines(rows: EncodedRows): string[] {
  const lines: string[] = []
  for (const chunk of rows.chunks) {
    for (const line of chunkText(chunk).split('\n')) if (line !== '') lines.push(line)
  }
  return lines
}

/** Lines (whole, without their newline) as encoded rows. */
export function rowsOfLines(columns: readonly string[], lines: readonly string[]): EncodedRows {
  const text = lines.length > 0 ? `${lines.join('\n')}\n` : ''
  return { columns, chunks: text ? [text] : [], count: lines.length, bytes: text.length }
}

/** Appends `more` to `target` (same columns). */
export function appendEncoded(target: EncodedRows, more: EncodedRows): void {
  for (const chunk of more.chunks) target.chunks.push(chunk)
  target.count += more.count
  target.bytes += more.bytes
}

/** The INSERT statement for encoded rows (identifiers quoted; no values in the SQL text). */
export function insertStatement(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table.split('.').map(quoteIdentifier).join('.')} (${columns.map(quoteIdentifier).join(', ')}) FORMAT JSONCompactEachRow`
}
