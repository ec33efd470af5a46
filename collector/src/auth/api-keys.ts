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
}

const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

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
  await store.insert('api_keys', [
    {
      key_hash: hashApiKey(key),
      project_id: projectId,
      name,
      created_at: new Date().toISOString(),
      revoked: 0,
    },
  ])
  return { key, projectId, name }
}

/** A key as listed: never the key itself, only an id (the start of its hash) to revoke it by. */
export interface ApiKeyInfo {
  /** The first 12 hex digits of the key's SHA-256: enough to name it, useless to send spans. */
  id: string
  projectId: string
  name: string
  createdAt: string
  revoked: boolean
}

const KEY_ID_LENGTH = 12

/** Every key, or one project's, oldest first. */
export async function listApiKeys(store: Store, projectId?: string): Promise<ApiKeyInfo[]> {
  const rows = await store.query<{
    key_hash: string
    project_id: string
    name: string
    created_at: string
    revoked: number
  }>(
    `SELECT key_hash, project_id, name, toString(created_at) AS created_at, revoked FROM api_keys FINAL
     WHERE {project:String} = '' OR project_id = {project:String} ORDER BY created_at, key_hash`,
    { project: projectId ?? '' },
  )
  return rows.map((row) => ({
    id: row.key_hash.slice(0, KEY_ID_LENGTH),
    projectId: row.project_id,
    name: row.name,
    createdAt: row.created_at,
    revoked: Number(row.revoked) !== 0,
  }))
}

/**
 * Revokes the key named by its listed id (or by the plain key). Returns what was revoked; an id
 * that matches no key, or more than one, revokes nothing.
 */
export async function revokeApiKey(
  store: Store,
  idOrKey: string,
): Promise<{ revoked: ApiKeyInfo[]; matches: number }> {
  const prefix = idOrKey.startsWith(KEY_PREFIX) ? hashApiKey(idOrKey) : idOrKey.toLowerCase()
  if (!/^[0-9a-f]{8,64}$/.test(prefix)) return { revoked: [], matches: 0 }
  const rows = await store.query<{ key_hash: string; project_id: string; name: string; created_at: string }>(
    `SELECT key_hash, project_id, name, toString(created_at) AS created_at FROM api_keys FINAL
     WHERE startsWith(key_hash, {prefix:String})`,
    { prefix },
  )
  if (rows.length !== 1) return { revoked: [], matches: rows.length }
  const row = rows[0]!
  // ReplacingMergeTree(updated_at): the newer row, with revoked = 1, replaces the key's row.
  await store.insert('api_keys', [
    {
      key_hash: row.key_hash,
      project_id: row.project_id,
      name: row.name,
      created_at: row.created_at,
      revoked: 1,
      updated_at: new Date().toISOString(),
    },
  ])
  return {
    revoked: [
      {
        id: row.key_hash.slice(0, KEY_ID_LENGTH),
        projectId: row.project_id,
        name: row.name,
        createdAt: row.created_at,
        revoked: true,
      },
    ],
    matches: 1,
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
