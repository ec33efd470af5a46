import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { rename, rm, writeFile } from 'node:fs/promises'
import type { Store } from '../store/store.js'
import { KeyRateLimiter, type RateLimitOptions } from './rate-limit.js'

/**
 * API keys: each belongs to one project, and the project is never taken from anything the
 * sender writes in a span. Keys are stored as SHA-256 hashes; the plain key is shown once.
 */

const KEY_PREFIX = 'daa_'

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

export interface CreatedApiKey {
  /** The plain key: give it to the sender; it cannot be recovered later. */
  key: string
  projectId: string
  name: string
  /** The key's id (the first characters of its hash): what `daa keys list` shows and `revoke` takes. */
  id: string
}

const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

/**
 * Why `name` cannot name a project, or undefined when it can. Checked wherever a project is named
 * (a key, an import): data stored under a name no key can have could never be read back.
 */
export function projectNameProblem(name: string): string | undefined {
  return PROJECT_NAME.test(name)
    ? undefined
    : 'A project name is 1–128 letters, digits, dots, dashes or underscores, starting with a letter or digit.'
}

/** How many hex characters of the hash make a key's id in listings (48 bits: unique in practice). */
const ID_LENGTH = 12

/** Creates a key for a project (the project exists once it has a key). */
export async function createApiKey(
  store: Store,
  projectId: string,
  name = 'default',
): Promise<CreatedApiKey> {
  const problem = projectNameProblem(projectId)
  if (problem) throw new Error(problem)
  const key = `${KEY_PREFIX}${randomBytes(24).toString('base64url')}`
  const keyHash = hashApiKey(key)
  await store.insert('api_keys', [
    {
      key_hash: keyHash,
      project_id: projectId,
      name,
      created_at: new Date().toISOString(),
      revoked: 0,
    },
  ])
  return { key, projectId, name, id: keyHash.slice(0, ID_LENGTH) }
}

/** One key as `listApiKeys` reports it: never the key itself, which is not stored. */
export interface ApiKeyInfo {
  /** The first 12 hex characters of the key's SHA-256 hash; `revokeApiKey` accepts it. */
  id: string
  projectId: string
  name: string
  /** ISO time of creation (UTC). */
  createdAt: string
  revoked: boolean
}

/** What `revokeApiKey` did to one key. */
export interface RevokedApiKey extends ApiKeyInfo {
  /** The key had been revoked before: nothing was written, and it stays revoked. */
  alreadyRevoked: boolean
}

/** Every key (of one project, when given), newest first. */
export async function listApiKeys(store: Store, projectId?: string): Promise<ApiKeyInfo[]> {
  const rows = await store.query<{
    key_hash: string
    project_id: string
    name: string
    created_at: string
    revoked: number
  }>(
    `SELECT key_hash, project_id, name, toString(created_at) AS created_at, revoked
     FROM api_keys FINAL
     WHERE {project:String} = '' OR project_id = {project:String}
     ORDER BY created_at DESC, key_hash`,
    { project: projectId ?? '' },
  )
  return rows.map((row) => ({
    id: row.key_hash.slice(0, ID_LENGTH),
    projectId: row.project_id,
    name: row.name,
    createdAt: `${row.created_at.replace(' ', 'T')}Z`,
    revoked: row.revoked !== 0,
  }))
}

/** Why a key could not be revoked (nothing matched, or the prefix is ambiguous). */
export class ApiKeyNotFoundError extends Error {
  override readonly name = 'ApiKeyNotFoundError'
}

/**
 * Revokes one key, named by its id from `listApiKeys` (any unambiguous prefix of at least 8 hex
 * characters of its hash) or by the plain key itself. Every collector stops accepting it within its
 * key refresh interval (`DAA_KEY_REFRESH_MS`, default 10 s). Revoking a revoked key changes nothing,
 * and says so (`alreadyRevoked`).
 */
export async function revokeApiKey(store: Store, idOrKey: string): Promise<RevokedApiKey> {
  const text = idOrKey.trim()
  let prefix: string
  if (text.startsWith(KEY_PREFIX)) prefix = hashApiKey(text)
  else if (/^[0-9a-f]{8,64}$/i.test(text)) prefix = text.toLowerCase()
  else {
    throw new ApiKeyNotFoundError(
      `"${idOrKey}" is neither a key id (8 or more hex characters, from "daa keys list") nor an API key.`,
    )
  }
  const matches = await store.query<{
    key_hash: string
    project_id: string
    name: string
    created_at: string
    updated_at: string
    revoked: number
  }>(
    `SELECT key_hash, project_id, name, toString(created_at) AS created_at, toString(updated_at) AS updated_at, revoked
     FROM api_keys FINAL WHERE startsWith(key_hash, {prefix:String}) LIMIT 2`,
    { prefix },
  )
  if (matches.length === 0) throw new ApiKeyNotFoundError(`No API key has the id "${idOrKey}".`)
  if (matches.length > 1) {
    throw new ApiKeyNotFoundError(`The id "${idOrKey}" matches several keys: give more of it.`)
  }
  const key = matches[0]!
  const info = {
    id: key.key_hash.slice(0, ID_LENGTH),
    projectId: key.project_id,
    name: key.name,
    createdAt: `${key.created_at.replace(' ', 'T')}Z`,
    revoked: true,
  }
  if (Number(key.revoked) !== 0) return { ...info, alreadyRevoked: true }
  // The newest version of a key wins (ReplacingMergeTree(updated_at)): make sure this one is newer
  // even when the clock reads the same millisecond as the last change.
  const last = Date.parse(`${key.updated_at.replace(' ', 'T')}Z`)
  const updatedAt = new Date(Math.max(Date.now(), (Number.isNaN(last) ? 0 : last) + 1))
  await store.insert('api_keys', [
    {
      key_hash: key.key_hash,
      project_id: key.project_id,
      name: key.name,
      created_at: info.createdAt,
      revoked: 1,
      updated_at: updatedAt.toISOString(),
    },
  ])
  return { ...info, alreadyRevoked: false }
}

/** Options for the key look-up cache. */
export interface ApiKeyResolverOptions {
  /**
   * How old a cached answer may be before the key is looked up again. This is the revocation
   * bound: while ClickHouse answers, a revoked key stops working on every collector within it.
   * Default 10000 ms.
   */
  refreshMs?: number
  /**
   * After a failed look-up, how long to answer from the cache without asking ClickHouse again,
   * so an outage costs no latency per request. Default 1000 ms.
   */
  retryLookupAfterMs?: number
  /**
   * Most valid keys remembered (and as many unknown or revoked ones, apart); the least recently
   * checked are forgotten first. Default 100000.
   */
  maxCachedKeys?: number
  /** Per-key request rate limit (see RateLimitOptions for its defaults: 1000 requests/s, burst 2000). */
  rateLimit?: RateLimitOptions
  /**
   * A file that keeps the valid keys' last answers (key hash → project, never a key; mode 0600),
   * read at start, so that a collector restarted while ClickHouse is unreachable still takes its
   * known senders' spans into its log. Default: none (`daa collector` keeps it in its data
   * directory).
   */
  cacheFile?: string
}

/** How long after a change the key file is written: one write for a burst of new keys. */
const CACHE_FILE_DELAY_MS = 1000

interface CachedKey {
  /** The owning project, or undefined for a key ClickHouse says is unknown or revoked. */
  projectId: string | undefined
  /** When ClickHouse last answered for this key (ms since the epoch). */
  checkedAt: number
}

/**
 * Resolves `Authorization: Bearer <key>` to a project, caching look-ups.
 *
 * While ClickHouse is unreachable, every key keeps the last answer ClickHouse gave for it, for as
 * long as the outage lasts: the write-ahead log carries the outage, so known senders keep being
 * acknowledged. A key never seen before cannot be checked then, and `projectFor` throws (a 503,
 * "retry later"), never "unauthorised".
 */
export class ApiKeyResolver {
  private readonly cache = new Map<string, CachedKey>()
  /** Unknown and revoked keys, kept apart so a flood of bad keys cannot push out the good ones. */
  private readonly unknown = new Map<string, CachedKey>()
  private readonly pending = new Map<string, Promise<string | undefined>>()
  private readonly refreshMs: number
  private readonly retryLookupAfterMs: number
  private readonly maxCachedKeys: number
  private readonly limiter: KeyRateLimiter
  /** Until when look-ups are skipped after a failure (ms since the epoch). */
  private unavailableUntil = 0
  private readonly cacheFile: string | undefined
  private cacheFileTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly store: Store,
    options: ApiKeyResolverOptions = {},
  ) {
    this.refreshMs = Math.max(0, options.refreshMs ?? 10_000)
    this.retryLookupAfterMs = Math.max(0, options.retryLookupAfterMs ?? 1000)
    this.maxCachedKeys = Math.max(1, options.maxCachedKeys ?? 100_000)
    this.limiter = new KeyRateLimiter(options.rateLimit)
    this.cacheFile = options.cacheFile
    if (this.cacheFile) this.readCacheFile(this.cacheFile)
  }

  /**
   * The last answers kept on disk, with the time ClickHouse gave them: each is looked up again on
   * first use, as any cached answer past its refresh, and served only while ClickHouse cannot be asked.
   */
  private readCacheFile(file: string): void {
    let saved: unknown
    try {
      saved = JSON.parse(readFileSync(file, 'utf8'))
    } catch {
      return // none yet, or unreadable: the keys are looked up as they come
    }
    if (typeof saved !== 'object' || saved === null) return
    for (const [hash, entry] of Object.entries(saved as Record<string, unknown>)) {
      const { projectId, checkedAt } = (entry ?? {}) as { projectId?: unknown; checkedAt?: unknown }
      if (!/^[0-9a-f]{64}$/.test(hash) || typeof projectId !== 'string' || typeof checkedAt !== 'number')
        continue
      if (this.cache.size >= this.maxCachedKeys) break
      this.cache.set(hash, { projectId, checkedAt })
    }
  }

  /** Writes the valid keys' answers soon (one write for a burst of changes); a failed write is retried at the next change. */
  private saveCacheSoon(): void {
    if (!this.cacheFile || this.cacheFileTimer) return
    this.cacheFileTimer = setTimeout(() => void this.saveCache(), CACHE_FILE_DELAY_MS)
    this.cacheFileTimer.unref()
  }

  /** Writes a change still waiting for its write to the key file now (at shutdown). Never rejects. */
  async saveCache(): Promise<void> {
    const file = this.cacheFile
    if (!file || !this.cacheFileTimer) return
    clearTimeout(this.cacheFileTimer)
    this.cacheFileTimer = undefined
    const entries = Object.fromEntries([...this.cache].filter(([, entry]) => entry.projectId !== undefined))
    const temporary = `${file}.${process.pid}.tmp`
    // Written aside and renamed: a reader never sees half a file; a full disk leaves the old one.
    await writeFile(temporary, JSON.stringify(entries), { mode: 0o600 })
      .then(() => rename(temporary, file))
      .catch(() => rm(temporary, { force: true }).catch(() => {}))
  }

  /** The per-key limit, for messages: requests per second (0: off) and burst. */
  get rateLimit(): { requestsPerSecond: number; burst: number } {
    return { requestsPerSecond: this.limiter.requestsPerSecond, burst: this.limiter.burst }
  }

  /** Counts a request of a known key: 0 when it may go ahead, else the seconds to wait (429). */
  throttle(key: string): number {
    return this.limiter.take(hashApiKey(key))
  }

  /** The key in an Authorization header value, or undefined when it has none. */
  static keyFromHeader(header: string | undefined | null): string | undefined {
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
    return match?.[1]
  }

  /**
   * The project owning the key, or undefined for an unknown or revoked key. Throws the store's
   * error only when ClickHouse cannot be asked and the key was never answered for.
   */

  /**
   * Forgets the cached look-up of the key whose hash starts with `id` (a key id from
   * listApiKeys), so its revocation takes effect at once on this collector. Only that key: every
   * other key's answer is kept, for a ClickHouse outage (known-keys.json) as before.
   */
  forget(id: string): void {
    let forgotten = false
    for (const entries of [this.cache, this.unknown]) {
      for (const hash of entries.keys()) {
        if (hash.startsWith(id)) forgotten = entries.delete(hash) || forgotten
      }
    }
    if (forgotten) this.saveCacheSoon()
  }

  async projectFor(key: string): Promise<string | undefined> {
    const hash = hashApiKey(key)
    const cached = this.cache.get(hash) ?? this.unknown.get(hash)
    const now = Date.now()
    if (cached && (now - cached.checkedAt < this.refreshMs || now < this.unavailableUntil)) {
      return cached.projectId
    }
    let lookup = this.pending.get(hash)
    if (!lookup) {
      lookup = this.lookUp(hash).finally(() => this.pending.delete(hash))
      this.pending.set(hash, lookup)
    }
    try {
      return await lookup
    } catch (error) {
      // Stale, but the last word ClickHouse said about this key.
      if (cached) return cached.projectId
      throw error
    }
  }

  private async lookUp(hash: string): Promise<string | undefined> {
    if (Date.now() < this.unavailableUntil) throw new KeyLookupUnavailableError()
    let rows: { project_id: string; revoked: number }[]
    try {
      rows = await this.store.query<{ project_id: string; revoked: number }>(
        'SELECT project_id, revoked FROM api_keys FINAL WHERE key_hash = {hash:String} LIMIT 1',
        { hash },
      )
    } catch (error) {
      this.unavailableUntil = Date.now() + this.retryLookupAfterMs
      throw error
    }
    const [row] = rows
    const projectId = row && row.revoked === 0 ? row.project_id : undefined
    // The file changes when a key's answer does (a new key, a revoked one), not at every refresh.
    if (this.cache.get(hash)?.projectId !== projectId) this.saveCacheSoon()
    this.cache.delete(hash)
    this.unknown.delete(hash)
    const into = projectId === undefined ? this.unknown : this.cache
    // Re-inserted, so each map's order is least recently checked first.
    if (into.size >= this.maxCachedKeys) {
      const oldest = into.keys().next().value
      if (oldest !== undefined) into.delete(oldest)
    }
    into.set(hash, { projectId, checkedAt: Date.now() })
    return projectId
  }
}

/** A look-up skipped because ClickHouse failed a moment ago. */
export class KeyLookupUnavailableError extends Error {
  override readonly name = 'KeyLookupUnavailableError'
  constructor() {
    super('ClickHouse was unreachable a moment ago; the key look-up is retried shortly.')
  }
}
