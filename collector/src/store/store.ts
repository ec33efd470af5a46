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
} as const

/** Quotes an identifier (database or table name) for SQL text: identifiers cannot travel as parameters. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``
}

/**
 * Rows encoded as JSONCompactEachRow lines under one column list: about half the bytes of
 * JSONEachRow and markedly cheaper for ClickHouse to parse. Ingest encodes each request's rows as
 * they arrive, so a batch waiting for ClickHouse holds a few flat strings instead of many
 * short-lived objects (which the garbage collector would otherwise promote and sweep).
 */
export interface EncodedRows {
  columns: readonly string[]
  /** JSONCompactEachRow text, each chunk whole lines. */
  chunks: string[]
  /** Rows across all chunks. */
  count: number
}

/** Encodes rows under `columns` (default: the keys of the first row) as one chunk. */
export function encodeRows(
  rows: readonly object[],
  columns: readonly string[] = Object.keys(rows[0] ?? {}),
): EncodedRows {
  const lines: string[] = new Array(rows.length)
  const values: unknown[] = new Array(columns.length)
  for (let line = 0; line < rows.length; line++) {
    const record = rows[line] as Record<string, unknown>
    for (let index = 0; index < columns.length; index++) values[index] = record[columns[index]!]
    lines[line] = JSON.stringify(values)
  }
  // One flat string per request: a batch waiting for ClickHouse then holds no rope of small pieces.
  return { columns, chunks: rows.length > 0 ? [`${lines.join('\n')}\n`] : [], count: rows.length }
}

/** Appends `more` to `target` (same columns). */
export function appendEncoded(target: EncodedRows, more: EncodedRows): void {
  for (const chunk of more.chunks) target.chunks.push(chunk)
  target.count += more.count
}

/** The INSERT statement for encoded rows (identifiers quoted; no values in the SQL text). */
export function insertStatement(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table.split('.').map(quoteIdentifier).join('.')} (${columns.map(quoteIdentifier).join(', ')}) FORMAT JSONCompactEachRow`
}
