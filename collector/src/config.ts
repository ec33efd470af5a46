import { z } from 'zod'
import { DEFAULT_RETENTION_DAYS } from './store/schema.js'

/**
 * Collector configuration: the one place that defines every setting. Each value comes from a
 * command-line argument, else an environment variable, else the default, and is validated once at
 * start-up. What each setting means is in SETTINGS below.
 */
const booleanFromText = z.union(
  [z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')],
  { error: 'must be true, false, 1 or 0' },
)

/**
 * Ingest worker threads by default (`DAA_INGEST_WORKERS`; `createCollector`'s `ingestWorkers`).
 * Chosen by measurement on two cores: see collector/docs/ingest-speed.md.
 */
export const DEFAULT_INGEST_WORKERS = 1

export const configSchema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(4318),
  grpcPort: z.coerce.number().int().min(-1).max(65535).default(4317),
  dataDir: z.string().min(1).default('./.daa'),
  retentionDays: z.coerce.number().int().min(0).max(36500).optional(),
  demo: booleanFromText.optional(),
  maxBodyMb: z.coerce.number().positive().max(1024).default(64),
  flushIntervalMs: z.coerce.number().int().min(1).max(60_000).default(1000),
  maxBatchSpans: z.coerce.number().int().min(1).max(1_000_000).default(20_000),
  maxBufferMb: z.coerce.number().positive().max(16_384).default(32),
  maxLogMb: z.coerce.number().positive().max(1_048_576).default(1024),
  ingestWorkers: z.coerce.number().int().min(0).max(64).default(DEFAULT_INGEST_WORKERS),
  replayIntervalMs: z.coerce.number().int().min(10).max(600_000).default(2000),
  rollupIntervalMs: z.coerce.number().int().min(0).max(86_400_000).default(1000),
  keyRefreshMs: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  rateLimitRps: z.coerce.number().min(0).max(1_000_000).default(1000),
  rateLimitBurst: z.coerce.number().int().min(0).max(10_000_000).default(0),
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  queryTimeoutS: z.coerce.number().positive().max(3600).default(30),
  queryMaxMemoryMb: z.coerce.number().positive().max(1_048_576).default(4096),
  pricesFile: z.string().min(1).optional(),
  clickhouseUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  clickhouseUser: z.string().default('default'),
  clickhousePassword: z.string().default(''),
  clickhouseDatabase: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier (letters, digits, underscore)')
    .default('daa'),
  clickhouseCluster: z.string().min(1).optional(),
  clickhouseClusterReplicated: booleanFromText.default(true),
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

/** How a setting is given and what it means: the help text, the README table and the CLI read this. */
export interface SettingDoc {
  /** Environment variable. */
  env: string
  /** Also a command-line flag (`--kebab-case`), besides the environment variable. */
  flag?: boolean
  /** The default as documented; when absent, the schema's default is shown (`—` when there is none). */
  defaultText?: string
  /** One line: what it does. */
  help: string
}

/**
 * Every setting's environment variable, flag and meaning, in the order the README lists them. The
 * defaults come from `configSchema`; the README's configuration table is generated from both
 * (`npm run docs`), and a test fails when it drifts.
 */
export const SETTINGS: Record<keyof CollectorConfig, SettingDoc> = {
  host: { env: 'DAA_HOST', flag: true, help: 'listen address (`0.0.0.0` to accept remote senders)' },
  port: { env: 'DAA_PORT', flag: true, help: 'OTLP/HTTP, API and dashboard port' },
  grpcPort: {
    env: 'DAA_GRPC_PORT',
    flag: true,
    help: 'OTLP/gRPC port; `0` picks a free one, `-1` disables it',
  },
  dataDir: {
    env: 'DAA_DATA_DIR',
    flag: true,
    help: 'embedded database, write-ahead log, local keys and the admin credential',
  },
  retentionDays: {
    env: 'DAA_RETENTION_DAYS',
    flag: true,
    defaultText: `what the database keeps (\`${DEFAULT_RETENTION_DAYS}\` for a new one)`,
    help: 'days of data kept (TTL on every table); `0` keeps everything. Given, it changes the TTL of every table; not given, a process (a collector, any `daa` command) never changes it',
  },
  demo: {
    env: 'DAA_DEMO',
    flag: true,
    defaultText: 'on for `daa start` (`npm start`), off for `daa collector`',
    help: 'run the demo fleet (project `demo`, 30 days backfilled); `--no-demo` or `DAA_DEMO=0` turns it off',
  },
  pricesFile: {
    env: 'DAA_PRICES_FILE',
    help: 'JSON price table (USD per million tokens) for spans without `daa.cost.usd`',
  },
  maxBodyMb: { env: 'DAA_MAX_BODY_MB', help: 'largest OTLP request in MiB, after decompression' },
  flushIntervalMs: {
    env: 'DAA_FLUSH_INTERVAL_MS',
    help: 'longest rows wait (ms) before their batch goes to ClickHouse',
  },
  maxBatchSpans: { env: 'DAA_MAX_BATCH_SPANS', help: 'spans per ClickHouse insert' },
  maxBufferMb: {
    env: 'DAA_MAX_BUFFER_MB',
    help: 'MiB of encoded rows waiting for ClickHouse in memory; past it a request waits up to 2 s for room, then gets 429 (shared resource attributes count once)',
  },
  maxLogMb: {
    env: 'DAA_MAX_LOG_MB',
    help: "MiB the write-ahead log may hold while ClickHouse is away or behind; past it new requests get 503 (retry after 5 s) until it drains: size it to the outage to ride out, within the data directory's disk",
  },
  ingestWorkers: {
    env: 'DAA_INGEST_WORKERS',
    flag: true,
    help: 'worker threads that decode, map and encode OTLP requests off the event loop; `0` does it on the event loop (see collector/docs/ingest-speed.md for the measured default)',
  },
  rollupIntervalMs: {
    env: 'DAA_ROLLUP_INTERVAL_MS',
    help: 'how often (ms) this collector brings the metrics up to date while it holds the refresh claim (collectors on one ClickHouse take turns); `0` leaves it to the others',
  },
  replayIntervalMs: {
    env: 'DAA_REPLAY_INTERVAL_MS',
    help: 'how often (ms) the write-ahead log is offered to ClickHouse while it is behind',
  },
  keyRefreshMs: {
    env: 'DAA_KEY_REFRESH_MS',
    help: 'how old (ms) a cached API key look-up may get: a revoked key stops working on every collector within it; known keys are served from cache for a whole ClickHouse outage',
  },
  rateLimitRps: {
    env: 'DAA_RATE_LIMIT_RPS',
    help: 'requests per second each API key may make on average; `0` turns limits off',
  },
  rateLimitBurst: {
    env: 'DAA_RATE_LIMIT_BURST',
    help: 'requests an idle API key may make at once; `0` means twice `DAA_RATE_LIMIT_RPS`',
  },
  tlsCert: {
    env: 'DAA_TLS_CERT',
    flag: true,
    help: 'PEM certificate (chain) file: with `--tls-key`, HTTP and gRPC serve TLS only',
  },
  tlsKey: { env: 'DAA_TLS_KEY', flag: true, help: 'PEM private key file of `--tls-cert`' },
  queryTimeoutS: {
    env: 'DAA_QUERY_TIMEOUT_S',
    help: 'longest a metrics query may run, seconds (ClickHouse `max_execution_time`)',
  },
  queryMaxMemoryMb: {
    env: 'DAA_QUERY_MAX_MEMORY_MB',
    help: 'most memory one metrics query may use, MiB (ClickHouse `max_memory_usage`)',
  },
  clickhouseUrl: {
    env: 'CLICKHOUSE_URL',
    flag: true,
    help: 'use this ClickHouse server (http:// or https://) instead of the embedded engine',
  },
  clickhouseUser: { env: 'CLICKHOUSE_USER', flag: true, help: 'ClickHouse user' },
  clickhousePassword: {
    env: 'CLICKHOUSE_PASSWORD',
    flag: true,
    defaultText: 'empty',
    help: 'ClickHouse password',
  },
  clickhouseDatabase: { env: 'CLICKHOUSE_DATABASE', flag: true, help: 'database, created when missing' },
  clickhouseCluster: {
    env: 'CLICKHOUSE_CLUSTER',
    flag: true,
    help: 'cluster from `remote_servers`: local tables on every shard plus Distributed tables',
  },
  clickhouseClusterReplicated: {
    env: 'CLICKHOUSE_CLUSTER_REPLICATED',
    help: 'the cluster has Keeper: `ON CLUSTER` DDL and Replicated engines',
  },
  clickhouseClusterNodes: {
    env: 'CLICKHOUSE_CLUSTER_NODES',
    help: 'comma-separated HTTP URLs of every node, for a cluster without Keeper (migrated node by node)',
  },
}

/** `port` → `--port`, `grpcPort` → `--grpc-port`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`
}

/** The documented default of a setting, as text. */
export function defaultText(key: keyof CollectorConfig): string {
  const doc = SETTINGS[key]
  if (doc.defaultText !== undefined) return doc.defaultText
  const parsed = configSchema.shape[key].safeParse(undefined)
  if (!parsed.success || parsed.data === undefined) return '—'
  return `\`${String(parsed.data)}\``
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
  for (const [key, { env: variable }] of Object.entries(SETTINGS)) {
    const value = args[key as keyof CollectorConfig] ?? env[variable]
    if (value !== undefined && value !== '') merged[key] = value
  }
  const parsed = configSchema.safeParse(merged)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]) as keyof CollectorConfig
      return `  ${key} (${SETTINGS[key]?.env ?? key}): ${issue.message}`
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

/** The README's configuration table, generated from SETTINGS and the schema's defaults (`npm run docs`). */
export function settingsTable(): string {
  const lines = ['| flag | environment | default | meaning |', '| --- | --- | --- | --- |']
  for (const [key, doc] of Object.entries(SETTINGS)) {
    const flag = doc.flag ? `\`${key === 'demo' ? '--[no-]demo' : flagName(key)}\`` : ''
    lines.push(`| ${flag} | \`${doc.env}\` | ${defaultText(key as keyof CollectorConfig)} | ${doc.help} |`)
  }
  return lines.join('\n')
}

/** Markers around the generated table in README.md. */
export const SETTINGS_TABLE_MARKERS = [
  '<!-- settings:start (npm run docs) -->',
  '<!-- settings:end -->',
] as const
