export { type Collector, type CollectorOptions, createCollector } from './app.js'
export {
  type ApiKeyInfo,
  ApiKeyNotFoundError,
  ApiKeyResolver,
  type ApiKeyResolverOptions,
  type CreatedApiKey,
  createApiKey,
  hashApiKey,
  listApiKeys,
  type RevokedApiKey,
  revokeApiKey,
} from './auth/api-keys.js'
export { KeyRateLimiter, type RateLimitOptions } from './auth/rate-limit.js'
export { type CollectorConfig, ConfigError, loadConfig } from './config.js'
export { resolvePendingRuns } from './ingest/run-resolver.js'
export {
  describeSavedQueries,
  MAX_RANGE_DAYS,
  type QueryBatchLine,
  refreshRollups,
  registerMetricsRoutes,
  runSavedQuery,
  type SavedQuery,
  type SavedQueryField,
  type SavedQueryParams,
  SavedQueryRequestError,
  type SavedQueryResult,
  savedQueries,
  startRollupRefresher,
} from './queries/index.js'
export { DEFAULT_QUERY_LIMITS, type QueryLimits, SavedQueryLimitError } from './queries/run-saved-query.js'
export { type RunningCollector, startCollectorServer } from './server.js'
export { createEmbeddedStore, type EmbeddedStoreOptions } from './store/embedded-store.js'
export { MIGRATIONS, type MigrationReport, migrate, migrateEachNode } from './store/migrations.js'
export { migrateConfigured, openStore } from './store/open-store.js'
export { type ClusterLayout, DEFAULT_RETENTION_DAYS, type SchemaOptions } from './store/schema.js'
export { createServerStore, type ServerStoreOptions } from './store/server-store.js'
export {
  ClickHouseError,
  type QueryParams,
  type QueryParamValue,
  type Store,
  StoreUnavailableError,
} from './store/store.js'
