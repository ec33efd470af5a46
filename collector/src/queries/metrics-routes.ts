/**
 * The metrics API over the saved queries:
 *   GET /api/v1/metrics                 the saved queries, their parameters and columns
 *   GET /api/v1/metrics/:name?from=&to=&tz=&agent=&format=json|csv
 * The project is the one the auth middleware put in `c.get('projectId')`; no parameter can change it.
 */
import type { Context, Hono } from 'hono'
import type { Store } from '../store/store.js'
import { toCsv } from './result-formats.js'
import { type QueryLimits, runSavedQuery, SavedQueryRequestError } from './run-saved-query.js'
import { STANDARD_PARAMS, savedQueries } from './saved-queries.js'

export type MetricsEnv = { Variables: { projectId: string } }

export interface MetricsRoutesOptions {
  store: Store
  /** Time and memory limits per query. Default DEFAULT_QUERY_LIMITS (30 s, 4 GiB). */
  queryLimits?: QueryLimits
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

export function registerMetricsRoutes<E extends MetricsEnv>(
  app: Hono<E>,
  options: MetricsRoutesOptions,
): void {
  const { store } = options

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
}
