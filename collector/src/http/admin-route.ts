/**
 * The admin API the `daa` CLI uses while a collector runs (the embedded engine admits one process,
 * so the CLI cannot open it beside the collector). Every route needs the admin credential that the
 * collector keeps in its data directory (readable by its owner only):
 *   POST   /admin/v1/keys                 {project, name?}  create a key (the plain key is in the answer, once)
 *   GET    /admin/v1/keys?project=        list keys (ids, never the keys)
 *   DELETE /admin/v1/keys/:id             revoke a key by its listed id (or the key itself)
 *   GET    /admin/v1/metrics/:name?project=&from=&to=&tz=&agent=   run a saved query for any project
 *   POST   /admin/v1/import?project=      an OTLP trace export for a project, through the same
 *                                         validation, mapping and write-ahead log as POST /v1/traces
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Hono } from 'hono'
import {
  ApiKeyNotFoundError,
  type ApiKeyResolver,
  createApiKey,
  listApiKeys,
  projectNameProblem,
  revokeApiKey,
} from '../auth/api-keys.js'
import { acceptExport, type ExportHandlerDependencies } from '../ingest/export-handler.js'
import type { OtlpEncoding } from '../otlp/export-response.js'
import { type QueryLimits, runSavedQuery } from '../queries/run-saved-query.js'
import type { Store } from '../store/store.js'
import type { CollectorEnv } from './collector-env.js'
import { HttpError } from './http-error.js'
import { readBoundedBody } from './read-body.js'

export interface AdminRouteOptions extends ExportHandlerDependencies {
  /** The admin credential; requests carry it as `Authorization: Bearer <token>`. */
  token: string
  store: Store
  keys: ApiKeyResolver
  maxBodyBytes: number
  /**
   * Makes everything acknowledged visible to the saved queries (flush, attribute, refresh rollups)
   * before a query. Default: none, the query reads what the metrics API reads.
   */
  settle?: () => Promise<void>
  /** Time and memory limits of each query. Default: runSavedQuery's (30 s, 4 GiB). */
  queryLimits?: QueryLimits
}

const digest = (text: string) => createHash('sha256').update(text).digest()

function requireProject(project: string | undefined): string {
  if (!project) throw new HttpError(400, 'The parameter "project" is required.', 'invalid_parameters')
  const problem = projectNameProblem(project)
  if (problem) throw new HttpError(400, problem, 'invalid_parameters')
  return project
}

export function registerAdminRoutes(app: Hono<CollectorEnv>, options: AdminRouteOptions): void {
  const expected = digest(options.token)

  app.use('/admin/*', async (c, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')
    // Hashes have one length, so the comparison takes the same time whatever was sent.
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      throw new HttpError(
        401,
        'The admin API needs the admin credential of this collector.',
        'unauthenticated',
      )
    }
    await next()
  })

  app.post('/admin/v1/keys', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { project?: unknown; name?: unknown }
    const project = requireProject(typeof body.project === 'string' ? body.project : undefined)
    const name = typeof body.name === 'string' && body.name ? body.name : undefined
    // The name was checked above (requireProject), as createApiKey checks it.
    const created = await createApiKey(options.store, project, name)
    return c.json({ key: created.key, project: created.projectId, name: created.name }, 201)
  })

  app.get('/admin/v1/keys', async (c) =>
    c.json({ keys: await listApiKeys(options.store, c.req.query('project') || undefined) }),
  )

  app.delete('/admin/v1/keys/:id', async (c) => {
    try {
      const revoked = await revokeApiKey(options.store, c.req.param('id'))
      // This collector stops accepting it now; the others on their next key refresh.
      options.keys.forget(revoked.id)
      return c.json({ revoked: [revoked] })
    } catch (error) {
      if (error instanceof ApiKeyNotFoundError) throw new HttpError(404, error.message, 'not_found')
      throw error
    }
  })

  app.get('/admin/v1/metrics/:name', async (c) => {
    const { project, ...params } = c.req.query()
    const projectId = requireProject(project)
    await options.settle?.()
    // The same time and memory limits as the metrics API.
    return c.json(
      await runSavedQuery(options.store, projectId, c.req.param('name'), params, {
        limits: options.queryLimits,
      }),
    )
  })

  app.post('/admin/v1/import', async (c) => {
    const projectId = requireProject(c.req.query('project'))
    const mediaType = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
    const encoding: OtlpEncoding | undefined =
      mediaType === 'application/json'
        ? 'json'
        : mediaType === 'application/x-protobuf'
          ? 'protobuf'
          : undefined
    if (!encoding) {
      throw new HttpError(415, 'Send application/json or application/x-protobuf.', 'unsupported_media_type')
    }
    const body = await readBoundedBody(c.req.raw, c.req.header('content-encoding'), options.maxBodyBytes)
    const outcome = await acceptExport(options, projectId, encoding, () => body)
    return c.json({
      acceptedSpans: outcome.acceptedSpans,
      rejectedSpans: outcome.rejectedSpans,
      errorMessage: outcome.errorMessage,
    })
  })
}
