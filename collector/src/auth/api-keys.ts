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
