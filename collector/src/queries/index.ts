/** The saved queries, their rollup, the metrics API and the CLI commands. */
export {
  describeSavedQueries,
  type MetricsEnv,
  type MetricsRoutesOptions,
  type QueryBatchLine,
  registerMetricsRoutes,
} from './metrics-routes.js'
export { listQueriesCommand, type QueryCommandOptions, runQueryCommand } from './query-commands.js'
export {
  CLAIM_LEASE_MS,
  holdsClaim,
  lastRefresh,
  RECOMMENDED_REFRESH_INTERVAL_MS,
  REFRESH_OVERLAP_MS,
  type RefreshOptions,
  type RefreshReport,
  type RollupRefresher,
  refreshRollups,
  releaseClaim,
  startRollupRefresher,
} from './refresh.js'
export { toCsv, toTable } from './result-formats.js'
export { DAY_ROLLUPS, ROLLUP_TABLES, RUN_SUMMARY_VIEW } from './rollup-schema.js'
export {
  FLOAT_DIGITS,
  findSavedQuery,
  MAX_RANGE_DAYS,
  type RunOptions,
  runSavedQuery,
  type SavedQueryParams,
  SavedQueryRequestError,
  type SavedQueryResult,
} from './run-saved-query.js'
export {
  expandIncludes,
  FRAGMENTS_DIR,
  parseSavedQuery,
  SAVED_QUERIES_DIR,
  type SavedQuery,
  SavedQueryDefinitionError,
  type SavedQueryField,
  savedQueries,
  savedQueryFiles,
  writeExpandedQueries,
} from './saved-queries.js'
