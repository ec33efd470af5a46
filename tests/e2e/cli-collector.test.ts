/**
 * The `daa` CLI as a user runs it (the built dist/cli.js in a child process): keys, migrate, and a
 * collector that flushes everything it acknowledged when it receives SIGTERM.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { type AddressInfo, createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createServerStore } from '@daa/collector'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshDatabaseName } from '../contract/store-contract.js'
import { recordAgentRun } from '../support/agent-spans.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'

const CLI = fileURLToPath(new URL('../../collector/dist/cli.js', import.meta.url))
const run = promisify(execFile)

let clickhouse: RunningClickHouse
let dataDir: string
beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  dataDir = mkdtempSync(join(tmpdir(), 'daa-cli-'))
})
afterAll(async () => {
  await clickhouse?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

function environment(database: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CLICKHOUSE_URL: clickhouse.url,
    CLICKHOUSE_DATABASE: database,
    DAA_DATA_DIR: dataDir,
    DAA_PORT: '0',
    DAA_GRPC_PORT: '-1',
    ...extra,
  }
}

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      const match = pattern.exec(seen)
      if (match) resolve(match)
    })
    child.once('exit', (code) => reject(new Error(`exited with ${code} before printing ${pattern}: ${seen}`)))
  })
}

describe('daa CLI', () => {
  it('migrates, reports an up-to-date schema the second time', async () => {
    const database = freshDatabaseName()
    const first = await run(CLI, ['migrate'], { env: environment(database) })
    expect(first.stdout).toMatch(/applied migrations 1\b/)
    const second = await run(CLI, ['migrate'], { env: environment(database) })
    expect(second.stdout).toMatch(/up to date/)
  })

  it('fails fast with a readable message on bad configuration', async () => {
    const failure = await run(CLI, ['migrate', '--port', 'eighty'], { env: environment('x') }).catch(
      (error: { code: number; stderr: string }) => error,
    )
    expect(failure).toMatchObject({ code: 1 })
    expect((failure as { stderr: string }).stderr).toMatch(/port \(DAA_PORT\)/)
  })

  it('flushes every acknowledged span on SIGTERM, then exits 0', async () => {
    const database = freshDatabaseName()
    const { stdout: key } = await run(CLI, ['keys', 'create', '--project', 'acme'], {
      env: environment(database),
    })
    expect(key.trim()).toMatch(/^daa_[A-Za-z0-9_-]{20,}$/)
    // A long flush interval: the request below is still buffered when SIGTERM arrives.
    const collector = spawn(CLI, ['collector'], {
      env: environment(database, { DAA_FLUSH_INTERVAL_MS: '30000' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<number | null>((resolve) => collector.once('exit', (code) => resolve(code)))
    const [, url] = await waitForLine(collector, /listening on (http:\/\/\S+)/)
    const request = fetch(`${url}/v1/traces`, {
      method: 'POST',
      body: ProtobufTraceSerializer.serializeRequest(
        recordAgentRun({ agent: 'sigterm-bot', outcome: 'delivered' }),
      )!,
      headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${key.trim()}` },
    })
    // SIGTERM once the collector has the request (acknowledged or about to be), not before it arrived.
    while (!/^daa_spans_received_total 4$/m.test(await (await fetch(`${url}/metrics`)).text())) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    // The built bin prepared it in its default ingest worker thread (dist/ingest/ingest-worker.js).
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^daa_ingest_workers 1$/m)
    collector.kill('SIGTERM')
    expect((await request).status).toBe(200)
    // SIGTERM stops the worker too: the process exits on its own.
    expect(await exited).toBe(0)
    const store = await createServerStore({ url: clickhouse.url, database })
    const [row] = await store.query<{ runs: number; spans: number }>(
      "SELECT (SELECT count() FROM runs FINAL WHERE agent_id = 'sigterm-bot') AS runs, (SELECT count() FROM spans FINAL) AS spans",
    )
    await store.close()
    expect(row).toEqual({ runs: 1, spans: 4 })

    // The same data through the saved queries, as a table and as CSV.
    const day = new Date().toISOString().slice(0, 10)
    const args = ['query', 'daa', '--project', 'acme', '--from', day, '--to', day]
    const table = await run(CLI, [...args], { env: environment(database) })
    expect(table.stdout.split('\n')[0]).toMatch(/day\s+.*daa/)
    const csv = await run(CLI, [...args, '--format', 'csv'], { env: environment(database) })
    const [header, line] = csv.stdout.trim().split('\n')
    const columns = header!.split(',')
    const value = (column: string) => Number(line!.split(',')[columns.indexOf(column)])
    expect({ daa: value('daa'), working: value('working_agents') }).toEqual({ daa: 1, working: 1 })
  })

  it('still flushes and exits 0 on SIGTERM when whatever read its output has gone (EPIPE)', async () => {
    const database = freshDatabaseName()
    const { stdout: key } = await run(CLI, ['keys', 'create', '--project', 'acme'], {
      env: environment(database),
    })
    const collector = spawn(CLI, ['collector'], {
      env: environment(database, { DAA_FLUSH_INTERVAL_MS: '30000' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<number | null>((resolve) => collector.once('exit', (code) => resolve(code)))
    const [, url] = await waitForLine(collector, /listening on (http:\/\/\S+)/)
    // The reader goes away (a closed terminal, a supervisor's pipe): the shutdown line hits a broken pipe.
    collector.stdout!.destroy()
    const response = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      body: ProtobufTraceSerializer.serializeRequest(
        recordAgentRun({ agent: 'epipe-bot', outcome: 'delivered' }),
      )!,
      headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${key.trim()}` },
    })
    expect(response.status).toBe(200)
    collector.kill('SIGTERM')
    expect(await exited).toBe(0)
    const store = await createServerStore({ url: clickhouse.url, database })
    const [row] = await store.query<{ runs: number }>(
      "SELECT count() AS runs FROM runs FINAL WHERE agent_id = 'epipe-bot'",
    )
    await store.close()
    expect(row).toEqual({ runs: 1 })
  })

  it('explains how to get the embedded engine when chdb is not installed', async () => {
    // A module hook that hides the chdb package, as on a server-only install (npm ci --omit=optional).
    writeFileSync(
      join(dataDir, 'hide-chdb-hooks.mjs'),
      'export async function resolve(specifier, context, next) {\n' +
        "  if (specifier === 'chdb') throw Object.assign(new Error('Cannot find package chdb'), { code: 'ERR_MODULE_NOT_FOUND' })\n" +
        '  return next(specifier, context)\n}\n',
    )
    writeFileSync(
      join(dataDir, 'hide-chdb.mjs'),
      "import { register } from 'node:module'\nregister('./hide-chdb-hooks.mjs', import.meta.url)\n",
    )
    const env = { ...environment('x'), CLICKHOUSE_URL: '' }
    const failure = await run('node', ['--import', join(dataDir, 'hide-chdb.mjs'), CLI, 'migrate'], {
      env,
    }).catch((error: { code: number; stderr: string }) => error)
    expect(failure).toMatchObject({ code: 1 })
    expect((failure as { stderr: string }).stderr).toMatch(/npm install chdb.*CLICKHOUSE_URL/s)
  })

  it('stops with the setting to change when its port is taken, leaves the data directory free, and refuses a second collector on it plainly', async () => {
    // 4318 and 4317 are the OpenTelemetry ports: often held already, by another collector.
    const held = createNetServer()
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve))
    const busy = (held.address() as AddressInfo).port
    const embeddedDir = mkdtempSync(join(tmpdir(), 'daa-busy-port-'))
    const env = { ...environment('x'), CLICKHOUSE_URL: '', DAA_DATA_DIR: embeddedDir }
    try {
      for (const ports of [
        ['--port', String(busy)],
        ['--port', '0', '--grpc-port', String(busy)],
      ]) {
        const failure = await run(CLI, ['collector', ...ports], { env }).catch(
          (error: { code: number | null; signal: string | null; stderr: string }) => error,
        )
        // Exit code 1 with the reason, not a crash (a signal) or a start that never ends.
        expect(failure).toMatchObject({ code: 1, signal: null })
        const setting = ports.includes('--grpc-port')
          ? /--grpc-port \(DAA_GRPC_PORT\)/
          : /--port \(DAA_PORT\)/
        expect((failure as { stderr: string }).stderr).toMatch(/port is already in use/)
        expect((failure as { stderr: string }).stderr).toMatch(setting)
      }
      // The failed starts released the log and the database: a start on a free port takes them.
      const collector = spawn(CLI, ['collector', '--port', '0'], {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      const exited = new Promise<number | null>((resolve) => collector.once('exit', resolve))
      await waitForLine(collector, /listening on (http:\/\/\S+)/)
      // A second collector on the same data directory is refused with one plain message, not the
      // engine's own exception printed above it.
      const second = await run(CLI, ['collector', '--port', '0'], { env }).catch(
        (error: { code: number | null; stderr: string }) => error,
      )
      expect(second).toMatchObject({ code: 1 })
      const stderr = (second as { stderr: string }).stderr
      expect(stderr).toMatch(/The embedded database in .* is in use by another process/)
      expect(stderr).not.toMatch(/DB::Exception|Code: \d+/)
      collector.kill('SIGTERM')
      expect(await exited).toBe(0)
    } finally {
      held.close()
      rmSync(embeddedDir, { recursive: true, force: true })
    }
  })

  it("starts and takes spans when it cannot write the CLI's credential (a full disk, say)", async () => {
    const database = freshDatabaseName()
    const { stdout: key } = await run(CLI, ['keys', 'create', '--project', 'acme'], {
      env: environment(database),
    })
    const ownDir = mkdtempSync(join(tmpdir(), 'daa-no-admin-'))
    // admin.json cannot be written: a directory holds its name.
    mkdirSync(join(ownDir, 'admin.json'))
    const collector = spawn(CLI, ['collector'], {
      env: { ...environment(database), DAA_DATA_DIR: ownDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    collector.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const exited = new Promise<number | null>((resolve) => collector.once('exit', (code) => resolve(code)))
    try {
      const [, url] = await waitForLine(collector, /listening on (http:\/\/\S+)/)
      const response = await fetch(`${url}/v1/traces`, {
        method: 'POST',
        body: ProtobufTraceSerializer.serializeRequest(
          recordAgentRun({ agent: 'disk-bot', outcome: 'delivered' }),
        )!,
        headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${key.trim()}` },
      })
      expect(response.status).toBe(200)
      expect(stderr).toMatch(/could not write .*admin\.json .*the daa CLI will not reach this collector/)
    } finally {
      collector.kill('SIGTERM')
      expect(await exited).toBe(0)
      rmSync(ownDir, { recursive: true, force: true })
    }
  })

  it('lists the saved queries, and explains a bad query request', async () => {
    const list = await run(CLI, ['queries'], { env: environment('x') })
    expect(list.stdout).toMatch(/^daa\s+/m)
    expect(list.stdout).toMatch(/^agent-retention\s+/m)
    const failure = await run(
      CLI,
      ['query', 'daa', '--project', 'acme', '--from', '2026-02-10', '--to', '2026-02-01'],
      { env: environment(freshDatabaseName()) },
    ).catch((error: { code: number; stderr: string }) => error)
    expect(failure).toMatchObject({ code: 1 })
    expect((failure as { stderr: string }).stderr).toMatch(/from/)
  })
})
