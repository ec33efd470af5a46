import { constants } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { chmod, mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { crc32 } from 'node:zlib'
import { isProcessAlive, processStartOf } from '../process-alive.js'

/**
 * The collector's write-ahead log. An export is acknowledged once its request body is fsynced
 * here; ClickHouse gets the rows afterwards, in large batches, and a segment is deleted only
 * once ClickHouse has committed every row in it. Whatever is still here after a crash, a
 * restart or a ClickHouse outage is replayed. Replaying twice is harmless: every table replaces
 * rows with the same key.
 *
 * Segments are files named by time, so replay keeps arrival order. A segment starts with the
 * 8 bytes `DAAWAL2\n`; a record is `u32 magic | u32 length | u32 crc32 | payload`, payload
 * `u8 encoding | u16 project length | project | f64 ingested-at ms | body`. A record that fails
 * its length or checksum (a torn write, a bad sector) is skipped and counted, and reading goes on
 * at the next magic number: one bad record never hides the acknowledged ones after it.
 * (Segments written before this format, without the header, are still read.)
 *
 * Honesty rules: a record is acknowledged only once every one of its bytes was written (short
 * writes are continued, never ignored) and `fdatasync` succeeded. When a write or a sync fails
 * (ENOSPC, EIO, EFBIG), the records it carried are refused, the segment takes no more appends, and
 * the next append opens a new segment. The directory is locked (a `LOCK` file holding the pid),
 * so a second collector cannot write into, or delete from, the same log.
 */

export type WalEncoding = 'protobuf' | 'json'

export interface WalRecord {
  projectId: string
  encoding: WalEncoding
  /** The export request body as the sender sent it (after decompression). */
  body: Uint8Array
  /**
   * When the collector first took the request (ms since the epoch). Replay writes the rows with
   * this `ingested_at`, so a replayed row never outranks a newer version (a run attribution).
   */
  ingestedAt: number
}

/** What reading a segment found. */
export interface SegmentContents {
  records: WalRecord[]
  /** Corrupt or torn stretches skipped (each counts once, however many bytes it spans). */
  skipped: number
  /**
   * Whether the last skipped stretch runs to the end of the file with no intact record after it:
   * a write that failed (a full disk) or was cut off (a crash). Such a record was never
   * acknowledged, since acknowledgment waits for its fsync; a stretch in the middle was.
   */
  tornTail: boolean
}

const ENCODING_CODES: Record<WalEncoding, number> = { protobuf: 1, json: 2 }
const ENCODINGS: Record<number, WalEncoding> = { 1: 'protobuf', 2: 'json' }
const FILE_HEADER = Buffer.from('DAAWAL2\n')
const MAGIC = 0xda_a1_0c_5a
const MAGIC_BYTES = Buffer.alloc(4)
MAGIC_BYTES.writeUInt32LE(MAGIC, 0)
const HEADER_BYTES = 12
/** Larger than any record the collector writes (request bodies are capped far below). */
const MAX_RECORD_BYTES = 1024 * 1024 * 1024

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
  /** The write or sync that failed: the segment takes no more records. */
  failure: unknown
}

interface QueuedAppend {
  segment: Segment
  frame: Buffer
  resolve: () => void
  reject: (error: unknown) => void
}

export function encodeRecord(record: WalRecord): Buffer {
  const project = Buffer.from(record.projectId)
  const payload = Buffer.allocUnsafe(11 + project.length + record.body.byteLength)
  payload.writeUInt8(ENCODING_CODES[record.encoding], 0)
  payload.writeUInt16LE(project.length, 1)
  project.copy(payload, 3)
  payload.writeDoubleLE(record.ingestedAt, 3 + project.length)
  payload.set(record.body, 11 + project.length)
  const header = Buffer.allocUnsafe(HEADER_BYTES)
  header.writeUInt32LE(MAGIC, 0)
  header.writeUInt32LE(payload.length, 4)
  header.writeUInt32LE(crc32(payload), 8)
  return Buffer.concat([header, payload])
}

function decodePayload(payload: Buffer): WalRecord | undefined {
  const encoding = ENCODINGS[payload.readUInt8(0)]
  if (!encoding || payload.length < 11) return undefined
  const projectLength = payload.readUInt16LE(1)
  if (11 + projectLength > payload.length) return undefined
  return {
    encoding,
    projectId: payload.subarray(3, 3 + projectLength).toString(),
    ingestedAt: payload.readDoubleLE(3 + projectLength),
    body: payload.subarray(11 + projectLength),
  }
}

/** Every intact record of a segment, in order; corrupt or torn stretches are skipped and counted. */
export function decodeRecords(data: Buffer): SegmentContents {
  if (!data.subarray(0, FILE_HEADER.length).equals(FILE_HEADER)) return decodeLegacyRecords(data)
  const records: WalRecord[] = []
  let skipped = 0
  let tornTail = false
  let offset = FILE_HEADER.length
  while (offset < data.length) {
    const record = recordAt(data, offset)
    if (record) {
      records.push(record.record)
      offset = record.next
      continue
    }
    skipped += 1
    // Resynchronise: the next record starts at the next magic number whose record checks out.
    let next = data.indexOf(MAGIC_BYTES, offset + 1)
    while (next !== -1 && !recordAt(data, next)) next = data.indexOf(MAGIC_BYTES, next + 1)
    if (next === -1) {
      tornTail = true
      break
    }
    offset = next
  }
  return { records, skipped, tornTail }
}

function recordAt(data: Buffer, offset: number): { record: WalRecord; next: number } | undefined {
  if (offset + HEADER_BYTES > data.length || data.readUInt32LE(offset) !== MAGIC) return undefined
  const length = data.readUInt32LE(offset + 4)
  const start = offset + HEADER_BYTES
  if (length > MAX_RECORD_BYTES || start + length > data.length) return undefined
  const payload = data.subarray(start, start + length)
  if (crc32(payload) !== data.readUInt32LE(offset + 8)) return undefined
  const record = decodePayload(payload)
  return record && { record, next: start + length }
}

/** The format before the file header (`u32 length | u32 crc32 | payload`, no ingested-at): read up to the first bad record. */
function decodeLegacyRecords(data: Buffer): SegmentContents {
  const records: WalRecord[] = []
  let offset = 0
  while (offset + 8 <= data.length) {
    const length = data.readUInt32LE(offset)
    const start = offset + 8
    if (start + length > data.length) break
    const payload = data.subarray(start, start + length)
    if (crc32(payload) !== data.readUInt32LE(offset + 4)) break
    const encoding = ENCODINGS[payload.readUInt8(0)]
    if (!encoding) break
    const projectLength = payload.readUInt16LE(1)
    records.push({
      encoding,
      projectId: payload.subarray(3, 3 + projectLength).toString(),
      body: payload.subarray(3 + projectLength),
      ingestedAt: Date.now(),
    })
    offset = start + length
  }
  const torn = offset < data.length
  return { records, skipped: torn ? 1 : 0, tornTail: torn }
}

/** The log directory is in use by another live process. */
export class WalLockedError extends Error {
  override readonly name = 'WalLockedError'
}

/** Lock files held by this process (a pid file naming our own pid may be a stale one from before a container restart). */
const heldLocks = new Set<string>()

/**
 * Takes the directory's lock file (O_EXCL), replacing it when the process it names is gone. Two
 * collectors starting at the same moment over a stale lock both remove it, but only one of the
 * O_EXCL creates that follow succeeds.
 */
async function acquireLock(directory: string): Promise<string> {
  const path = resolve(directory, 'LOCK')
  if (heldLocks.has(path)) {
    throw new WalLockedError(`The write-ahead log in ${directory} is already open in this process.`)
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
      try {
        // The pid, then when this process started: a later process given the same pid (after a
        // reboot or a container restart) does not hold the lock.
        await handle.writeFile(`${process.pid}\n${processStartOf(process.pid) ?? ''}\n`)
        await handle.sync()
      } finally {
        await handle.close()
      }
      heldLocks.add(path)
      return path
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const [pidLine = '', startLine = ''] = (await readFile(path, 'utf8').catch(() => '')).split('\n')
    const pid = Number.parseInt(pidLine.trim(), 10)
    const start = startLine.trim() || undefined
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isProcessAlive(pid, start)) {
      throw new WalLockedError(
        `The write-ahead log in ${directory} is in use by process ${pid} (another collector). ` +
          'Give each collector its own data directory.',
      )
    }
    await rm(path, { force: true })
  }
  throw new WalLockedError(`Could not lock the write-ahead log in ${directory}.`)
}

/** The time encoded at the start of a segment's name (ms since the epoch), or undefined. */
export function segmentTime(name: string): number | undefined {
  const time = Number.parseInt(name.slice(0, 15), 10)
  return Number.isFinite(time) ? time : undefined
}

export class WriteAheadLog {
  private current: Segment | undefined
  /** Segments that take no more appends and still hold rows ClickHouse may not have, oldest first. */
  private readonly sealed = new Map<string, Segment>()
  private queue: QueuedAppend[] = []
  private draining: Promise<void> | undefined
  private bytes = 0
  private sequence = 0
  private lockPath: string | undefined
  /** Writes or syncs that failed (each refused its records and rolled the segment). */
  writeFailures = 0

  private constructor(private readonly directory: string) {}

  /**
   * Opens (creating when missing, owner-only) the log's directory and locks it; segments left by
   * an earlier process await replay. Throws WalLockedError when another live process holds it.
   */
  static async open(directory: string): Promise<WriteAheadLog> {
    await mkdir(directory, { recursive: true, mode: 0o700 })
    await chmod(directory, 0o700).catch(() => {})
    const log = new WriteAheadLog(directory)
    log.lockPath = await acquireLock(directory)
    for (const name of (await readdir(directory)).filter((entry) => entry.endsWith('.wal')).sort()) {
      const { size } = await stat(join(directory, name))
      log.sealed.set(name, {
        name,
        handle: undefined,
        bytes: size,
        outstanding: 0,
        idle: [],
        settled: Promise.resolve(),
        failure: undefined,
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

  /** When the oldest segment not yet deleted was started (ms since the epoch), or undefined when none waits. */
  get oldestPendingTime(): number | undefined {
    const [oldest] = this.pending()
    if (oldest !== undefined) return segmentTime(oldest)
    return this.current && this.current.bytes > 0 ? segmentTime(this.current.name) : undefined
  }

  /**
   * Queues a record on the current segment; resolves once it is wholly on disk (written and
   * fsynced), rejects when it is not. Appends made in the same moment share one write and one fsync.
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
    this.draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain())
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
    this.sealSegment(segment)
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

  async read(name: string): Promise<SegmentContents> {
    try {
      return decodeRecords(await readFile(join(this.directory, name)))
    } catch (error) {
      // A segment whose file could not even be created (a full disk) holds nothing.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return { records: [], skipped: 0, tornTail: false }
      throw error
    }
  }

  /** Deletes a sealed segment once ClickHouse has committed all of it. */
  async remove(name: string): Promise<void> {
    const segment = this.sealed.get(name)
    if (!segment) return
    await segment.settled
    await rm(join(this.directory, name), { force: true })
    if (!this.sealed.delete(name)) return
    this.bytes -= segment.bytes
  }

  /** Writes and fsyncs everything queued; closes the current segment and releases the lock. */
  async close(): Promise<void> {
    const name = this.seal()
    if (name) await this.settled(name)
    while (this.draining) await this.draining
    await Promise.all([...this.sealed.values()].map((segment) => segment.settled))
    if (this.lockPath) {
      const path = this.lockPath
      this.lockPath = undefined
      heldLocks.delete(path)
      await rm(path, { force: true })
    }
  }

  private sealSegment(segment: Segment): void {
    this.sealed.set(segment.name, segment)
    const written = new Promise<void>((resolve) => {
      if (segment.outstanding === 0) resolve()
      else segment.idle.push(resolve)
    })
    // A close that fails (EIO) loses nothing acknowledged: every record was synced before.
    segment.settled = written.then(() => segment.handle?.close()).catch(() => {})
  }

  private newSegment(): Segment {
    this.sequence += 1
    const name = `${Date.now().toString().padStart(15, '0')}-${process.pid}-${String(this.sequence).padStart(6, '0')}.wal`
    return {
      name,
      handle: undefined,
      bytes: 0,
      outstanding: 0,
      idle: [],
      settled: Promise.resolve(),
      failure: undefined,
    }
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
    this.draining = undefined
  }

  private async writeFrames(segment: Segment, entries: QueuedAppend[]): Promise<void> {
    if (segment.failure !== undefined) {
      this.refuse(segment, entries, segment.failure)
      return
    }
    try {
      const frames = entries.map((entry) => entry.frame)
      if (!segment.handle) {
        segment.handle = await open(join(this.directory, segment.name), 'a', 0o600)
        frames.unshift(FILE_HEADER)
        await this.syncDirectory()
      }
      const data = frames.length === 1 ? frames[0]! : Buffer.concat(frames)
      // write() may write fewer bytes than asked (a file size limit, a nearly full disk): go on
      // from where it stopped; the call after a short write reports the error (EFBIG, ENOSPC).
      let written = 0
      while (written < data.length) {
        const { bytesWritten } = await segment.handle.write(data, written, data.length - written)
        if (bytesWritten <= 0) throw new Error(`write wrote nothing at byte ${written} of ${data.length}`)
        written += bytesWritten
      }
      await segment.handle.datasync()
      for (const entry of entries) entry.resolve()
    } catch (error) {
      this.writeFailures += 1
      segment.failure = error
      // After a failed write or fsync the file's tail is unknown: nothing more goes into it. The
      // records synced before stay (replay skips the torn tail); the next append opens a new segment.
      if (this.current === segment) {
        this.current = undefined
        this.sealSegment(segment)
      }
      this.refuse(segment, entries, error)
    }
  }

  private refuse(segment: Segment, entries: QueuedAppend[], error: unknown): void {
    for (const entry of entries) {
      segment.bytes -= entry.frame.length
      this.bytes -= entry.frame.length
      entry.reject(error)
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
