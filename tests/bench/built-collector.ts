/**
 * A collector run from a built bin (`collector/dist/cli.js`, or another build's) in a child process,
 * as a user runs `daa collector`: the benchmarks that compare two builds start both this way.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** This build's bin. */
export const BUILT_CLI = fileURLToPath(new URL('../../collector/dist/cli.js', import.meta.url))

/** The Node flags on a script's `#!/usr/bin/env -S node …` line. */
function shebangFlags(script: string): string[] {
  const first = readFileSync(script, 'utf8').split('\n', 1)[0] ?? ''
  return first.startsWith('#!') ? first.split(' ').filter((word) => word.startsWith('--')) : []
}

/** Collectors still running: a failed round must not leave one behind, holding the output pipe open. */
export const runningCollectors = new Set<ChildProcess>()

export interface BuiltCollectorOptions {
  clickhouseUrl: string
  database: string
  dataDir: string
  /** The bin to run. Default: this build's (BUILT_CLI). */
  cli?: string
  /** Environment for this collector only, over the bench's own. */
  env?: Record<string, string>
}

/**
 * Starts the bin and resolves once it listens. BENCH_PROFILE_DIR writes a CPU profile of it;
 * BENCH_NODE_FLAGS adds Node flags (both run `node <flags> cli.js`, keeping the shebang's own flags).
 */
export async function startBuiltCollector(options: BuiltCollectorOptions) {
  const cli = options.cli ?? BUILT_CLI
  const throughNode = Boolean(process.env.BENCH_PROFILE_DIR || process.env.BENCH_NODE_FLAGS)
  // The bin itself, so its shebang's Node flags apply, as for a user running `daa collector`.
  const child: ChildProcess = spawn(
    throughNode ? 'node' : cli,
    [
      ...(process.env.BENCH_PROFILE_DIR
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
        : []),
      // The shebang's Node flags (heap sizes), which running `node cli.js` would otherwise drop.
      ...(throughNode ? shebangFlags(cli) : []),
      ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
      ...(throughNode ? [cli] : []),
      'collector',
    ],
    {
      env: {
        ...process.env,
        CLICKHOUSE_URL: options.clickhouseUrl,
        CLICKHOUSE_DATABASE: options.database,
        DAA_DATA_DIR: options.dataDir,
        DAA_PORT: '0',
        DAA_GRPC_PORT: '-1',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  runningCollectors.add(child)
  child.once('exit', () => runningCollectors.delete(child))
  const url = await new Promise<string>((resolve, reject) => {
    let seen = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(seen)
      if (match) resolve(match[1]!)
    })
    child.once('exit', (code) => reject(new Error(`${cli} exited (${code}): ${seen}`)))
  })
  return {
    url,
    pid: child.pid!,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}
