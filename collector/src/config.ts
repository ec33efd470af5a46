import { z } from 'zod'

/**
 * Collector configuration. Each value comes from a command-line argument, else an environment
 * variable, else the documented default, and is validated once at start-up.
 */
const booleanFromText = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
])

export const configSchema = z.object({
  /** HTTP listen address. Env DAA_HOST. Default 127.0.0.1 (set 0.0.0.0 to accept remote senders). */
  host: z.string().min(1).default('127.0.0.1'),
  /** OTLP/HTTP, API and dashboard port. Env DAA_PORT. Default 4318, the OTLP/HTTP port. */
  port: z.coerce.number().int().min(0).max(65535).default(4318),
  /** OTLP/gRPC port; 0 picks a free port, -1 disables gRPC. Env DAA_GRPC_PORT. Default 4317. */
  grpcPort: z.coerce.number().int().min(-1).max(65535).default(4317),
  /** Directory for the embedded database and the write-ahead log. Env DAA_DATA_DIR. Default ./.daa */
  dataDir: z.string().min(1).default('./.daa'),
  /** Days of data kept; 0 keeps everything. Env DAA_RETENTION_DAYS. Default 400. */
  retentionDays: z.coerce.number().int().min(0).max(36500).default(400),
  /** Largest OTLP request accepted, in MiB after decompression. Env DAA_MAX_BODY_MB. Default 64. */
  maxBodyMb: z.coerce.number().positive().max(1024).default(64),
  /** Longest a span waits in memory before its batch is written, ms. Env DAA_FLUSH_INTERVAL_MS. Default 1000. */
  flushIntervalMs: z.coerce.number().int().min(1).max(60_000).default(1000),
  /** A batch is written once it holds this many spans. Env DAA_MAX_BATCH_SPANS. Default 20000. */
  maxBatchSpans: z.coerce.number().int().min(1).max(1_000_000).default(20_000),
  /** Requests get 429 while this many MiB of request bodies wait for ClickHouse. Env DAA_MAX_BUFFER_MB. Default 32. */
  maxBufferMb: z.coerce.number().positive().max(16_384).default(32),
  /** How often write-ahead log segments are offered to ClickHouse while it is away, ms. Env DAA_REPLAY_INTERVAL_MS. Default 2000. */
  replayIntervalMs: z.coerce.number().int().min(10).max(600_000).default(2000),
  /**
   * How often this collector brings the metrics up to date, ms (collectors on one ClickHouse take
   * turns); 0 leaves it to other collectors (or to nobody). Env DAA_ROLLUP_INTERVAL_MS. Default 1000.
   */
  rollupIntervalMs: z.coerce.number().int().min(0).max(86_400_000).default(1000),
  /**
   * How old a cached API key look-up may get before the key is checked again, ms: a revoked key
   * stops working on every collector within this bound. While ClickHouse is away, known keys keep
   * their last answer for the whole outage. Env DAA_KEY_REFRESH_MS. Default 10000.
   */
  keyRefreshMs: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  /** Requests per second each API key may make on average; 0 turns limits off. Env DAA_RATE_LIMIT_RPS. Default 1000. */
  rateLimitRps: z.coerce.number().min(0).max(1_000_000).default(1000),
  /** Requests an idle API key may make at once; 0 means twice DAA_RATE_LIMIT_RPS. Env DAA_RATE_LIMIT_BURST. Default 0. */
  rateLimitBurst: z.coerce.number().int().min(0).max(10_000_000).default(0),
  /** PEM certificate (chain) file: with tlsKey, HTTP and gRPC serve TLS only. Env DAA_TLS_CERT. Default: none (plain). */
  tlsCert: z.string().min(1).optional(),
  /** PEM private key file of tlsCert. Env DAA_TLS_KEY. Default: none. */
  tlsKey: z.string().min(1).optional(),
  /** Longest a metrics query may run, seconds (ClickHouse max_execution_time). Env DAA_QUERY_TIMEOUT_S. Default 30. */
  queryTimeoutS: z.coerce.number().positive().max(3600).default(30),
  /** Most memory one metrics query may use, MiB (ClickHouse max_memory_usage). Env DAA_QUERY_MAX_MEMORY_MB. Default 4096. */
  queryMaxMemoryMb: z.coerce.number().positive().max(1_048_576).default(4096),
  /** JSON file of model prices (USD per million tokens). Env DAA_PRICES_FILE. Default: none, cost 0 unless sent. */
  pricesFile: z.string().min(1).optional(),
  /** ClickHouse server URL; when absent the embedded engine is used. Env CLICKHOUSE_URL. */
  clickhouseUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  /** Env CLICKHOUSE_USER. Default "default". */
  clickhouseUser: z.string().default('default'),
  /** Env CLICKHOUSE_PASSWORD. Default empty. */
  clickhousePassword: z.string().default(''),
  /** Env CLICKHOUSE_DATABASE. Default "daa". */
  clickhouseDatabase: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier (letters, digits, underscore)')
    .default('daa'),
  /** Cluster name from remote_servers: creates local + Distributed tables. Env CLICKHOUSE_CLUSTER. */
  clickhouseCluster: z.string().min(1).optional(),
  /** The cluster has Keeper: use ON CLUSTER and Replicated engines. Env CLICKHOUSE_CLUSTER_REPLICATED. Default true. */
  clickhouseClusterReplicated: booleanFromText.default(true),
  /**
   * HTTP URLs of every node, comma-separated, for a cluster without Keeper: migrations then run
   * node by node. Env CLICKHOUSE_CLUSTER_NODES.
   */
  clickhouseClusterNodes: z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((url) => url.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url({ protocol: /^https?$/ })))
    .optional(),
})

export type CollectorConfig = z.infer<typeof configSchema>

const ENVIRONMENT: Record<keyof CollectorConfig, string> = {
  host: 'DAA_HOST',
  port: 'DAA_PORT',
  grpcPort: 'DAA_GRPC_PORT',
  dataDir: 'DAA_DATA_DIR',
  retentionDays: 'DAA_RETENTION_DAYS',
  maxBodyMb: 'DAA_MAX_BODY_MB',
  flushIntervalMs: 'DAA_FLUSH_INTERVAL_MS',
  maxBatchSpans: 'DAA_MAX_BATCH_SPANS',
  maxBufferMb: 'DAA_MAX_BUFFER_MB',
  replayIntervalMs: 'DAA_REPLAY_INTERVAL_MS',
  rollupIntervalMs: 'DAA_ROLLUP_INTERVAL_MS',
  keyRefreshMs: 'DAA_KEY_REFRESH_MS',
  rateLimitRps: 'DAA_RATE_LIMIT_RPS',
  rateLimitBurst: 'DAA_RATE_LIMIT_BURST',
  tlsCert: 'DAA_TLS_CERT',
  tlsKey: 'DAA_TLS_KEY',
  queryTimeoutS: 'DAA_QUERY_TIMEOUT_S',
  queryMaxMemoryMb: 'DAA_QUERY_MAX_MEMORY_MB',
  pricesFile: 'DAA_PRICES_FILE',
  clickhouseUrl: 'CLICKHOUSE_URL',
  clickhouseUser: 'CLICKHOUSE_USER',
  clickhousePassword: 'CLICKHOUSE_PASSWORD',
  clickhouseDatabase: 'CLICKHOUSE_DATABASE',
  clickhouseCluster: 'CLICKHOUSE_CLUSTER',
  clickhouseClusterReplicated: 'CLICKHOUSE_CLUSTER_REPLICATED',
  clickhouseClusterNodes: 'CLICKHOUSE_CLUSTER_NODES',
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

/** Merges arguments over environment variables over defaults, and fails with every problem named. */
export function loadConfig(
  args: Partial<Record<keyof CollectorConfig, unknown>> = {},
  env: Record<string, string | undefined> = process.env,
): CollectorConfig {
  const merged: Record<string, unknown> = {}
  for (const [key, variable] of Object.entries(ENVIRONMENT)) {
    const value = args[key as keyof CollectorConfig] ?? env[variable]
    if (value !== undefined && value !== '') merged[key] = value
  }
  const parsed = configSchema.safeParse(merged)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]) as keyof CollectorConfig
      return `  ${key} (${ENVIRONMENT[key] ?? key}): ${issue.message}`
    })
    throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`)
  }
  const config = parsed.data
  if (config.clickhouseCluster && !config.clickhouseUrl) {
    throw new ConfigError(
      'Invalid configuration:\n  clickhouseCluster (CLICKHOUSE_CLUSTER): needs CLICKHOUSE_URL',
    )
  }
  if (Boolean(config.tlsCert) !== Boolean(config.tlsKey)) {
    throw new ConfigError(
      'Invalid configuration:\n  tlsCert (DAA_TLS_CERT), tlsKey (DAA_TLS_KEY): give both (TLS) or neither (plain)',
    )
  }
  if (
    config.clickhouseCluster &&
    !config.clickhouseClusterReplicated &&
    !config.clickhouseClusterNodes?.length
  ) {
    throw new ConfigError(
      'Invalid configuration:\n  clickhouseClusterNodes (CLICKHOUSE_CLUSTER_NODES): a cluster without Keeper ' +
        '(CLICKHOUSE_CLUSTER_REPLICATED=false) needs the HTTP URL of every node, to migrate them one by one',
    )
  }
  return config
}
