import { Readable } from 'node:stream'
import {
  type ClickHouseClient,
  ClickHouseLogLevel,
  type ClickHouseSettings,
  createClient,
} from '@clickhouse/client'
import {
  ClickHouseError,
  chunkPieces,
  clickHouseErrorFromMessage,
  encodeRows,
  INSERT_SETTINGS,
  insertStatement,
  type QueryParams,
  quoteIdentifier,
  SESSION_SETTINGS,
  type Store,
  StoreUnavailableError,
} from './store.js'

/** Options for the server backend: any ClickHouse server, cluster node or ClickHouse Cloud over HTTP(S). */
export interface ServerStoreOptions {
  /** HTTP(S) URL of ClickHouse, e.g. `http://localhost:8123`. Env: CLICKHOUSE_URL. Required. */
  url: string
  /** User name. Env: CLICKHOUSE_USER. Default: `default`. */
  username?: string
  /** Password. Env: CLICKHOUSE_PASSWORD. Default: empty. */
  password?: string
  /** Database for daa's tables, created when missing. Env: CLICKHOUSE_DATABASE. Default: `daa`. */
  database?: string
  /** Per-request timeout in milliseconds. Default: 30000. */
  requestTimeoutMs?: number
  /** Connections kept open to ClickHouse. Default: 10. */
  maxOpenConnections?: number
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
])

// The client types some numeric settings as strings (UInt64); over HTTP every value is text anyway.
const SERVER_INSERT_SETTINGS = Object.fromEntries(
  Object.entries(INSERT_SETTINGS).map(([name, value]) => [name, String(value)]),
) as ClickHouseSettings

function toStoreError(error: unknown): Error {
  if (error instanceof ClickHouseError || error instanceof StoreUnavailableError) return error
  const err = error as { code?: unknown; type?: unknown; message?: unknown; cause?: { code?: unknown } }
  const message = typeof err?.message === 'string' ? err.message : String(error)
  const networkCode = typeof err?.code === 'string' ? err.code : err?.cause?.code
  if (typeof networkCode === 'string' && UNAVAILABLE_CODES.has(networkCode)) {
    return new StoreUnavailableError(`ClickHouse is unreachable: ${message}`, { cause: error })
  }
  if (/timeout/i.test(message) && err?.type === undefined) {
    return new StoreUnavailableError(`ClickHouse did not answer in time: ${message}`, { cause: error })
  }
  if (typeof err?.type === 'string' && err.code !== undefined) {
    return new ClickHouseError(Number(err.code), err.type, message, { cause: error })
  }
  return clickHouseErrorFromMessage(message, error)
}

/**
 * Connects to a ClickHouse server and makes sure the database exists: at once, or, when the server
 * does not answer yet, before the first statement that reaches it.
 */
export async function createServerStore(options: ServerStoreOptions): Promise<Store> {
  const database = options.database ?? 'daa'
  const common = {
    url: options.url,
    username: options.username ?? 'default',
    password: options.password ?? '',
    request_timeout: options.requestTimeoutMs ?? 30_000,
    max_open_connections: options.maxOpenConnections ?? 10,
    clickhouse_settings: { ...SESSION_SETTINGS },
    // Errors reach the caller as typed errors; the client's own logging would only repeat them.
    log: { level: ClickHouseLogLevel.OFF },
  }
  // The database may not exist yet, and a client bound to a missing database fails every request.
  const createDatabase = async () => {
    const bootstrap = createClient(common)
    try {
      await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}` })
    } catch (error) {
      throw toStoreError(error)
    } finally {
      await bootstrap.close()
    }
  }
  // A server that does not answer now is not an error yet: the collector starts and logs what it
  // takes (a restart during an outage), and the database is created before the first statement
  // that reaches the server. Any other failure (a refused login) stops here.
  let databaseReady = false
  try {
    await createDatabase()
    databaseReady = true
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error
  }
  const ready = async () => {
    if (databaseReady) return
    await createDatabase()
    databaseReady = true
  }
  const client: ClickHouseClient = createClient({ ...common, database })
  let closed = false

  const store: Store = {
    kind: 'server',
    database,
    async command(sql, params) {
      if (!databaseReady) await ready()
      try {
        await client.command({ query: sql, query_params: params })
      } catch (error) {
        throw toStoreError(error)
      }
    },
    async query<Row>(sql: string, params?: QueryParams) {
      if (!databaseReady) await ready()
      try {
        const result = await client.query({ query: sql, query_params: params, format: 'JSONEachRow' })
        return await result.json<Row>()
      } catch (error) {
        throw toStoreError(error)
      }
    },
    async insert(table, rows) {
      await store.insertEncoded(table, encodeRows(rows))
    },
    async insertEncoded(table, rows) {
      if (rows.count === 0) return
      if (!databaseReady) await ready()
      try {
        const result = await client.exec({
          query: insertStatement(table, rows.columns),
          // Piece by piece: a shared value is written as it is, never copied per row.
          values: Readable.from(rows.chunks.flatMap(chunkPieces), { objectMode: false }),
          clickhouse_settings: SERVER_INSERT_SETTINGS,
        })
        // The answer to an INSERT is empty; reading it to the end frees the connection.
        result.stream.resume()
        await new Promise((resolve, reject) => result.stream.once('end', resolve).once('error', reject))
      } catch (error) {
        throw toStoreError(error)
      }
    },
    async ping() {
      if (closed) return false
      try {
        const result = await client.ping()
        return result.success
      } catch {
        return false
      }
    },
    async close() {
      if (closed) return
      closed = true
      await client.close()
    },
  }
  return store
}
