/**
 * Shared parts of the reliability suite: the short/full switch, a sender that retries the way
 * OTLP exporters do, the collector as a real child process (to SIGKILL it), and exact metrics read
 * through the metrics API the way a dashboard reads them.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createApiKey, createServerStore, migrate, type Store } from '@daa/collector'

/** `DAA_RELIABILITY=full` (what `npm run test:reliability` sets) runs the long forms. */
export const FULL = process.env.DAA_RELIABILITY === 'full'

/** Prints a measured figure for RELIABILITY.md. */
export function report(test: string, figures: Record<string, unknown>): void {
  process.stdout.write(`[reliability] ${test} (${FULL ? 'full' : 'short'}): ${JSON.stringify(figures)}\n`)
}

export async function eventually<T>(check: () => Promise<T>, timeoutMs = 120_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export interface SendResult {
  /** Statuses of every attempt, in order ('network' for a connection that failed). */
  attempts: (number | 'network')[]
  /** Milliseconds from the first attempt to the acknowledgement. */
  latencyMs: number
}

/**
 * Posts one OTLP/protobuf body until it is acknowledged (200), retrying like the OpenTelemetry
 * exporters: on 429/503 after Retry-After (capped at `maxWaitMs`), on a failed connection with
 * exponential backoff. Any other status is a bug in the test or the collector: it throws.
 */
export async function sendUntilAcknowledged(
  url: () => string,
  apiKey: string,
  body: Uint8Array,
  options: { maxWaitMs?: number; giveUpAfterMs?: number } = {},
): Promise<SendResult> {
  const maxWait = options.maxWaitMs ?? 1000
  const started = performance.now()
  const attempts: SendResult['attempts'] = []
  let backoff = 50
  for (;;) {
    if (options.giveUpAfterMs !== undefined && performance.now() - started > options.giveUpAfterMs) {
      throw new Error(`not acknowledged after ${attempts.length} attempts: ${attempts.slice(-5).join(', ')}`)
    }
    let status: number | 'network'
    let retryAfter = 0
    try {
      const response = await fetch(`${url()}/v1/traces`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${apiKey}` },
        signal: AbortSignal.timeout(30_000),
      })
      status = response.status
      retryAfter = Number(response.headers.get('retry-after') ?? 0)
      const text = await response.arrayBuffer().catch(() => undefined)
      if (status !== 200 && status !== 429 && status !== 503) {
        throw new Error(
          `unexpected ${status}: ${text ? Buffer.from(text).toString('utf8').slice(0, 300) : ''}`,
        )
      }
    } catch (error) {
      if ((error as Error).message?.startsWith('unexpected')) throw error
      status = 'network'
    }
    attempts.push(status)
    if (status === 200) return { attempts, latencyMs: performance.now() - started }
    const wait = status === 'network' ? backoff : Math.min(maxWait, Math.max(50, retryAfter * 1000))
    backoff = Math.min(maxWait, backoff * 2)
    await sleep(wait)
  }
}

/** A fresh database on a ClickHouse server, migrated, with a key for `project`. */
export async function prepareDatabase(
  clickhouseUrl: string,
  database: string,
  projects: string[] = ['fleet'],
): Promise<{ keys: Record<string, string> }> {
  const store = await createServerStore({ url: clickhouseUrl, database })
  try {
    await migrate(store, { retentionDays: 0 })
    const keys: Record<string, string> = {}
    for (const project of projects) keys[project] = (await createApiKey(store, project, 'reliability')).key
    return { keys }
  } finally {
    await store.close()
  }
}

/**
 * The built bin, run as users run it (`npm test` builds first): its shebang's heap flags
 * (collector/src/cli.ts) bound the process, so a memory figure here is
 * the one users get. Through tsx from the sources, the event loop had V8's heap defaults, sized from
 * the machine's memory, and the soak measured a process users never run.
 */
export const CLI_PATH = fileURLToPath(new URL('../../collector/dist/cli.js', import.meta.url))

export interface CollectorProcess {
  child: ChildProcess
  url: string
  /** Everything it printed (stdout and stderr), for failure messages. */
  output(): string
  /** Resident memory of the process in MiB, from /proc. */
  rssMb(): number
  kill(signal: NodeJS.Signals): Promise<void>
}

/** Starts `daa collector` as its own process (the CLI users run) and waits until it listens. */
export async function startCollectorProcess(options: {
  port: number
  dataDir: string
  clickhouseUrl: string
  database: string
  env?: Record<string, string>
  /** A command that runs the collector, e.g. ['prlimit', '--fsize=65536']. Default: none. */
  wrapper?: string[]
}): Promise<CollectorProcess> {
  const [command, ...wrapperArgs] = [...(options.wrapper ?? []), CLI_PATH]
  const child = spawn(
    command!,
    [
      ...wrapperArgs,
      'collector',
      '--port',
      String(options.port),
      // `--grpc-port -1` would read as an option: the value must be attached.
      '--grpc-port=-1',
      '--data-dir',
      options.dataDir,
      '--clickhouse-url',
      options.clickhouseUrl,
      '--clickhouse-database',
      options.database,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DAA_REPLAY_INTERVAL_MS: '200', ...options.env },
    },
  )
  let output = ''
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-32_768)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `http://127.0.0.1:${options.port}`
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (output.includes('listening on')) {
        clearInterval(check)
        resolve()
      } else if (child.exitCode !== null || child.signalCode !== null) {
        clearInterval(check)
        reject(new Error(`collector exited at start:\n${output}`))
      }
    }, 50)
  })
  return {
    child,
    url,
    output: () => output,
    rssMb() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}

export interface AgentTotals {
  runs: number
  delivered: number
}

/** Runs and delivered runs per agent from the agent-leaderboard metric, as a dashboard reads it. */
export async function leaderboard(collectorUrl: string, apiKey: string): Promise<Map<string, AgentTotals>> {
  // Yesterday to tomorrow (UTC): runs made around midnight land on either side.
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10)
  const response = await fetch(
    `${collectorUrl}/api/v1/metrics/agent-leaderboard?from=${day(-1)}&to=${day(1)}`,
    { headers: { authorization: `Bearer ${apiKey}` } },
  )
  if (response.status !== 200) throw new Error(`leaderboard: ${response.status} ${await response.text()}`)
  const { rows } = (await response.json()) as {
    rows: { agent_id: string; runs: number; delivered_runs: number }[]
  }
  return new Map(
    rows.map((row) => [row.agent_id, { runs: Number(row.runs), delivered: Number(row.delivered_runs) }]),
  )
}

/** The expected leaderboard of a fleet, in the same shape. */
export function expectedLeaderboard(totals: {
  runs: Map<string, number>
  delivered: Map<string, number>
}): Map<string, AgentTotals> {
  return new Map(
    [...totals.runs].map(([agent, runs]) => [agent, { runs, delivered: totals.delivered.get(agent) ?? 0 }]),
  )
}

/** Spans stored for a project, counted once each (FINAL: retried copies are one row). */
export async function countSpans(store: Store, project: string): Promise<number> {
  const [row] = await store.query<{ n: number }>(
    'SELECT count() AS n FROM spans FINAL WHERE project_id = {project:String}',
    { project },
  )
  return row?.n ?? 0
}

/** Samples in order; the p-th percentile (0–100). */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return 0
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}
