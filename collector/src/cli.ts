#!/usr/bin/env -S node --max-semi-space-size=8 --max-old-space-size=256
// The flags above bound the heap of the event loop and of each ingest worker (which take the same
// limits), so the footprint is predictable; the collector's own buffers are bounded far below it.
// Semi-spaces of 8 MiB instead of 32: bench:ingest, two runs of five rounds in the same rounds,
// peak RSS 206–210 MB against 277, collector CPU per span and the rate to commit unchanged
// (collector/docs/ingest-speed.md). The larger young generation paid before the decoding, mapping
// and encoding moved to a worker thread and stopped making so much garbage.
import {
  type AdminClient,
  AdminRequestError,
  expectJson,
  type OpenAdminOptions,
  openAdminClient,
} from './cli/admin-client.js'
import { parseCommandLine } from './cli/args.js'
import { importFiles } from './cli/import-files.js'
import { formatBytes, progressBar } from './cli/progress.js'
import { ConfigError, defaultText, flagName, loadConfig, SETTINGS } from './config.js'
import { deadLetterCommand } from './ingest/dead-letter-command.js'
import { listQueriesCommand, QUERY_USAGE } from './queries/query-commands.js'
import { toCsv, toTable } from './queries/result-formats.js'
import {
  DEFAULT_RANGE_DAYS,
  SavedQueryRequestError,
  type SavedQueryResult,
} from './queries/run-saved-query.js'
import { startCollectorServer } from './server.js'
import { describeRetentionChange, migrateConfigured, openStore, retentionText } from './store/open-store.js'

function settingsHelp(): string {
  return Object.entries(SETTINGS)
    .filter(([, doc]) => doc.flag)
    .map(([key, doc]) => {
      const flag = key === 'demo' ? '--[no-]demo' : `${flagName(key)} VALUE`
      const plainDefault = defaultText(key as keyof typeof SETTINGS).replaceAll('`', '')
      return `  ${flag.padEnd(28)}${doc.help.replaceAll('`', '')} (${doc.env}; default ${plainDefault})`
    })
    .join('\n')
}

const USAGE = `daa — Daily Active Agents

Usage:
  daa start [options]       the collector, the built-in dashboard and a demo fleet (what npm start runs)
  daa collector [options]   the collector alone (OTLP/HTTP, OTLP/gRPC, API, dashboard)
  daa migrate [options]     create or upgrade the ClickHouse schema, then exit
  daa keys create --project NAME [--name LABEL]
                            create an API key for a project (printed once)
  daa keys list [--project NAME]
                            list keys (their ids, never the keys)
  daa keys revoke ID        revoke a key by its listed id (or by the key itself)
  daa dead-letter list | show FILE
                            rows ClickHouse refused for their data (in <data dir>/dead-letter)
  daa queries               list the saved metric queries
  ${QUERY_USAGE.replace(' [--format', '\n            [--format')}
                            run a saved query (a table by default; the last ${DEFAULT_RANGE_DAYS} days through
                            today unless --from/--to say otherwise)
  daa import --project NAME FILE...
                            backfill OTLP JSON trace files, validated and deduplicated like exports;
                            exits 1 when a file, a line or a span was refused

keys, query and import go through the collector running on the same data directory (using the
admin credential it keeps there, readable by its owner only), else straight to ClickHouse.

Options (each also read from the environment variable shown; every setting is in the README):
${settingsHelp()}
  -h, --help                  show this help
`

const out = (text: string) => process.stdout.write(text)

/** keys list, keys revoke and query read what is stored: they never create an empty data directory. */
const READS_STORED_DATA: OpenAdminOptions = { readsStoredData: true }

async function withAdmin<T>(
  config: ReturnType<typeof loadConfig>,
  work: (admin: AdminClient) => Promise<T>,
  options: OpenAdminOptions = {},
) {
  const admin = await openAdminClient(config, options)
  try {
    return await work(admin)
  } finally {
    await admin.close()
  }
}

/**
 * On a terminal, a bar for the write-ahead log left by the previous run while it is replayed into
 * ClickHouse, read from the collector's own /metrics (`daa_wal_bytes`).
 */
function showReplayProgress(url: string): void {
  if (!process.stderr.isTTY) return
  const walBytes = async () => {
    const text = await (await fetch(`${url}/metrics`)).text()
    return Number(/^daa_wal_bytes (\d+)/m.exec(text)?.[1] ?? 0)
  }
  void walBytes().then(
    (initial) => {
      if (initial <= 0) return
      const bar = progressBar('replaying the write-ahead log', initial, { format: formatBytes })
      let left = initial
      const timer = setInterval(() => {
        walBytes().then(
          (now) => {
            if (now < left) bar.advance(left - now)
            left = Math.min(left, now)
            if (now === 0) {
              clearInterval(timer)
              bar.done()
            }
          },
          () => clearInterval(timer),
        )
      }, 200)
      timer.unref()
    },
    () => {},
  )
}

async function serve(config: ReturnType<typeof loadConfig>, demo: boolean): Promise<void> {
  // Everything the collector writes (database, log, key file) is for its owner's eyes only.
  process.umask(0o077)
  const running = await startCollectorServer(config)
  let fleet: Awaited<ReturnType<typeof import('./demo/fleet.js').startDemoFleet>> | undefined
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    out(`${signal}: flushing and shutting down\n`)
    // The demo first: its last spans go to the collector while it still listens.
    Promise.resolve(fleet?.stop())
      .then(() => running.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`shutdown failed: ${String(error)}\n`)
          process.exit(1)
        },
      )
  }
  // Before the first line is printed: whatever waits for that line (a supervisor, a test) may stop
  // the collector at once, and a signal that found no handler would end it without its flush.
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))
  const grpc = running.grpcPort === undefined ? 'off' : `127.0.0.1:${running.grpcPort}`
  out(
    `daa collector listening on ${running.url} (OTLP/HTTP ${running.url}/v1/traces, OTLP/gRPC ${grpc}, ClickHouse: ${running.store.kind})\n`,
  )
  // Printed once, when created: logs of later starts must not carry it.
  if (running.localApiKey && running.localApiKeyCreated) {
    out(`API key for project "default": ${running.localApiKey}\n`)
    // The key rides in the fragment, which browsers never send: one click opens the dashboard.
    out(`Dashboard: ${running.url}/#key=${running.localApiKey}\n`)
  } else {
    if (running.localApiKey) out(`API key for project "default": in ${config.dataDir}/default-api-key\n`)
    out(`Dashboard: ${running.url}/ (asks for an API key)\n`)
  }
  showReplayProgress(running.url)
  if (!demo) return
  const { startDemoFleet, DEMO_PROJECT } = await import('./demo/fleet.js')
  fleet = await startDemoFleet({
    url: running.url,
    store: running.store,
    dataDir: config.dataDir,
    progress: (total) => progressBar('demo: backfilling 30 days', total),
    onBackfilled: () => running.settle(),
  })
  out(`Demo fleet writing to project "${DEMO_PROJECT}" (turn it off with --no-demo or DAA_DEMO=0).\n`)
  await fleet.ready
  // Like the default project's key: printed once, when made; later starts name its file.
  if (!stopping)
    out(
      fleet.apiKeyCreated
        ? `Demo dashboard: ${running.url}/#key=${fleet.apiKey}\n`
        : `Demo dashboard: ${running.url}/ (its key is in ${config.dataDir}/demo-api-key)\n`,
    )
}

async function main(argv: string[]): Promise<number> {
  const { positionals, settings, command: flags } = parseCommandLine(argv)
  const [command] = positionals
  if (flags.help || !command) {
    out(USAGE)
    return command || flags.help ? 0 : 2
  }
  const config = loadConfig(settings)

  switch (command) {
    case 'start':
    case 'collector':
      await serve(config, config.demo ?? command === 'start')
      return -1
    case 'migrate': {
      const store = await openStore(config)
      try {
        const report = await migrateConfigured(store, config)
        out(
          report.applied.length
            ? `applied migrations ${report.applied.join(', ')}\n`
            : 'schema is up to date\n',
        )
        const change = describeRetentionChange(report)
        out(`${change ?? `retention: ${retentionText(report.retentionDays)}`}\n`)
      } finally {
        await store.close()
      }
      return 0
    }
    case 'keys': {
      const action = positionals[1]
      if (action === 'create' && flags.project) {
        const created = await withAdmin(config, async (admin) =>
          expectJson<{ key: string; project: string }>(
            await admin.request('/admin/v1/keys', {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ project: flags.project, name: flags.name }),
            }),
          ),
        )
        out(`${created.key}\n`)
        process.stderr.write(
          `API key for project "${created.project}" created. Store it now: it cannot be shown again.\n`,
        )
        return 0
      }
      if (action === 'list') {
        const { keys } = await withAdmin(
          config,
          async (admin) =>
            expectJson<{
              keys: { id: string; projectId: string; name: string; createdAt: string; revoked: boolean }[]
            }>(
              await admin.request(
                `/admin/v1/keys${flags.project ? `?project=${encodeURIComponent(flags.project)}` : ''}`,
              ),
            ),
          READS_STORED_DATA,
        )
        const rows = [
          ['id', 'project', 'name', 'created', 'status'],
          ...keys.map((key) => [
            key.id,
            key.projectId,
            key.name,
            key.createdAt,
            key.revoked ? 'revoked' : 'active',
          ]),
        ]
        const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
        for (const row of rows)
          out(
            `${row
              .map((cell, column) => cell.padEnd(widths[column]!))
              .join('  ')
              .trimEnd()}\n`,
          )
        return 0
      }
      if (action === 'revoke' && positionals[2]) {
        const { revoked } = await withAdmin(
          config,
          async (admin) =>
            expectJson<{ revoked: { id: string; projectId: string; alreadyRevoked: boolean }[] }>(
              await admin.request(`/admin/v1/keys/${encodeURIComponent(positionals[2]!)}`, {
                method: 'DELETE',
              }),
            ),
          READS_STORED_DATA,
        )
        for (const key of revoked)
          out(
            key.alreadyRevoked
              ? `key ${key.id} of project "${key.projectId}" was already revoked: nothing changed\n`
              : `revoked key ${key.id} of project "${key.projectId}"\n`,
          )
        return 0
      }
      process.stderr.write(
        'usage: daa keys create --project NAME [--name LABEL] | daa keys list [--project NAME] | daa keys revoke ID\n',
      )
      return 2
    }
    case 'dead-letter':
      return deadLetterCommand(config.dataDir, positionals.slice(1), process.stdout, process.stderr)
    case 'queries':
      listQueriesCommand(process.stdout)
      return 0
    case 'query': {
      const name = positionals[1]
      const format = flags.format ?? 'table'
      if (!name || !flags.project) {
        process.stderr.write(`usage: ${QUERY_USAGE}\n`)
        return 2
      }
      if (format !== 'table' && format !== 'json' && format !== 'csv') {
        process.stderr.write(`--format must be table, json or csv, not "${format}"\n`)
        return 2
      }
      const params = new URLSearchParams({ project: flags.project })
      if (flags.from) params.set('from', flags.from)
      if (flags.to) params.set('to', flags.to)
      if (flags.tz) params.set('tz', flags.tz)
      if (flags.agent) params.set('agent', flags.agent)
      // The admin route brings the rollups up to date first, so the answer includes everything stored.
      const result = await withAdmin(
        config,
        async (admin) =>
          expectJson<SavedQueryResult>(
            await admin.request(`/admin/v1/metrics/${encodeURIComponent(name)}?${params}`),
          ),
        READS_STORED_DATA,
      )
      if (format === 'json') out(`${JSON.stringify(result, null, 2)}\n`)
      else if (format === 'csv') out(toCsv(result))
      else out(toTable(result))
      return 0
    }
    case 'import': {
      const files = positionals.slice(1)
      if (!flags.project || files.length === 0) {
        process.stderr.write('usage: daa import --project NAME FILE...\n')
        return 2
      }
      const report = await withAdmin(config, (admin) => importFiles(admin, flags.project!, files))
      out(
        `imported ${report.acceptedSpans} spans from ${report.files} file(s) in ${report.requests} request(s)` +
          `${report.rejectedSpans ? `; ${report.rejectedSpans} spans rejected` : ''}` +
          // Each reason names its spans: "2 spans rejected: …", or "1 span kept: …" for a note.
          `${report.reasons.length > 0 ? ` (${report.reasons.join('; ')})` : ''}\n`,
      )
      for (const failure of report.failures) process.stderr.write(`refused: ${failure}\n`)
      // A backfill script must see that something was not stored: a refused line or file, or a
      // rejected span (notes on kept spans do not count).
      return report.failures.length > 0 || report.rejectedSpans > 0 ? 1 : 0
    }
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`)
      return 2
  }
}

// A collector outlives whatever reads its output (a closed terminal, a supervisor's pipe): a line
// written to a broken pipe must not crash it before it has flushed what it acknowledged.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
  })
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code)
  },
  (error: unknown) => {
    // Errors meant for the user print as they are; anything else is prefixed so it reads as daa's.
    const known =
      error instanceof ConfigError ||
      error instanceof SavedQueryRequestError ||
      error instanceof AdminRequestError
    const message = (error as Error)?.message ?? String(error)
    const hint = (error as { code?: string })?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `\n\n${USAGE}` : ''
    process.stderr.write(`${known ? message : `daa: ${message}`}${hint}\n`)
    process.exit(1)
  },
)
