/**
 * The README, followed literally on a fresh clone of this repository: `npm ci`, then `npx daa`
 * straight away (nothing built yet), `npm start` with its demo fleet until the dashboard's API
 * shows a non-zero DAA for project `demo`, the CLI beside it, Ctrl-C (SIGINT to the process group,
 * as a terminal sends it) with no process left behind, and `npm test` on the same clone.
 *
 * Slow by nature (an install, builds, a 30-day backfill): one clone serves every step. Ports are
 * the only departure from the README (DAA_PORT=0, DAA_GRPC_PORT=0), so it can run beside anything.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const repository = fileURLToPath(new URL('../..', import.meta.url))
const exec = promisify(execFile)
const clone = join(mkdtempSync(join(tmpdir(), 'daa-readme-')), 'daa')
const MINUTES = 60_000

// What a person's shell has: none of this test runner's variables.
const shellEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST') && name !== 'NODE_ENV'),
)
const env = { ...shellEnv, DAA_PORT: '0', DAA_GRPC_PORT: '0' }
const sh = (command: string) =>
  exec('bash', ['-c', command], { cwd: clone, env, maxBuffer: 64 * 1024 * 1024 })

/** Processes whose command line or working directory is inside the clone. */
function processesInClone(): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
      const cwd = readlinkSync(`/proc/${pid}/cwd`)
      if (cmdline.includes(clone) || cwd.startsWith(clone)) found.push(`${pid}: ${cmdline}`)
    } catch {}
  }
  return found
}

/** Resolves once the process is gone (it is not our child, so this watches /proc). */
async function exitOf(pid: number): Promise<void> {
  while (existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

let start: ChildProcess | undefined

beforeAll(async () => {
  await exec('git', ['clone', '--quiet', repository, clone])
  // The README's install step; the npm cache makes it quick when it is warm.
  await sh('npm ci --no-audit --no-fund --prefer-offline')
}, 15 * MINUTES)

afterAll(async () => {
  if (start?.pid && start.exitCode === null && start.signalCode === null) process.kill(-start.pid, 'SIGKILL')
  // A whole install: deleting it takes a while on a busy disk.
  await rm(join(clone, '..'), { recursive: true, force: true })
}, 15 * MINUTES)

describe('the README on a fresh clone', () => {
  it(
    'npx daa works right after npm ci, before anything is built',
    async () => {
      expect(existsSync(join(clone, 'collector/dist/cli.js'))).toBe(false)
      const { stdout } = await sh('npx daa queries')
      expect(stdout).toMatch(/^daa\s+Agents that delivered/m)
      expect(stdout).toMatch(/^waa-maa\s+/m)
    },
    10 * MINUTES,
  )

  it(
    'npm start: collector, dashboard and demo fleet; DAA shows for the demo; Ctrl-C stops everything',
    async () => {
      // Its own process group, so SIGINT reaches npm, its shell and the collector, as Ctrl-C does.
      start = spawn('npm', ['start'], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
      let output = ''
      start.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      start.stderr!.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        start!.once('exit', (code, signal) => resolve({ code, signal })),
      )
      const dashboard = await new Promise<RegExpExecArray>((resolve, reject) => {
        const check = () => {
          const match = /Demo dashboard: (http:\/\/[^/\s]+)\/#key=(daa_\S+)/.exec(output)
          if (match) resolve(match)
        }
        start!.stdout!.on('data', check)
        start!.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)))
      })
      const [, url, demoKey] = dashboard as unknown as [string, string, string]
      expect(output).toMatch(/API key for project "default": daa_/)

      // What the dashboard reads: the DAA series of the last 30 days, until a day shows delivering agents.
      const today = new Date().toISOString().slice(0, 10)
      const monthAgo = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10)
      let days: { day: string; daa: number }[] = []
      while (!days.some((day) => Number(day.daa) > 0)) {
        const response = await fetch(`${url}/api/v1/metrics/daa?from=${monthAgo}&to=${today}`, {
          headers: { authorization: `Bearer ${demoKey}` },
        })
        days = response.ok ? ((await response.json()) as { rows: typeof days }).rows : []
        if (!days.some((day) => Number(day.daa) > 0)) await new Promise((resolve) => setTimeout(resolve, 500))
      }
      expect(days.filter((day) => Number(day.daa) > 0).length).toBeGreaterThanOrEqual(20)
      // The backfilled history's runs last as long as live ones: each waits at least 100 ms for its
      // first model call, so no day's median run is shorter (it was a few ms when backfilled runs
      // kept only their CPU time, and the latency panel showed a month of zeros beside live seconds).
      const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)
      const health = await fetch(`${url}/api/v1/metrics/run-health?from=${monthAgo}&to=${yesterday}`, {
        headers: { authorization: `Bearer ${demoKey}` },
      })
      const healthDays = ((await health.json()) as { rows: { runs: number; latency_p50_ms: number }[] }).rows
      const backfilled = healthDays.filter((day) => Number(day.runs) > 0)
      expect(backfilled.length).toBeGreaterThanOrEqual(20)
      for (const day of backfilled) expect(Number(day.latency_p50_ms)).toBeGreaterThanOrEqual(100)

      // The CLI beside the running collector, as the README writes it.
      const query = await sh('npx daa query daa --project demo')
      expect(query.stdout.split('\n')[0]).toMatch(/day\s+daa\s+working_agents/)
      // The last 30 days, as the README says: a row a day, ending today.
      expect(query.stdout).toMatch(/\(30 rows, /)
      expect(query.stdout).toContain(today)
      // The README's curl line, with the demo key from the file it names.
      const curl = await sh(
        `curl -s -H "Authorization: Bearer $(cat .daa/demo-api-key)" "${url}/api/v1/metrics/daa?tz=Europe/Berlin"`,
      )
      expect((JSON.parse(curl.stdout) as { rows: unknown[] }).rows).toHaveLength(30)
      const key = await sh('npx daa keys create --project shop')
      expect(key.stdout.trim()).toMatch(/^daa_/)

      await screenshotIfThereIsAPage(url, demoKey)

      // The collector itself, as its admin file names it: npm ends on Ctrl-C at once, the collector
      // after flushing; "stops cleanly" is about the latter.
      const adminFile = join(clone, '.daa', 'admin.json')
      const collectorPid = (JSON.parse(readFileSync(adminFile, 'utf8')) as { pid: number }).pid
      const collectorExit = exitOf(collectorPid)
      process.kill(-start.pid!, 'SIGINT')
      // npm re-raises the signal (as a shell expects), or exits 0.
      expect([
        { code: 0, signal: null },
        { code: null, signal: 'SIGINT' },
      ]).toContainEqual(await exited)
      await collectorExit
      expect(output).toMatch(/SIGINT: flushing and shutting down/)
      expect(output).not.toMatch(/shutdown failed/)
      expect(existsSync(adminFile)).toBe(false)
      expect(processesInClone()).toEqual([])
    },
    15 * MINUTES,
  )

  it(
    'npm test runs on the clone (here with one suite, the whole suite being this run)',
    async () => {
      const { stdout } = await sh('npm test -- tests/e2e/embedded-start.test.ts')
      expect(stdout).toMatch(/Tests: [1-9]\d* passed, 0 failed/)
    },
    15 * MINUTES,
  )
})

/**
 * The built-in page with the demo key, in headless Chromium, saved to .tmp/screenshots/ — when the
 * collector serves a page at `/` and playwright-core and a Chromium are installed here.
 */
async function screenshotIfThereIsAPage(url: string, key: string): Promise<void> {
  const page = await fetch(`${url}/`)
  const require = createRequire(import.meta.url)
  let playwright: string | undefined
  try {
    playwright = require.resolve('playwright-core')
  } catch {}
  const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path))
  if (!page.ok || !(page.headers.get('content-type') ?? '').includes('html') || !playwright || !chromium) {
    return
  }
  // Typed here: playwright-core is installed by the dashboard's tests, not required by this one.
  type Browser = {
    newPage(options: object): Promise<{
      goto(url: string): Promise<unknown>
      waitForLoadState(state: string): Promise<void>
      screenshot(options: object): Promise<unknown>
    }>
    close(): Promise<void>
  }
  const { chromium: launcher } = (await import(playwright)) as {
    chromium: { launch(options: object): Promise<Browser> }
  }
  const browser = await launcher.launch({ executablePath: chromium })
  try {
    const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await tab.goto(`${url}/#key=${key}`)
    await tab.waitForLoadState('networkidle')
    const directory = join(repository, '.tmp', 'screenshots')
    mkdirSync(directory, { recursive: true })
    await tab.screenshot({ path: join(directory, 'readme-demo-dashboard.png'), fullPage: true })
  } finally {
    await browser.close()
  }
}
