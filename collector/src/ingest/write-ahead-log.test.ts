import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { processStartOf } from '../process-alive.js'
import { encodeRecord, type WalRecord, WriteAheadLog } from './write-ahead-log.js'

const directories: string[] = []
function freshDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'daa-wal-'))
  directories.push(directory)
  return directory
}
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true })
})

const record = (projectId: string, text: string, encoding: WalRecord['encoding'] = 'json'): WalRecord => ({
  projectId,
  encoding,
  body: Buffer.from(text),
  ingestedAt: 1_764_000_000_123,
})

describe('write-ahead log', () => {
  it('reads back, in order, every record appended to a sealed segment', async () => {
    const log = await WriteAheadLog.open(freshDirectory())
    await Promise.all([log.append(record('a', '{"one":1}')), log.append(record('b', 'two', 'protobuf'))])
    const segment = log.seal()!
    await log.settled(segment)
    expect(await log.read(segment)).toEqual({
      records: [record('a', '{"one":1}'), record('b', 'two', 'protobuf')],
      skipped: 0,
      tornTail: false,
    })
    expect(log.pending()).toEqual([segment])
    await log.close()
  })

  it('starts a new segment after sealing, and forgets a segment once removed', async () => {
    const directory = freshDirectory()
    const log = await WriteAheadLog.open(directory)
    await log.append(record('a', 'first'))
    const first = log.seal()!
    await log.append(record('a', 'second'))
    const second = log.seal()!
    expect(first).not.toBe(second)
    expect(log.depth).toBe(2)
    await log.remove(first)
    expect(log.pending()).toEqual([second])
    expect(readdirSync(directory).filter((name) => name.endsWith('.wal'))).toEqual([second])
    expect((await log.read(second)).records).toEqual([record('a', 'second')])
    await log.close()
  })

  it('hands segments left by an earlier process to the next one', async () => {
    const directory = freshDirectory()
    const before = await WriteAheadLog.open(directory)
    await before.append(record('p', 'acknowledged'))
    await before.close()
    const after = await WriteAheadLog.open(directory)
    const [segment] = after.pending()
    expect((await after.read(segment!)).records).toEqual([record('p', 'acknowledged')])
    await after.close()
    expect(after.size).toBeGreaterThan(0)
  })

  it('ignores a torn record at the end, keeping every intact one before it', async () => {
    const directory = freshDirectory()
    const log = await WriteAheadLog.open(directory)
    await log.append(record('p', 'intact'))
    const segment = log.seal()!
    await log.settled(segment)
    // A crash in the middle of a write leaves a header promising more bytes than follow.
    appendFileSync(join(directory, segment), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 5]))
    expect(await log.read(segment)).toEqual({
      records: [record('p', 'intact')],
      skipped: 1,
      tornTail: true,
    })
    await log.close()
  })

  it('skips a corrupt record in the middle and replays every acknowledged record after it', async () => {
    const directory = freshDirectory()
    const log = await WriteAheadLog.open(directory)
    await log.append(record('p', 'first'))
    await log.append(record('p', 'second-will-rot'))
    await log.append(record('q', 'third'))
    const segment = log.seal()!
    await log.settled(segment)
    const path = join(directory, segment)
    const bytes = readFileSync(path)
    // A bad sector: one byte of the second record's body flips.
    const rotten = bytes.indexOf('second-will-rot') + 3
    bytes.writeUInt8(bytes.readUInt8(rotten) ^ 0xff, rotten)
    writeFileSync(path, bytes)
    expect(await log.read(segment)).toEqual({
      records: [record('p', 'first'), record('q', 'third')],
      skipped: 1,
      tornTail: false,
    })
    await log.close()
  })

  it('skips a record torn by truncation, whatever follows it', async () => {
    const directory = freshDirectory()
    const log = await WriteAheadLog.open(directory)
    await log.append(record('p', 'kept'))
    await log.append(record('p', 'torn-in-half'))
    const segment = log.seal()!
    await log.settled(segment)
    const path = join(directory, segment)
    truncateSync(path, statSync(path).size - 5)
    // The next process appends after the tear (a new segment would too): both sides are read.
    const rest = encodeRecord(record('p', 'after-the-tear'))
    appendFileSync(path, rest)
    expect(await log.read(segment)).toEqual({
      records: [record('p', 'kept'), record('p', 'after-the-tear')],
      skipped: 1,
      tornTail: false,
    })
    await log.close()
  })

  it('locks its directory against a second collector, and frees it on close or when the holder is gone', async () => {
    const directory = freshDirectory()
    const log = await WriteAheadLog.open(directory)
    await expect(WriteAheadLog.open(directory)).rejects.toThrow(/already open in this process/)
    // Another live process holds it: refused, naming the pid.
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    try {
      await log.close()
      writeFileSync(join(directory, 'LOCK'), `${holder.pid}\n`)
      await expect(WriteAheadLog.open(directory)).rejects.toThrow(
        new RegExp(`in use by process ${holder.pid}`),
      )
    } finally {
      holder.kill('SIGKILL')
      await once(holder, 'exit')
    }
    // The holder died without cleaning up: its lock is stale, and taken over.
    const next = await WriteAheadLog.open(directory)
    expect(readFileSync(join(directory, 'LOCK'), 'utf8').split('\n')[0]).toBe(String(process.pid))
    expect(statSync(join(directory, 'LOCK')).mode & 0o777).toBe(0o600)
    expect(statSync(directory).mode & 0o777).toBe(0o700)
    await next.close()
  })

  it('takes over a lock whose pid now names another process (a reboot or container restart reuses pids)', async () => {
    const directory = freshDirectory()
    const first = await WriteAheadLog.open(directory)
    const recorded = readFileSync(join(directory, 'LOCK'), 'utf8').split('\n')
    expect(recorded[1]).toBe(processStartOf(process.pid))
    await first.close()
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    try {
      await once(other, 'spawn')
      const otherStart = processStartOf(other.pid!)!
      // The lock names the live process's pid, as written by a collector that started at another
      // time (here: the same boot, a tick earlier): not its holder, so the lock is stale.
      const [bootId, ticks] = otherStart.split('/')
      writeFileSync(join(directory, 'LOCK'), `${other.pid}\n${bootId}/${Number(ticks) - 1}\n`)
      const taken = await WriteAheadLog.open(directory)
      await taken.close()
      // Written by that very process: held.
      writeFileSync(join(directory, 'LOCK'), `${other.pid}\n${otherStart}\n`)
      await expect(WriteAheadLog.open(directory)).rejects.toThrow(
        new RegExp(`in use by process ${other.pid}`),
      )
    } finally {
      other.kill('SIGKILL')
      await once(other, 'exit')
    }
  })

  it('under a file size limit, refuses the records a short write tore, rolls to a new segment, and keeps every acknowledged one', async () => {
    const directory = freshDirectory()
    // A child process with RLIMIT_FSIZE: write() comes back short, then fails with EFBIG.
    const script = `
      import { WriteAheadLog } from ${JSON.stringify(new URL('./write-ahead-log.ts', import.meta.url).href)}
      const log = await WriteAheadLog.open(process.argv[1])
      const outcomes = []
      for (let index = 0; index < 12; index++) {
        const body = Buffer.alloc(700, 48 + (index % 10))
        try {
          await log.append({ projectId: 'p', encoding: 'json', body, ingestedAt: index })
          outcomes.push('ok')
        } catch (error) {
          outcomes.push(error.code)
        }
      }
      await log.close()
      console.log(JSON.stringify({ outcomes, failures: log.writeFailures }))
    `
    const output = execFileSync(
      'prlimit',
      ['--fsize=4096', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, directory],
      { encoding: 'utf8' },
    )
    const { outcomes, failures } = JSON.parse(output.trim().split('\n').pop()!) as {
      outcomes: string[]
      failures: number
    }
    const acknowledged = outcomes.flatMap((outcome, index) => (outcome === 'ok' ? [index] : []))
    expect(acknowledged.length).toBeGreaterThan(0)
    expect(outcomes).toContain('EFBIG')
    expect(failures).toBeGreaterThan(0)
    // Every failure rolled to a new segment, so there are several.
    const segments = readdirSync(directory).filter((name) => name.endsWith('.wal'))
    expect(segments.length).toBeGreaterThan(1)
    // Every acknowledged record is read back whole, and none that was refused.
    const reader = await WriteAheadLog.open(directory)
    const replayed: number[] = []
    for (const segment of reader.pending()) {
      for (const found of (await reader.read(segment)).records) replayed.push(found.ingestedAt)
    }
    expect(replayed).toEqual(acknowledged)
    await reader.close()
  })
})
