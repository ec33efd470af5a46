import { mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { isProcessAlive } from '../process-alive.js'
import {
  ClickHouseError,
  chunkText,
  clickHouseErrorFromMessage,
  encodeRows,
  INSERT_SETTINGS,
  type QueryParams,
  quoteIdentifier,
  SESSION_SETTINGS,
  type Store,
  StoreUnavailableError,
} from './store.js'

/** Options for the embedded (chDB, in-process) backend. */
export interface EmbeddedStoreOptions {
  /** Directory that holds the data. Default: `./.daa/data`. chDB allows one directory per process. */
  path?: string
  /** Database for daa's tables, created when missing. Default: `daa`. */
  database?: string
}

// Only the parts of chdb's API this backend uses, so the optional package stays a type-free import.
interface ChdbResult {
  text(): string
}
interface ChdbSession {
  queryAsync(sql: string, options?: { format?: string }): Promise<ChdbResult>
  queryBindAsync(sql: string, params: object, options?: { format?: string }): Promise<ChdbResult>
  insert(params: {
    table: string
    values: Buffer
    columns: string[]
    format: 'JSONCompactEachRow'
  }): Promise<unknown>
  close(): void
}
interface ChdbModule {
  Session: new (path: string, options?: { connectionArgs?: readonly string[] }) => ChdbSession
}

/**
 * chDB is about 540 MB installed, so it is an optional dependency: server-only deployments
 * skip it, and it is loaded only when the embedded backend is chosen.
 */
async function loadChdb(): Promise<ChdbModule> {
  try {
    return (await import('chdb')) as unknown as ChdbModule
  } catch (error) {
    throw new StoreUnavailableError(
      'The embedded ClickHouse engine (npm package "chdb") is not installed. Install it with ' +
        '`npm install chdb`, or point daa at a ClickHouse server with CLICKHOUSE_URL.',
      { cause: error },
    )
  }
}

// chDB's insert() takes no settings of its own, so the insert settings hold for the whole session.
const connectionArgs = Object.entries({ ...SESSION_SETTINGS, ...INSERT_SETTINGS }).map(
  ([name, value]) => `--${name}=${value}`,
)

function toStoreError(error: unknown): Error {
  if (error instanceof ClickHouseError) return error
  const message = error instanceof Error ? error.message : String(error)
  return clickHouseErrorFromMessage(message, error)
}

function parseJsonEachRow<Row>(text: string): Row[] {
  const rows: Row[] = []
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end === -1) end = text.length
    if (end > start) rows.push(JSON.parse(text.slice(start, end)) as Row)
    start = end + 1
  }
  return rows
}

function inUse(path: string, cause?: unknown): StoreUnavailableError {
  return new StoreUnavailableError(
    `The embedded database in ${path} is in use by another process (a running "daa collector"?). ` +
      'Stop that process first, or point both at a ClickHouse server with CLICKHOUSE_URL.',
    cause === undefined ? undefined : { cause },
  )
}

/** The pid in the engine's status file (`PID: 123` on its first line), when there is one. */
function statusFilePid(path: string): number | undefined {
  try {
    const pid = Number(/^PID: (\d+)/.exec(readFileSync(join(path, 'status'), 'utf8'))?.[1])
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** Opens the embedded ClickHouse engine on a local directory and makes sure the database exists. */
export async function createEmbeddedStore(options: EmbeddedStoreOptions = {}): Promise<Store> {
  const path = resolve(options.path ?? './.daa/data')
  const database = options.database ?? 'daa'
  mkdirSync(path, { recursive: true })
  // chDB refuses a directory another engine holds, but prints its own exception to stderr first:
  // the engine's status file names the holder's pid (it is removed on a clean close), so a
  // directory in use is refused here, with only the message below.
  const holder = statusFilePid(path)
  if (holder !== undefined && holder !== process.pid && isProcessAlive(holder)) throw inUse(path)
  const chdb = await loadChdb()
  let session: ChdbSession | undefined
  try {
    session = new chdb.Session(path, { connectionArgs })
  } catch (error) {
    if (/Cannot lock file|Failed to create connection/.test(String((error as Error)?.message ?? error))) {
      throw inUse(path, error)
    }
    throw toStoreError(error)
  }
  // USE persists for the life of a chDB session, so unqualified table names resolve to daa's database.
  try {
    await session.queryAsync(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}`)
    await session.queryAsync(`USE ${quoteIdentifier(database)}`)
  } catch (error) {
    session.close()
    throw toStoreError(error)
  }

  const open = (): ChdbSession => {
    if (!session) throw new StoreUnavailableError('The embedded store is closed.')
    return session
  }
  const run = async (sql: string, params?: QueryParams, format?: string): Promise<string> => {
    const active = open()
    try {
      const result =
        params && Object.keys(params).length > 0
          ? await active.queryBindAsync(sql, params, { format: format ?? 'Null' })
          : await active.queryAsync(sql, { format: format ?? 'Null' })
      return result.text()
    } catch (error) {
      throw toStoreError(error)
    }
  }

  const store: Store = {
    kind: 'embedded',
    database,
    async command(sql, params) {
      await run(sql, params)
    },
    async query<Row>(sql: string, params?: QueryParams) {
      return parseJsonEachRow<Row>(await run(sql, params, 'JSONEachRow'))
    },
    async insert(table, rows) {
      await store.insertEncoded(table, encodeRows(rows))
    },
    async insertEncoded(table, rows) {
      if (rows.count === 0) return
      const active = open()
      try {
        await active.insert({
          table: qualify(database, table),
          values: Buffer.from(rows.chunks.map(chunkText).join('')),
          columns: [...rows.columns],
          format: 'JSONCompactEachRow',
        })
      } catch (error) {
        throw toStoreError(error)
      }
    },
    async ping() {
      try {
        await run('SELECT 1')
        return true
      } catch {
        return false
      }
    },
    async close() {
      session?.close()
      session = undefined
    },
  }
  return store
}

function qualify(database: string, table: string): string {
  return table.includes('.') ? table : `${database}.${table}`
}
