import { createHash, randomBytes } from 'node:crypto'
import type { Store } from '../store/store.js'

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

/** How many hex characters of the hash make a key's id in listings (48 bits: unique in practice). */
const ID_LENGTH = 12

/** Creates a key for a project (the project exists once it has a key). */
export async function createApiKey(
  store: Store,
  projectId: string,
  name = 'default',
): Promise<CreatedApiKey> {
  if (!PROJECT_NAME.test(projectId)) {
    throw new Error(
      'A project name is 1–128 letters, digits, dots, dashes or underscores, starting with a letter or digit.',
    )
  }
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
 * key refresh interval (`DAA_KEY_REFRESH_MS`, default 10 s). Revoking a revoked key changes nothing.
 */
export async function revokeApiKey(store: Store, idOrKey: string): Promise<ApiKeyInfo> {
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
  }>(
    `SELECT key_hash, project_id, name, toString(created_at) AS created_at, toString(updated_at) AS updated_at
     FROM api_keys FINAL WHERE startsWith(key_hash, {prefix:String}) LIMIT 2`,
    { prefix },
  )
  if (matches.length === 0) throw new ApiKeyNotFoundError(`No API key has the id "${idOrKey}".`)
  if (matches.length > 1) {
    throw new ApiKeyNotFoundError(`The id "${idOrKey}" matches several keys: give more of it.`)
  }
  const key = matches[0]!
  // The newest version of a key wins (ReplacingMergeTree(updated_at)): make sure this one is newer
  // even when the clock reads the same millisecond as the last change.
  const last = Date.parse(`${key.updated_at.replace(' ', 'T')}Z`)
  const updatedAt = new Date(Math.max(Date.now(), (Number.isNaN(last) ? 0 : last) + 1))
  await store.insert('api_keys', [
    {
      key_hash: key.key_hash,
      project_id: key.project_id,
      name: key.name,
      created_at: `${key.created_at.replace(' ', 'T')}Z`,
      revoked: 1,
      updated_at: updatedAt.toISOString(),
    },
  ])
  return {
    id: key.key_hash.slice(0, ID_LENGTH),
    projectId: key.project_id,
    name: key.name,
    createdAt: `${key.created_at.replace(' ', 'T')}Z`,
    revoked: true,
  }
}

/** Options for the key lookup cache. */
export interface ApiKeyResolverOptions {
  /** How long a known key's project is remembered. Default 60000 ms. */
  cacheTtlMs?: number
  /** How long an unknown key is remembered as unknown, so a bad sender cannot flood ClickHouse. Default 5000 ms. */
  negativeCacheTtlMs?: number
}

/** Resolves `Authorization: Bearer <key>` to a project, caching lookups. */
export class ApiKeyResolver {
  private readonly cache = new Map<string, { projectId: string | undefined; expires: number }>()
  private readonly ttl: number
  private readonly negativeTtl: number

  constructor(
    private readonly store: Store,
    options: ApiKeyResolverOptions = {},
  ) {
    this.ttl = Math.max(0, options.cacheTtlMs ?? 60_000)
    this.negativeTtl = Math.max(0, options.negativeCacheTtlMs ?? 5000)
  }

  /** The key in an Authorization header value, or undefined when it has none. */
  static keyFromHeader(header: string | undefined | null): string | undefined {
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
    return match?.[1]
  }

  /** Forgets every cached lookup, so a revocation takes effect at once on this collector. */
  clear(): void {
    this.cache.clear()
  }

  /** The project owning the key, or undefined for an unknown or revoked key. Store errors propagate. */
  async projectFor(key: string): Promise<string | undefined> {
    const hash = hashApiKey(key)
    const now = Date.now()
    const cached = this.cache.get(hash)
    if (cached && cached.expires > now) return cached.projectId
    const [row] = await this.store.query<{ project_id: string; revoked: number }>(
      'SELECT project_id, revoked FROM api_keys FINAL WHERE key_hash = {hash:String} LIMIT 1',
      { hash },
    )
    const projectId = row && row.revoked === 0 ? row.project_id : undefined
    if (this.cache.size > 10_000) this.cache.clear()
    this.cache.set(hash, { projectId, expires: now + (projectId ? this.ttl : this.negativeTtl) })
    return projectId
  }
}
