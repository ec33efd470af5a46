/**
 * The CLI beside a running collector on the embedded engine (which admits one process): keys are
 * created, listed and revoked, saved queries run and OTLP JSON files are imported through the
 * collector's admin API, with the credential it keeps in the data directory. Once it stops, the
 * same commands go straight to the engine.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordAgentRun } from '../support/agent-spans.js'

// The committed bin shim, as `npx daa` runs it.
const DAA = fileURLToPath(new URL('../../collector/bin/daa.js', import.meta.url))
const exec = promisify(execFile)
const dataDir = mkdtempSync(join(tmpdir(), 'daa-cli-admin-'))
const env = { ...process.env, DAA_DATA_DIR: dataDir, DAA_FLUSH_INTERVAL_MS: '50' }
const daa = (...args: string[]) => exec(DAA, args, { env })

let collector: ChildProcess
let exited: Promise<number | null>
let url: string

beforeAll(async () => {
  // The documented flag forms: `--name=value`, `--name value`, and a negative value.
  collector = spawn(DAA, ['collector', '--port=0', '--grpc-port', '-1', '--no-demo'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  exited = new Promise((resolve) => collector.once('exit', (code) => resolve(code)))
  url = await new Promise<string>((resolve, reject) => {
    let seen = ''
    collector.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      const match = /listening on (http:\/\/\S+) .*OTLP\/gRPC off/.exec(seen)
      if (match) resolve(match[1]!)
    })
    collector.once('exit', (code) => reject(new Error(`collector exited with ${code}: ${seen}`)))
  })
})
afterAll(() => {
  collector?.kill('SIGKILL')
  rmSync(dataDir, { recursive: true, force: true })
})

const send = (key: string, body: string) =>
  fetch(`${url}/v1/traces`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
  })
const exportJson = (agent: string) =>
  new TextDecoder().decode(
    JsonTraceSerializer.serializeRequest(recordAgentRun({ agent, outcome: 'delivered' }))!,
  )

describe('daa CLI while the embedded collector runs', () => {
  it('keeps the admin credential readable by its owner only', () => {
    expect(statSync(join(dataDir, 'admin.json')).mode & 0o777).toBe(0o600)
  })

  it('creates, lists and revokes keys through the collector', async () => {
    const created = await daa('keys', 'create', '--project', 'shop', '--name', 'checkout')
    const key = created.stdout.trim()
    expect(key).toMatch(/^daa_[A-Za-z0-9_-]{20,}$/)
    expect((await send(key, exportJson('shop-bot'))).status).toBe(200)

    const listed = await daa('keys', 'list', '--project', 'shop')
    const line = listed.stdout.split('\n').find((text) => text.includes('checkout'))!
    expect(line).toMatch(/^[0-9a-f]{12}\s+shop\s+checkout\s+.*active$/)
    expect(listed.stdout).not.toContain(key)

    const id = line.split(/\s+/)[0]!
    const revoked = await daa('keys', 'revoke', id)
    expect(revoked.stdout).toMatch(new RegExp(`revoked key ${id} of project "shop"`))
    // The running collector forgets the key at once.
    expect((await send(key, exportJson('shop-bot'))).status).toBe(401)
    expect((await daa('keys', 'list', '--project', 'shop')).stdout).toMatch(/checkout\s+.*revoked/)
    // Again: it says so, rather than claiming to have revoked it now.
    expect((await daa('keys', 'revoke', id)).stdout).toBe(
      `key ${id} of project "shop" was already revoked: nothing changed\n`,
    )

    const unknown = await daa('keys', 'revoke', 'abcdef0123').catch(
      (error: { code: number; stderr: string }) => error,
    )
    expect(unknown).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/No API key has the id "abcdef0123"/),
    })
  })

  it('imports OTLP JSON files like the endpoint: bad lines refused, good ones kept, a second import counted once', async () => {
    const file = join(dataDir, 'export.jsonl')
    const firstRun = exportJson('import-bot')
    writeFileSync(file, `${firstRun}\n${exportJson('import-bot')}\n{"resourceSpans": 12}\n`)
    const first = await daa('import', '--project', 'imports', file).catch(
      (error: { code: number; stdout: string; stderr: string }) => error,
    )
    expect(first).toMatchObject({ code: 1 })
    expect((first as { stdout: string }).stdout).toMatch(
      /imported 8 spans from 1 file\(s\) in 3 request\(s\)/,
    )
    expect((first as { stderr: string }).stderr).toMatch(/refused: .*export\.jsonl:3: /)

    // The first run again (a retried backfill): the store keeps one copy.
    const again = join(dataDir, 'again.json')
    writeFileSync(again, firstRun)
    expect((await daa('import', '--project', 'imports', again)).stdout).toMatch(/imported 4 spans/)

    // The query reads what the metrics API reads, kept fresh by the running collector: asked again
    // as a user would, until the imported runs show (or a generous deadline passes).
    const day = new Date().toISOString().slice(0, 10)
    const leaderboard = async () => {
      const query = await daa(
        'query',
        'agent-leaderboard',
        '--project',
        'imports',
        '--from',
        day,
        '--to',
        day,
        '--format',
        'json',
      )
      const { rows } = JSON.parse(query.stdout) as { rows: { agent_id: string; runs: number }[] }
      return rows.map((row) => [row.agent_id, Number(row.runs)])
    }
    const deadline = Date.now() + 60_000
    let shown = await leaderboard()
    while (JSON.stringify(shown) !== JSON.stringify([['import-bot', 2]]) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250))
      shown = await leaderboard()
    }
    expect(shown).toEqual([['import-bot', 2]])
  })

  it('stops on SIGINT, removes the credential, and the same commands then go straight to the engine', async () => {
    collector.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(existsSync(join(dataDir, 'admin.json'))).toBe(false)
    const listed = await daa('keys', 'list')
    expect(listed.stdout).toMatch(/shop\s+checkout\s+.*revoked/)
    expect(listed.stdout).toMatch(/default\s+local\s+.*active/)
  })
})

describe('daa CLI away from any data', () => {
  it('refuses to read a data directory that does not exist, and says where to look', async () => {
    const elsewhere = join(mkdtempSync(join(tmpdir(), 'daa-cli-elsewhere-')), '.daa')
    try {
      for (const command of [
        ['keys', 'list'],
        ['query', 'daa', '--project', 'demo'],
      ]) {
        const failure = await exec(DAA, command, { env: { ...process.env, DAA_DATA_DIR: elsewhere } }).catch(
          (error: { code: number; stderr: string }) => error,
        )
        expect(failure).toMatchObject({ code: 1 })
        expect((failure as { stderr: string }).stderr).toMatch(
          /No collector is running on .*--data-dir \(DAA_DATA_DIR\)/,
        )
        // Nothing was created: an empty store would have answered "no keys" and zeros.
        expect(existsSync(elsewhere)).toBe(false)
      }
      // A command that writes makes the directory, private to its owner as the collector does,
      // and says so: a key made where no collector runs is refused by the one the user meant.
      const created = await exec(DAA, ['keys', 'create', '--project', 'early'], {
        env: { ...process.env, DAA_DATA_DIR: elsewhere },
      })
      expect(created.stdout.trim()).toMatch(/^daa_/)
      expect(created.stderr).toMatch(
        /No collector is running on .*: making a new, empty one\. Run this where/,
      )
      expect(statSync(elsewhere).mode & 0o777).toBe(0o700)
    } finally {
      rmSync(join(elsewhere, '..'), { recursive: true, force: true })
    }
  })
})

describe('daa CLI straight to the engine (no collector running)', () => {
  const direct = mkdtempSync(join(tmpdir(), 'daa-cli-direct-'))
  const run = (args: string[], extra: Record<string, string> = {}) =>
    exec(DAA, args, { env: { ...process.env, DAA_DATA_DIR: direct, ...extra } })
  afterAll(() => rmSync(direct, { recursive: true, force: true }))
  const DAY_MS = 86_400_000
  /** One run as OTLP/JSON, every time moved `days` into the past. */
  const runDaysAgo = (agent: string, days: number) => {
    const request = JSON.parse(exportJson(agent))
    for (const span of request.resourceSpans[0].scopeSpans[0].spans as Record<string, string>[]) {
      for (const field of ['startTimeUnixNano', 'endTimeUnixNano'])
        span[field] = String(BigInt(span[field]!) - BigInt(days * DAY_MS) * 1_000_000n)
    }
    return JSON.stringify(request)
  }
  /** `daa query agent-leaderboard` for one day, `daysAgo` days back. */
  const leaderboard = async (project: string, daysAgo: number) => {
    const day = new Date(Date.now() - daysAgo * DAY_MS).toISOString().slice(0, 10)
    const args = ['query', 'agent-leaderboard', '--project', project, '--from', day, '--to', day]
    const { rows } = JSON.parse((await run([...args, '--format', 'json'])).stdout) as {
      rows: { agent_id: string; runs: number; cost_usd: number }[]
    }
    return rows.map((row) => ({ agent: row.agent_id, runs: Number(row.runs), cost: Number(row.cost_usd) }))
  }

  it('keeps the retention an operator set, whatever later commands are run without it', async () => {
    // An archive that keeps everything, and a 500-day-old run imported into it.
    expect((await run(['migrate'], { DAA_RETENTION_DAYS: '0' })).stdout).toMatch(/retention: everything kept/)
    const file = join(direct, 'old.json')
    writeFileSync(file, runDaysAgo('archived-bot', 500))
    expect((await run(['import', '--project', 'archive', file])).stdout).toMatch(/imported 4 spans/)
    // Another operator lists keys without the setting: it reads, and changes nothing.
    const listed = await run(['keys', 'list'])
    expect(listed.stderr).not.toMatch(/retention/)
    expect(await leaderboard('archive', 500)).toEqual([{ agent: 'archived-bot', runs: 1, cost: 0 }])
    expect((await run(['migrate'])).stdout).toMatch(/retention: everything kept/)
    // Set on purpose, it changes, and says so.
    expect((await run(['migrate'], { DAA_RETENTION_DAYS: '30' })).stdout).toMatch(
      /retention set to 30 days \(was everything kept\) on \d+ tables/,
    )
  })

  it('refuses what it could not store, and exits 1: a project no key can have, spans older than the retention', async () => {
    const file = join(direct, 'refused.json')
    writeFileSync(file, exportJson('unnamed-bot'))
    const badName = await run(['import', '--project', 'a b', file]).catch(
      (error: { code: number; stdout: string; stderr: string }) => error,
    )
    expect(badName).toMatchObject({ code: 1 })
    expect((badName as { stderr: string }).stderr).toMatch(/A project name is 1–128 letters/)
    writeFileSync(file, runDaysAgo('expired-bot', 500))
    const expired = await run(['import', '--project', 'recent', file], { DAA_RETENTION_DAYS: '30' }).catch(
      (error: { code: number; stdout: string; stderr: string }) => error,
    )
    expect(expired).toMatchObject({ code: 1 })
    expect((expired as { stdout: string }).stdout).toMatch(
      /imported 0 spans .*; 4 spans rejected \(4 spans rejected: started more than the retention of 30 days ago/,
    )
  })

  it('prices imported spans with the price table, as a collector does', async () => {
    const prices = join(direct, 'prices.json')
    // USD per million tokens; the run's two gpt-5 calls read 2,000 tokens and write 450.
    writeFileSync(prices, JSON.stringify({ 'gpt-5': { input: 10, output: 20 } }))
    const file = join(direct, 'priced.json')
    writeFileSync(file, exportJson('priced-bot'))
    await run(['import', '--project', 'priced', file], { DAA_PRICES_FILE: prices })
    const [row] = await leaderboard('priced', 0)
    expect(row?.cost).toBeCloseTo((2000 * 10 + 450 * 20) / 1e6, 9)
  })
})
