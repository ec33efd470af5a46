#!/usr/bin/env -S node --max-semi-space-size=32 --max-old-space-size=256
// The flags above: a larger young generation lets ingest's short-lived objects die young instead
// of being promoted (a third less GC time, measured by bench:ingest), and a bounded old generation
// keeps the footprint predictable; the collector's own buffers are bounded far below it.
import { parseArgs } from 'node:util'
import { createApiKey } from './auth/api-keys.js'
import { ConfigError, loadConfig } from './config.js'
import { listQueriesCommand, runQueryCommand } from './queries/query-commands.js'
import { refreshRollups } from './queries/refresh.js'
import { SavedQueryRequestError } from './queries/run-saved-query.js'
import { startCollectorServer } from './server.js'
import { migrateConfigured, openStore } from './store/open-store.js'

const USAGE = `daa — Daily Active Agents

Usage:
  daa collector [options]   start the collector (OTLP/HTTP, API, dashboard)
  daa migrate [options]     create or upgrade the ClickHouse schema, then exit
  daa keys create --project NAME [--name LABEL]
                            create an API key for a project (printed once)
  daa queries               list the saved metric queries
  daa query NAME --project ID --from YYYY-MM-DD --to YYYY-MM-DD [--tz ZONE] [--agent ID]
            [--format table|json|csv]
                            run a saved query (a table by default)

Options (each also read from the environment variable shown):
  --host HOST               listen address (DAA_HOST, default 127.0.0.1)
  --port PORT               HTTP port (DAA_PORT, default 4318)
  --grpc-port PORT          OTLP/gRPC port, -1 to disable (DAA_GRPC_PORT, default 4317)
  --data-dir DIR            embedded database and write-ahead log (DAA_DATA_DIR, default ./.daa)
  --retention-days N        days of data kept, 0 = forever (DAA_RETENTION_DAYS, default 400)
  --clickhouse-url URL      use a ClickHouse server instead of the embedded engine (CLICKHOUSE_URL)
  --clickhouse-user USER    (CLICKHOUSE_USER, default "default")
  --clickhouse-password PW  (CLICKHOUSE_PASSWORD)
  --clickhouse-database DB  (CLICKHOUSE_DATABASE, default "daa")
  --clickhouse-cluster NAME create Distributed tables over this cluster (CLICKHOUSE_CLUSTER)
  -h, --help                show this help
`

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'grpc-port': { type: 'string' },
  'data-dir': { type: 'string' },
  'retention-days': { type: 'string' },
  'clickhouse-url': { type: 'string' },
  'clickhouse-user': { type: 'string' },
  'clickhouse-password': { type: 'string' },
  'clickhouse-database': { type: 'string' },
  'clickhouse-cluster': { type: 'string' },
  project: { type: 'string' },
  name: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  tz: { type: 'string' },
  agent: { type: 'string' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Flags that belong to a command rather than to the configuration. */
const COMMAND_FLAGS = new Set(['help', 'project', 'name', 'from', 'to', 'tz', 'agent', 'format'])

function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true })
  const [command] = positionals
  if (values.help || !command) {
    process.stdout.write(USAGE)
    return command || values.help ? 0 : 2
  }
  const args = Object.fromEntries(
    Object.entries(values)
      .filter(([flag]) => !COMMAND_FLAGS.has(flag))
      .map(([flag, value]) => [camelCase(flag), value]),
  )
  const config = loadConfig(args)

  switch (command) {
    case 'collector': {
      const running = await startCollectorServer(config)
      const grpc = running.grpcPort === undefined ? 'off' : `127.0.0.1:${running.grpcPort}`
      process.stdout.write(
        `daa collector listening on ${running.url} (OTLP/HTTP ${running.url}/v1/traces, OTLP/gRPC ${grpc}, ClickHouse: ${running.store.kind})\n`,
      )
      if (running.localApiKey) {
        process.stdout.write(`API key for project "default": ${running.localApiKey}\n`)
        // The key rides in the fragment, which browsers never send: one click opens the dashboard.
        process.stdout.write(`Dashboard: ${running.url}/#key=${running.localApiKey}\n`)
      } else {
        process.stdout.write(`Dashboard: ${running.url}/ (asks for an API key)\n`)
      }
      const stop = (signal: string) => {
        process.stdout.write(`${signal}: flushing and shutting down\n`)
        running.close().then(
          () => process.exit(0),
          (error: unknown) => {
            process.stderr.write(`shutdown failed: ${String(error)}\n`)
            process.exit(1)
          },
        )
      }
      process.once('SIGTERM', () => stop('SIGTERM'))
      process.once('SIGINT', () => stop('SIGINT'))
      return -1
    }
    case 'migrate': {
      const store = await openStore(config)
      try {
        const report = await migrateConfigured(store, config)
        process.stdout.write(
          report.applied.length
            ? `applied migrations ${report.applied.join(', ')}\n`
            : 'schema is up to date\n',
        )
      } finally {
        await store.close()
      }
      return 0
    }
    case 'keys': {
      if (positionals[1] !== 'create' || !values.project) {
        process.stderr.write('usage: daa keys create --project NAME [--name LABEL]\n')
        return 2
      }
      const store = await openStore(config)
      try {
        await migrateConfigured(store, config)
        const created = await createApiKey(store, values.project, values.name)
        process.stdout.write(`${created.key}\n`)
        process.stderr.write(
          `API key for project "${created.projectId}" created. Store it now: it cannot be shown again.\n`,
        )
      } finally {
        await store.close()
      }
      return 0
    }
    case 'queries':
      listQueriesCommand(process.stdout)
      return 0
    case 'query': {
      const name = positionals[1]
      const format = values.format ?? 'table'
      if (!name || !values.project || !values.from || !values.to) {
        process.stderr.write(
          'usage: daa query NAME --project ID --from YYYY-MM-DD --to YYYY-MM-DD [--tz ZONE] [--agent ID] [--format table|json|csv]\n',
        )
        return 2
      }
      if (format !== 'table' && format !== 'json' && format !== 'csv') {
        process.stderr.write(`--format must be table, json or csv, not "${format}"\n`)
        return 2
      }
      const store = await openStore(config)
      try {
        await migrateConfigured(store, config)
        // A one-off command: bring the rollups up to date first, so the answer includes everything stored.
        await refreshRollups(store)
        await runQueryCommand(
          store,
          values.project,
          { name, from: values.from, to: values.to, tz: values.tz, agent: values.agent, format },
          process.stdout,
        )
      } finally {
        await store.close()
      }
      return 0
    }
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code)
  },
  (error: unknown) => {
    // Errors meant for the user print as they are; anything else is prefixed so it reads as daa's.
    const known = error instanceof ConfigError || error instanceof SavedQueryRequestError
    process.stderr.write(
      `${known ? (error as Error).message : `daa: ${(error as Error)?.message ?? error}`}\n`,
    )
    process.exit(1)
  },
)
