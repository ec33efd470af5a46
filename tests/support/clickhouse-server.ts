/**
 * A real ClickHouse HTTP (and optionally native TCP) server for tests, without Docker.
 *
 * libchdb.so from `@chdb/lib-linux-x64-gnu` is a full clickhouse-local, which can open real listeners
 * (`SYSTEM START LISTEN HTTP`) for as long as one blocking query runs. `chdb-server.py` calls it through
 * Python's ctypes in a child process (Node FFI breaks ClickHouse's stack check).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface ClickHouseServerOptions {
  /** Also open the native TCP listener (needed by Distributed tables and remote()). Default: false. */
  tcp?: boolean
  /**
   * Contents of a ClickHouse config file, passed as `--config-file`. Default: none.
   * Command-line ports and listen host still apply, so leave them out of the XML.
   * If it contains `<users>`, those users replace the built-in passwordless `default` user (clickhouse-local
   * otherwise ignores `<users>` in a config file), so define `default` there too if tests rely on it.
   */
  configXml?: string
  /** HTTP port. Default: a free port picked on 127.0.0.1. */
  httpPort?: number
  /** Native TCP port; implies `tcp: true`. Default: a free port when `tcp` is set. */
  tcpPort?: number
  /**
   * Directory for the data, to start a server again on what a stopped one left (same port too, for
   * a collector that keeps its URL). The caller owns it: stop() leaves it in place. Default: a fresh
   * temp directory that stop() removes.
   */
  dataDir?: string
  /** How long to wait for `/ping` to answer before giving up. Default: 60000. */
  startTimeoutMs?: number
}

export interface RunningClickHouse {
  /** Base URL of the HTTP interface, e.g. `http://127.0.0.1:8123`. */
  url: string
  httpPort: number
  /** Set only when the TCP listener was requested. */
  tcpPort?: number
  /** Pid of the server process (python3 running libchdb.so), leader of its own process group. */
  pid: number
  /** Directory holding the data (`data/`) and the config file; removed by stop() unless it was given. */
  dataDir: string
  /** Kills the server, waits for it to exit and removes dataDir. Safe to call more than once. */
  stop(): Promise<void>
}

const STOP_GRACE_MS = 3000
const OUTPUT_LIMIT = 64 * 1024

const script = fileURLToPath(new URL('./chdb-server.py', import.meta.url))
const libchdb = join(
  dirname(createRequire(import.meta.url).resolve('@chdb/lib-linux-x64-gnu/package.json')),
  'libchdb.so',
)

/** Servers not stopped yet, killed synchronously if the test process exits without stopping them. */
const running = new Map<number, string>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const [pid, dir] of running) {
      killGroup(pid, 'SIGKILL')
      if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
    }
  })
}

/** The child is spawned detached, so it leads its own process group: kill the whole group. */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // Already gone.
  }
}

/**
 * Picks `count` distinct free ports by binding port 0 on 127.0.0.1. All sockets stay open until every
 * port is picked so the kernel cannot hand out the same port twice; another process may still grab one
 * before the server binds it, which is rare enough for tests.
 */
export async function pickFreePorts(count: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    const ports: number[] = []
    for (let i = 0; i < count; i++) {
      const server = createServer()
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(0, '127.0.0.1', resolve)
      })
      const address = server.address()
      if (address === null || typeof address === 'string') throw new Error('unexpected server address')
      ports.push(address.port)
    }
    return ports
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  }
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

export async function startClickHouseServer(
  options: ClickHouseServerOptions = {},
): Promise<RunningClickHouse> {
  const tcp = options.tcp === true || options.tcpPort !== undefined
  const startTimeoutMs = options.startTimeoutMs ?? 60_000
  const needed = (options.httpPort === undefined ? 1 : 0) + (tcp && options.tcpPort === undefined ? 1 : 0)
  const picked = await pickFreePorts(needed)
  const httpPort = options.httpPort ?? picked.shift()!
  const tcpPort = tcp ? (options.tcpPort ?? picked.shift()!) : undefined

  const ownsDataDir = options.dataDir === undefined
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'daa-clickhouse-')))
  const args = [`--path=${join(dataDir, 'data')}`, `--http_port=${httpPort}`, '--listen_host=127.0.0.1']
  if (tcpPort !== undefined) args.push(`--tcp_port=${tcpPort}`)
  const queries = ['SYSTEM START LISTEN HTTP']
  if (tcpPort !== undefined) queries.push('SYSTEM START LISTEN TCP')
  // The listeners only live while a query runs: this one sleeps a second per row for ~31 years.
  queries.push(
    'SELECT sleepEachRow(1) FROM numbers(1000000000) ' +
      'SETTINGS function_sleep_max_microseconds_per_block=0, max_block_size=1 FORMAT Null',
  )
  args.push('--multiquery', `--query=${queries.join('; ')}`)
  if (options.configXml !== undefined) {
    const configFile = join(dataDir, 'config.xml')
    await writeFile(configFile, options.configXml)
    args.unshift(`--config-file=${configFile}`)
    // clickhouse-local reads users only from `users_config`, never from `<users>` in --config-file, and
    // `--users_config` is not a command-line option: arguments after `--` override config keys instead.
    if (options.configXml.includes('<users>')) args.push('--', `--users_config=${configFile}`)
  }

  const child = spawn('python3', [script, String(process.pid), dataDir, libchdb, ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  // A forgotten stop() must not keep the test process alive; the exit hook kills the server.
  child.unref()
  let output = ''
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_LIMIT)
  }
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', collect)
    ;(stream as Socket | null)?.unref() // child pipes are sockets
  }
  let spawnError: Error | undefined
  let closed = false
  child.once('error', (error) => {
    spawnError = error
  })
  // 'close' (not 'exit') so that all of the output has been read when we report it.
  child.once('close', () => {
    closed = true
  })

  const pid = child.pid
  if (pid !== undefined) {
    installExitHook()
    running.set(pid, ownsDataDir ? dataDir : '')
  }

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (pid !== undefined) {
        killGroup(pid, 'SIGTERM')
        const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), STOP_GRACE_MS)
        await waitForExit(child)
        clearTimeout(timer)
        running.delete(pid)
      }
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 3 })
    })()
    return stopping
  }

  const url = `http://127.0.0.1:${httpPort}`
  const deadline = Date.now() + startTimeoutMs
  const failure = (why: string) => new Error(`ClickHouse server ${why}:\n${output.trim()}`)
  try {
    while (!(await ping(url))) {
      if (spawnError) throw new Error(`could not spawn python3: ${spawnError.message}`)
      if (closed) throw failure(`exited early (code ${child.exitCode})`)
      if (Date.now() > deadline) throw failure(`did not answer /ping within ${startTimeoutMs} ms`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { url, httpPort, ...(tcpPort === undefined ? {} : { tcpPort }), pid: pid!, dataDir, stop }
}

async function ping(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) })
    return response.ok && (await response.text()).startsWith('Ok.')
  } catch {
    return false
  }
}
