import type { FileHandle } from 'node:fs/promises'
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'

/**
 * The collector's write-ahead log. An export is acknowledged once its request body is fsynced
 * here; ClickHouse gets the rows afterwards, in large batches, and a segment is deleted only
 * once ClickHouse has committed every row in it. Whatever is still here after a crash, a
 * restart or a ClickHouse outage is replayed. Replaying twice is harmless: every table replaces
 * rows with the same key.
 *
 * Segments are files named by time, so replay keeps arrival order. A record is
 * `u32 length | u32 crc32 | payload`, payload `u8 encoding | u16 project length | project | body`:
 * a torn tail (a crash mid-write, never acknowledged) fails its length or checksum and is ignored.
 */

export type WalEncoding = 'protobuf' | 'json'

export interface WalRecord {
  projectId: string
  encoding: WalEncoding
  /** The export request body as the sender sent it (after decompression). */
  body: Uint8Array
}

const ENCODING_CODES: Record<WalEncoding, number> = { protobuf: 1, json: 2 }
const ENCODINGS: Record<number, WalEncoding> = { 1: 'protobuf', 2: 'json' }
const HEADER_BYTES = 8

interface Segment {
  name: string
  handle: FileHandle | undefined
  bytes: number
  /** Appends queued or being written. */
  outstanding: number
  /** Called when `outstanding` drops to zero. */
  idle: Array<() => void>
  /** After sealing: resolves once every append is on disk and the file is closed. */
  settled: Promise<void>
}

interface QueuedAppend {
  segment: Segment
  frame: Buffer
  resolve: () => void
  reject: (error: unknown) => void
}

export function encodeRecord(record: WalRecord): Buffer {
  const project = Buffer.from(record.projectId)
  const payload = Buffer.allocUnsafe(3 + project.length + record.body.byteLength)
  payload.writeUInt8(ENCODING_CODES[record.encoding], 0)
  payload.writeUInt16LE(project.length, 1)
  project.copy(payload, 3)
  payload.set(record.body, 3 + project.length)
  const header = Buffer.allocUnsafe(HEADER_BYTES)
  header.writeUInt32LE(payload.length, 0)
  header.writeUInt32LE(crc32(payload), 4)
  return Buffer.concat([header, payload])
}

/** Every intact record of a segment, in order; stops at a torn or corrupt tail. */
export function decodeRecords(data: Buffer): WalRecord[] {
  const records: WalRecord[] = []
  let offset = 0
  while (offset + HEADER_BYTES <= data.length) {
    const length = data.readUInt32LE(offset)
    const checksum = data.readUInt32LE(offset + 4)
    const start = offset + HEADER_BYTES
    if (start + length > data.length) break
    const payload = data.subarray(start, start + length)
    if (crc32(payload) !== checksum) break
    const encoding = ENCODINGS[payload.readUInt8(0)]
    if (!encoding) break
    const projectLength = payload.readUInt16LE(1)
    records.push({
      encoding,
      projectId: payload.subarray(3, 3 + projectLength).toString(),
      body: payload.subarray(3 + projectLength),
    })
    offset = start + length
  }
  return records
}

export class WriteAheadLog {
  private current: Segment | undefined
  /** Segments that take no more appends and still hold rows ClickHouse may not have, oldest first. */
  private readonly sealed = new Map<string, Segment>()
  private queue: QueuedAppend[] = []
  private draining = false
  private bytes = 0
  private sequence = 0

  private constructor(private readonly directory: string) {}

  /** Opens (creating when missing) the log's directory; segments left by an earlier process await replay. */
  static async open(directory: string): Promise<WriteAheadLog> {
    await mkdir(directory, { recursive: true })
    const log = new WriteAheadLog(directory)
    for (const name of (await readdir(directory)).filter((entry) => entry.endsWith('.wal')).sort()) {
      const { size } = await stat(join(directory, name))
      log.sealed.set(name, {
        name,
        handle: undefined,
        bytes: size,
        outstanding: 0,
        idle: [],
        settled: Promise.resolve(),
      })
      log.bytes += size
    }
    return log
  }

  /** Segments not yet deleted (including the one being written). */
  get depth(): number {
    return this.sealed.size + (this.current && this.current.bytes > 0 ? 1 : 0)
  }

  /** Bytes in segments not yet deleted. */
  get size(): number {
    return this.bytes
  }

  /**
   * Queues a record on the current segment; resolves once it is on disk (fsynced). Appends made
   * in the same moment share one write and one fsync.
   */
  append(record: WalRecord): Promise<void> {
    this.current ??= this.newSegment()
    const segment = this.current
    const frame = encodeRecord(record)
    segment.bytes += frame.length
    segment.outstanding += 1
    this.bytes += frame.length
    const durable = new Promise<void>((resolve, reject) =>
      this.queue.push({ segment, frame, resolve, reject }),
    )
    if (!this.draining) {
      this.draining = true
      setImmediate(() => void this.drain())
    }
    return durable
  }

  /**
   * Ends the current segment: later appends go to a new one. Returns the sealed segment's name,
   * or undefined when it held nothing.
   */
  seal(): string | undefined {
    const segment = this.current
    if (!segment || segment.bytes === 0) return undefined
    this.current = undefined
    this.sealed.set(segment.name, segment)
    const written = new Promise<void>((resolve) => {
      if (segment.outstanding === 0) resolve()
      else segment.idle.push(resolve)
    })
    segment.settled = written.then(() => segment.handle?.close())
    return segment.name
  }

  /** Resolves once every record of a sealed segment is on disk and its file is closed. */
  async settled(name: string): Promise<void> {
    await this.sealed.get(name)?.settled
  }

  /** Sealed segments still on disk, oldest first. */
  pending(): string[] {
    return [...this.sealed.keys()].sort()
  }

  async read(name: string): Promise<WalRecord[]> {
    return decodeRecords(await readFile(join(this.directory, name)))
  }

  /** Deletes a sealed segment once ClickHouse has committed all of it. */
  async remove(name: string): Promise<void> {
    const segment = this.sealed.get(name)
    if (!segment) return
    await segment.settled
    await rm(join(this.directory, name), { force: true })
    this.sealed.delete(name)
    this.bytes -= segment.bytes
  }

  /** Writes and fsyncs everything queued; closes the current segment. */
  async close(): Promise<void> {
    const name = this.seal()
    if (name) await this.settled(name)
    while (this.draining) await new Promise((resolve) => setImmediate(resolve))
  }

  private newSegment(): Segment {
    this.sequence += 1
    const name = `${Date.now().toString().padStart(15, '0')}-${process.pid}-${String(this.sequence).padStart(6, '0')}.wal`
    return { name, handle: undefined, bytes: 0, outstanding: 0, idle: [], settled: Promise.resolve() }
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue
      this.queue = []
      const bySegment = new Map<Segment, QueuedAppend[]>()
      for (const entry of batch) {
        const list = bySegment.get(entry.segment)
        if (list) list.push(entry)
        else bySegment.set(entry.segment, [entry])
      }
      for (const [segment, entries] of bySegment) {
        await this.writeFrames(segment, entries)
        segment.outstanding -= entries.length
        if (segment.outstanding === 0) for (const wake of segment.idle.splice(0)) wake()
      }
    }
    this.draining = false
  }

  private async writeFrames(segment: Segment, entries: QueuedAppend[]): Promise<void> {
    try {
      if (!segment.handle) {
        segment.handle = await open(join(this.directory, segment.name), 'a')
        await this.syncDirectory()
      }
      await segment.handle.writev(entries.map((entry) => entry.frame))
      await segment.handle.datasync()
      for (const entry of entries) entry.resolve()
    } catch (error) {
      for (const entry of entries) entry.reject(error)
    }
  }

  /** A new file's directory entry must itself survive a crash. */
  private async syncDirectory(): Promise<void> {
    const handle = await open(this.directory, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }
}
