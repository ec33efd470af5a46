/**
 * The metrics API over the saved queries:
 *   GET /api/v1/metrics                 the saved queries, their parameters and columns
 *   GET /api/v1/metrics/:name?from=&to=&tz=&agent=&format=json|csv
 *   POST /api/v1/metrics                several saved queries in one request, answered as NDJSON,
 *                                       one line per query as soon as it is done
 * The project is the one the auth middleware put in `c.get('projectId')`; no parameter can change it.
 */
import { constants, createGzip } from 'node:zlib'
import type { Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { stream } from 'hono/streaming'
import { parseAccept } from 'hono/utils/accept'
import { z } from 'zod'
import { describeError } from '../http/error-response.js'
import type { Store } from '../store/store.js'
import { toCsv } from './result-formats.js'
import {
  type QueryLimits,
  runSavedQuery,
  SavedQueryRequestError,
  type SavedQueryResult,
} from './run-saved-query.js'
import { STANDARD_PARAMS, savedQueries } from './saved-queries.js'

export type MetricsEnv = { Variables: { projectId: string } }

export interface MetricsRoutesOptions {
  store: Store
  /** Time and memory limits per query. Default DEFAULT_QUERY_LIMITS (30 s, 4 GiB). */
  queryLimits?: QueryLimits
  /**
   * Called with an error nobody expected in a query of POST /api/v1/metrics, whose answer has
   * begun and so cannot reach the app's error handler. Default: written to stderr.
   */
  onError?: (error: unknown) => void
}

/** Describes every saved query (for API clients, dashboards generators and `daa queries`). */
export function describeSavedQueries() {
  return [...savedQueries().values()].map((query) => ({
    name: query.name,
    title: query.title,
    description: query.description,
    definition: query.definition,
    // `project` is bound by the server, so clients see only what they may set.
    params: query.params
      .filter((param) => param.name !== 'project')
      .map((param) => ({
        ...param,
        required: param.name === 'from' || param.name === 'to',
        ...(param.name === 'tz' ? { default: 'UTC' } : {}),
        ...(param.name === 'agent' ? { default: '' } : {}),
      })),
    columns: query.columns,
  }))
}

function errorBody(code: string, message: string) {
  return { error: { code, message } }
}

/** Most saved queries one POST may run (the page sends about a dozen). */
export const MAX_QUERIES_PER_REQUEST = 32
/**
 * Largest body of that POST. The page names the agent in each of its dozen queries, and an agent id
 * is whatever a sender wrote (a 10,000-character one made the page's 64 KiB limit answer 413).
 */
const MAX_BATCH_BODY_BYTES = 1024 * 1024

/** The body of POST /api/v1/metrics: each query by name, with the parameters its GET would take. */
const QueryBatch = z.strictObject({
  queries: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(128),
        params: z.record(z.string(), z.string()).default({}),
      }),
    )
    .min(1)
    .max(MAX_QUERIES_PER_REQUEST),
})

/**
 * One line of POST /api/v1/metrics's answer: the query at `index` of the request, with the result
 * its GET would give, or the error body its GET would give and that GET's status.
 */
export type QueryBatchLine =
  | { index: number; name: string; result: SavedQueryResult }
  | { index: number; name: string; status: number; error: { code: string; message: string } }

export function registerMetricsRoutes<E extends MetricsEnv>(
  app: Hono<E>,
  options: MetricsRoutesOptions,
): void {
  const { store } = options
  const onUnexpected = options.onError ?? ((error: unknown) => console.error(error))

  // Answers are a project's data, read with its key: no cache keeps them, and no browser takes a
  // CSV for a page to render.
  for (const path of ['/api/v1/metrics', '/api/v1/metrics/*']) {
    app.use(path, async (c, next) => {
      await next()
      if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store')
      c.res.headers.set('X-Content-Type-Options', 'nosniff')
    })
  }

  app.get('/api/v1/metrics', (c) =>
    c.json({ queries: describeSavedQueries(), standard_params: STANDARD_PARAMS.slice(1) }),
  )

  app.get('/api/v1/metrics/:name', async (c: Context<E>) => {
    const projectId = c.get('projectId')
    const { format = 'json', ...params } = c.req.query()
    try {
      if (format !== 'json' && format !== 'csv') {
        throw new SavedQueryRequestError(
          'invalid_parameters',
          `Invalid parameters: format must be json or csv, not "${format}".`,
        )
      }
      const result = await runSavedQuery(store, projectId, c.req.param('name') ?? '', params, {
        limits: options.queryLimits,
      })
      // The query's own time, so a browser's developer tools (and the Resource Timing API) can tell
      // it apart from the time a request waited for a connection or spent in transit.
      c.header('Server-Timing', `query;dur=${result.elapsed_ms};desc="${result.query}"`)
      if (format === 'csv') {
        return c.body(toCsv(result), 200, {
          'Content-Type': 'text/csv; charset=utf-8',
          'Content-Disposition': `inline; filename="${result.query}_${result.params.from}_${result.params.to}.csv"`,
          ...(result.fresh_as_of ? { 'X-Daa-Fresh-As-Of': result.fresh_as_of } : {}),
        })
      }
      return c.json(result)
    } catch (error) {
      // Answered here, not left to the collector's error handler: these routes are exported, and
      // mounted on apps (tests, embedders) that have none.
      if (error instanceof SavedQueryRequestError) {
        return c.json(errorBody(error.code, error.message), error.status)
      }
      throw error
    }
  })

  // A browser opens at most six connections to one origin over HTTP/1.1, so a dashboard of a
  // dozen GETs waits for its first six answers before it can send the rest. One POST runs them all
  // at once and streams each answer as it is ready, so no panel waits for a connection. What the
  // page gained from it is small: bench:query at 200,000 runs measured it, with the compressed
  // answers, 0.92x over a 50 Mbit/s, 20 ms link and no change on loopback
  // (collector/docs/metric-layer.md, "The page").
  const limitBody = bodyLimit({
    maxSize: MAX_BATCH_BODY_BYTES,
    onError: (c) =>
      c.json(errorBody('body_too_large', `The body is larger than ${MAX_BATCH_BODY_BYTES / 1024} KiB.`), 413),
  })
  app.post('/api/v1/metrics', limitBody, async (c: Context<E>) => {
    const projectId = c.get('projectId')
    let body: unknown
    try {
      body = await c.req.json()
    } catch {
      return c.json(
        errorBody('invalid_body', 'The body must be JSON: {"queries": [{"name", "params"}]}.'),
        400,
      )
    }
    const parsed = QueryBatch.safeParse(body)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''
      return c.json(
        errorBody(
          'invalid_body',
          `Invalid body: ${where}${issue.message}. Expected {"queries": [{"name", "params"}]}, 1 to ${MAX_QUERIES_PER_REQUEST} queries.`,
        ),
        400,
      )
    }
    c.header('Content-Type', 'application/x-ndjson; charset=utf-8')
    // no-transform: a proxy that compressed the stream would hold the lines back until its buffer filled.
    c.header('Cache-Control', 'no-store, no-transform')
    c.header('Vary', 'Accept-Encoding')
    // Compressed here, line by line (each line flushed), for the same reason: a 20,000-agent
    // leaderboard is 4.3 MB of JSON, and a dashboard on a real network should not wait for it.
    const gzip = acceptsGzip(c.req.header('accept-encoding'))
    if (gzip) c.header('Content-Encoding', 'gzip')
    return stream(c, async (out) => {
      const encoder = gzip ? createGzip({ level: constants.Z_BEST_SPEED }) : undefined
      const compressed: Buffer[] = []
      encoder?.on('data', (chunk: Buffer) => compressed.push(chunk))
      const writeCompressed = async () => {
        for (const chunk of compressed.splice(0)) await out.write(chunk)
      }
      // Every query starts now; each line is written when its query ends, whatever the order, one
      // line after another. One query's error is its own line and never stops the others.
      let writing = Promise.resolve()
      const write = (line: QueryBatchLine) => {
        const text = `${JSON.stringify(line)}\n`
        writing = writing.then(async () => {
          if (!encoder) {
            await out.write(text)
            return
          }
          encoder.write(text)
          await new Promise<void>((resolve) => encoder.flush(() => resolve()))
          await writeCompressed()
        })
        return writing
      }
      await Promise.all(
        parsed.data.queries.map(async ({ name, params }, index): Promise<void> => {
          try {
            const result = await runSavedQuery(store, projectId, name, params, {
              limits: options.queryLimits,
            })
            await write({ index, name, result })
          } catch (error) {
            // The status line went out with the first answer, so each error is its own line, with
            // the status and body its GET would have had.
            const { status, code, message } = describeError(error, onUnexpected)
            await write({ index, name, status, ...errorBody(code, message) })
          }
        }),
      )
      await writing
      if (encoder) {
        // 'end': the gzip trailer has been read out of the encoder, not only written into it.
        await new Promise<void>((resolve) => {
          encoder.once('end', resolve)
          encoder.end()
        })
        await writeCompressed()
      }
    })
  })
}

/** Whether an Accept-Encoding header takes gzip, by name or as `*` (not refused with q=0). */
function acceptsGzip(header: string | undefined): boolean {
  const accepted = parseAccept(header ?? '')
  const coding =
    accepted.find(({ type }) => type.toLowerCase() === 'gzip') ?? accepted.find(({ type }) => type === '*')
  return (coding?.q ?? 0) > 0
}
