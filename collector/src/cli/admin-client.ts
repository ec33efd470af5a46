/**
 * How the CLI reaches the admin API: through the collector running on this data directory when
 * there is one (the embedded engine admits one process), else through an in-process collector
 * over the configured store ("direct": any ClickHouse server, or the embedded engine nobody holds).
 * Both answer the same routes, so every command has one code path.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createCollector } from '../app.js'
import { type CollectorConfig, ConfigError } from '../config.js'
import { isProcessAlive } from '../process-alive.js'
import { loadPrices } from '../server.js'
import type { MigrationReport } from '../store/migrations.js'
import { describeRetentionChange, migrateConfigured, openStore } from '../store/open-store.js'
import { newAdminToken, readAdminFile } from './admin-file.js'
import { ensurePrivateDataDir } from './data-dir.js'

export interface AdminClient {
  /** `running collector at <url>` or `direct`. */
  readonly via: string
  request(path: string, init?: RequestInit): Promise<Response>
  close(): Promise<void>
}

async function runningCollector(dataDir: string): Promise<AdminClient | undefined> {
  const admin = await readAdminFile(dataDir)
  if (!admin || !isProcessAlive(admin.pid)) return undefined
  const healthy = await fetch(`${admin.url}/healthz`).then(
    (response) => response.ok,
    (error: unknown) => {
      // A collector serving TLS with a certificate Node does not trust (a self-signed one): going
      // straight to ClickHouse would only fail on the collector's lock, naming the wrong problem.
      const code = String((error as { cause?: { code?: unknown } }).cause?.code ?? '')
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
        throw new ConfigError(
          `The collector running on ${dataDir} serves ${admin.url} with a certificate this command does not trust (${code}): ` +
            'set NODE_EXTRA_CA_CERTS to its certificate file (the --tls-cert PEM, or the CA that signed it) and run the command again.',
        )
      }
      return false
    },
  )
  if (!healthy) return undefined
  return {
    via: `running collector at ${admin.url}`,
    request(path, init = {}) {
      const headers = new Headers(init.headers)
      headers.set('authorization', `Bearer ${admin.token}`)
      return fetch(`${admin.url}${path}`, { ...init, headers })
    },
    async close() {},
  }
}

async function direct(config: CollectorConfig): Promise<AdminClient> {
  // Prices first: a bad price file stops the command before it touches ClickHouse.
  const prices = await loadPrices(config.pricesFile)
  const store = await openStore(config)
  let report: MigrationReport
  try {
    report = await migrateConfigured(store, config)
  } catch (error) {
    await store.close()
    throw error
  }
  const change = describeRetentionChange(report)
  if (change) process.stderr.write(`daa: ${change}.\n`)
  const token = newAdminToken()
  // No collector holds this data directory (else we would have gone through it), so its
  // write-ahead log is ours: anything left in it is replayed first, and imports are logged there.
  // What a collector on this database would do: `daa import` prices spans and refuses expired
  // ones exactly as POST /v1/traces does.
  const collector = await createCollector({
    store,
    prices,
    retentionDays: report.retentionDays,
    adminToken: token,
    walDir: join(config.dataDir, 'wal'),
    maxBodyBytes: Math.floor(config.maxBodyMb * 1024 * 1024),
    flushIntervalMs: config.flushIntervalMs,
    maxBatchSpans: config.maxBatchSpans,
    maxBufferedBytes: Math.floor(config.maxBufferMb * 1024 * 1024),
    maxLogBytes: Math.floor(config.maxLogMb * 1024 * 1024),
    rollupIntervalMs: 0,
  })
  return {
    via: 'direct',
    async request(path, init = {}) {
      const headers = new Headers(init.headers)
      headers.set('authorization', `Bearer ${token}`)
      return collector.app.request(path, { ...init, headers })
    },
    async close() {
      try {
        await collector.shutdown()
      } finally {
        await store.close()
      }
    },
  }
}

export interface OpenAdminOptions {
  /**
   * The command only reads what is stored (keys list, query): on the embedded engine, a data
   * directory that does not exist is refused with where to look, instead of being created empty
   * (which showed no keys and zero metrics, as if the data were lost). Default false.
   */
  readsStoredData?: boolean
}

export async function openAdminClient(
  config: CollectorConfig,
  options: OpenAdminOptions = {},
): Promise<AdminClient> {
  const running = await runningCollector(config.dataDir)
  if (running) return running
  if (!config.clickhouseUrl) {
    if (!existsSync(config.dataDir)) {
      const where = `No collector is running on ${resolve(config.dataDir)}, and nothing is stored there`
      const look =
        'Run this where the collector keeps its data (npm start uses ./.daa in the directory it was started from), or point --data-dir (DAA_DATA_DIR) at it.'
      if (options.readsStoredData) throw new ConfigError(`${where}. ${look}`)
      // A command that writes (keys create, import) makes a new embedded database: said, since a
      // key made in the wrong directory is refused by the collector the user meant.
      process.stderr.write(`daa: ${where}: making a new, empty one. ${look}\n`)
    }
    await ensurePrivateDataDir(config.dataDir)
  }
  return await direct(config)
}

/** The JSON answer, or an Error carrying the API's message. */
export async function expectJson<T>(response: Response): Promise<T> {
  const text = await response.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  if (!response.ok) {
    const message = (body as { error?: { message?: string } } | undefined)?.error?.message ?? text
    throw new AdminRequestError(message || `HTTP ${response.status}`)
  }
  return body as T
}

/** A refusal from the admin API, printed as it is. */
export class AdminRequestError extends Error {
  override readonly name = 'AdminRequestError'
}
