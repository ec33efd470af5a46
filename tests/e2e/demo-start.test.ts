/**
 * `daa start` with the demo fleet, twice over one data directory: the demo project's key is printed
 * by the start that makes it, and later starts name the file that keeps it, as the default
 * project's key is (a key printed on every start ends up in every log).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const DAA = fileURLToPath(new URL('../../collector/bin/daa.js', import.meta.url))
const dataDir = mkdtempSync(join(tmpdir(), 'daa-demo-start-'))
let running: ChildProcess | undefined

afterAll(() => {
  running?.kill('SIGKILL')
  rmSync(dataDir, { recursive: true, force: true })
})

/** Starts `daa start` until it prints its demo dashboard line, stops it with Ctrl-C, returns its output. */
async function startOnce(): Promise<string> {
  const child = spawn(DAA, ['start', '--port=0', '--grpc-port=-1', `--data-dir=${dataDir}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running = child
  let output = ''
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (/^Demo dashboard: .*$/m.test(output)) resolve()
    })
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.once('exit', (code) => reject(new Error(`daa start exited with ${code}:\n${output}`)))
  })
  child.kill('SIGINT')
  await exited
  return output
}

describe('the demo fleet key', () => {
  it('is printed by the start that makes it, and named by its file afterwards', async () => {
    const first = await startOnce()
    const key = readFileSync(join(dataDir, 'demo-api-key'), 'utf8').trim()
    expect(first).toMatch(new RegExp(`^Demo dashboard: http://\\S+/#key=${key}$`, 'm'))
    const second = await startOnce()
    expect(second).not.toContain(key)
    expect(second).toMatch(
      new RegExp(`^Demo dashboard: http://\\S+/ \\(its key is in ${dataDir}/demo-api-key\\)$`, 'm'),
    )
  }, 240_000)
})
