import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type WalRecord, WriteAheadLog } from './write-ahead-log.js'

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
})

describe('write-ahead log', () => {
  it('reads back, in order, every record appended to a sealed segment', async () => {
    const log = await WriteAheadLog.open(freshDirectory())
    await Promise.all([log.append(record('a', '{"one":1}')), log.append(record('b', 'two', 'protobuf'))])
    const segment = log.seal()!
    await log.settled(segment)
    expect(await log.read(segment)).toEqual([record('a', '{"one":1}'), record('b', 'two', 'protobuf')])
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
    expect(readdirSync(directory)).toEqual([second])
    expect(await log.read(second)).toEqual([record('a', 'second')])
    await log.close()
  })

  it('hands segments left by an earlier process to the next one', async () => {
    const directory = freshDirectory()
    const before = await WriteAheadLog.open(directory)
    await before.append(record('p', 'acknowledged'))
    await before.close()
    const after = await WriteAheadLog.open(directory)
    const [segment] = after.pending()
    expect(await after.read(segment!)).toEqual([record('p', 'acknowledged')])
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
    expect(await log.read(segment)).toEqual([record('p', 'intact')])
  })
})
