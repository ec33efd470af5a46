import { ExportRejectedError } from '../otlp/errors.js'
import {
  appendEncoded,
  ClickHouseError,
  chunkLength,
  chunkLineCount,
  type EncodedChunk,
  type EncodedRows,
  encodedLines,
  rowsOfLines,
  type Store,
} from '../store/store.js'
import { type DeadLetter, writeDeadLetters } from './dead-letters.js'
import type { IngestMetrics } from './ingest-metrics.js'
import { type EncodedBatch, INSERT_COLUMNS, TABLES, type TableName } from './prepare-request.js'
import type { WalRecord, WriteAheadLog } from './write-ahead-log.js'

/** The Retry-After of a request the log cannot take now (full, or failing to write). */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5

/** Batching and durability settings; every field has a default. */
export interface IngestPipelineOptions {
  /** Longest rows wait in memory before their batch is written to ClickHouse. Default 1000 ms. */
  flushIntervalMs?: number
  /** A batch is written as soon as it holds this many spans. Default 20000. */
  maxBatchSpans?: number
  /** Batch writes to ClickHouse running at once. Default 2. */
  maxConcurrentInserts?: number
  /**
   * New requests wait (see admissionWaitMs), then get 429, while this many bytes of encoded rows
   * wait for ClickHouse in memory (a resource's attributes count once, however many spans share
   * them). Default 32 MiB.
   */
  maxBufferedBytes?: number
  /**
   * How long a request whose rows do not fit in the buffer waits for room before it is refused
   * (429, retry after 2 s), counted from when it arrived. Default 2000 ms: no longer than the
   * refusal would ask the sender to wait anyway.
   */
  admissionWaitMs?: number
  /** New requests get 503 once the write-ahead log holds this many bytes (ClickHouse away for long). Default 1 GiB. */
  maxLogBytes?: number
  /** How often the log is offered to ClickHouse while ClickHouse is behind. Default 2000 ms. */
  replayIntervalMs?: number
  /** Largest insert sent to ClickHouse, in encoded characters; bigger batches go in several inserts. Default 16 MiB. */
  maxInsertBytes?: number
  /**
   * Where rows ClickHouse refuses for their data are kept (see dead-letters.ts). Default
   * `./.daa/dead-letter`.
   */
  deadLetterDir?: string
  /** Receives what an operator should see: dead letters, skipped log records. Default: stderr. */
  onWarning?: (message: string) => void
}

/**
 * Turns a logged record back into encoded rows (decode, map, encode: prepare-request.ts), for
 * replay. Rejects with ExportRejectedError when it cannot now (no ingest worker): the record
 * stays in the log; any other error means the record itself no longer decodes.
 */
export type Materialize = (record: WalRecord) => Promise<EncodedBatch>

/** Rows of one or more requests, encoded per table as they arrive. */
type Batch = EncodedBatch

function emptyBatch(): Batch {
  return {
    spans: { columns: INSERT_COLUMNS.spans, chunks: [], count: 0, bytes: 0 },
    runs: { columns: INSERT_COLUMNS.runs, chunks: [], count: 0, bytes: 0 },
    outcomes: { columns: INSERT_COLUMNS.outcomes, chunks: [], count: 0, bytes: 0 },
    bytes: 0,
  }
}

function appendBatch(target: Batch, more: Batch): void {
  for (const table of TABLES) appendEncoded(target[table], more[table])
  target.bytes += more.bytes
}

function isEmpty(batch: Batch): boolean {
  return batch.spans.count === 0 && batch.runs.count === 0 && batch.outcomes.count === 0
}

/**
 * ClickHouse errors about the rows themselves: sending the same rows again fails again, however
 * long one waits. Every other error (unreachable, overloaded, out of memory or disk, read-only,
 * a table missing until migrations run) is about ClickHouse: the rows wait in the log and are
 * retried, never set aside.
 */
const DATA_ERROR_CODES: ReadonlySet<number> = new Set([
  6, // CANNOT_PARSE_TEXT
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  32, // ATTEMPT_TO_READ_AFTER_EOF
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  130, // CANNOT_READ_ARRAY_FROM_TEXT
  131, // TOO_LARGE_STRING_SIZE
  190, // SIZES_OF_ARRAYS_DONT_MATCH
  321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  407, // DECIMAL_OVERFLOW
  469, // VIOLATED_CONSTRAINT (a CHECK an operator added to a table)
])

export function isDataError(error: unknown): error is ClickHouseError {
  return error instanceof ClickHouseError && DATA_ERROR_CODES.has(error.code)
}

/** What /readyz and /metrics report about the log. */
export interface LogStatus {
  segments: number
  bytes: number
  /** Age of the oldest record not yet in ClickHouse, in seconds; 0 when none waits. */
  oldestAgeSeconds: number
  /** Inserts failed in a row (reset by the next success). */
  consecutiveFailures: number
  /** The last insert failure, while failures continue. */
  lastError: string | undefined
}

/**
 * Encoded rows per byte of an OTLP/protobuf body, a little under what realistic GenAI traces give
 * (2.3: JSON repeats a resource's attributes and every key on each row), so `admit` seldom refuses
 * a request that would have fit. A JSON body is larger than its rows, so it is admitted generously.
 */
const ENCODED_BYTES_PER_BODY_BYTE = 2

/** Releases the buffer room an admitted request reserved (see IngestPipeline.admit). */
export type Admission = () => void

function overloaded(): ExportRejectedError {
  return new ExportRejectedError('overloaded', 'The collector is busy writing; retry shortly.', {
    retryAfterSeconds: 2,
  })
}

/** The refusal of a request that arrives, or is still arriving, while the collector stops. */
export function shuttingDown(): ExportRejectedError {
  return new ExportRejectedError('unavailable', 'The collector is shutting down.', { retryAfterSeconds: 1 })
}

function writeWarning(message: string): void {
  process.stderr.write(`daa collector: ${message}\n`)
}

/**
 * Acknowledges an export once its body is fsynced in the write-ahead log, and feeds ClickHouse
 * large batches (thousands of rows per insert, about one insert per second per table, as
 * ClickHouse prefers) behind it. A segment of the log is deleted only once ClickHouse has
 * committed every row logged in it; what ClickHouse could not take is replayed from the log.
 *
 * When ClickHouse refuses a batch for its data, the batch is split in halves, and halves of
 * those, until the refused rows stand alone: they go to the dead-letter area, and every other
 * row (of every project in the batch) is stored. When ClickHouse is away, nothing is split or
 * set aside: the log holds the rows until it is back.
 */
export class IngestPipeline {
  private readonly flushIntervalMs: number
  private readonly maxBatchSpans: number
  private readonly maxConcurrentInserts: number
  private readonly maxBufferedBytes: number
  private readonly maxLogBytes: number
  private readonly maxInsertBytes: number
  private readonly deadLetterDir: string
  private readonly warn: (message: string) => void
  private current = emptyBatch()
  private timer: NodeJS.Timeout | undefined
  private readonly replayTimer: NodeJS.Timeout
  private inFlightBytes = 0
  /** Requests admitted whose rows are not buffered yet (see admit). */
  private reservedBytes = 0
  private readonly roomWaiters = new Set<() => void>()
  private readonly admissionWaitMs: number
  private readonly writes = new Set<Promise<void>>()
  /** Segments being inserted straight from memory; replay leaves them alone. */
  private readonly inserting = new Set<string>()
  /** False after a failed insert, until replay has caught up: new batches then wait in the log. */
  private healthy = true
  private replaying: Promise<void> | undefined
  private closed = false
  private readonly stop = new AbortController()
  private consecutiveFailures = 0
  private lastError: string | undefined
  /** When ClickHouse stopped taking batches, until the log has caught up: said once each way on stderr. */
  private outageSince: number | undefined
  private readonly replayIntervalMs: number

  constructor(
    private readonly store: Store,
    private readonly log: WriteAheadLog,
    private readonly metrics: IngestMetrics,
    private readonly materialize: Materialize,
    options: IngestPipelineOptions = {},
  ) {
    this.flushIntervalMs = Math.max(1, options.flushIntervalMs ?? 1000)
    this.maxBatchSpans = Math.max(1, options.maxBatchSpans ?? 20_000)
    this.maxConcurrentInserts = Math.max(1, options.maxConcurrentInserts ?? 2)
    this.maxBufferedBytes = Math.max(1, options.maxBufferedBytes ?? 32 * 1024 * 1024)
    this.admissionWaitMs = Math.max(0, options.admissionWaitMs ?? 2000)
    this.maxLogBytes = Math.max(1, options.maxLogBytes ?? 1024 * 1024 * 1024)
    this.maxInsertBytes = Math.max(1, options.maxInsertBytes ?? 16 * 1024 * 1024)
    this.deadLetterDir = options.deadLetterDir ?? '.daa/dead-letter'
    this.warn = options.onWarning ?? writeWarning
    // Segments left by an earlier process hold acknowledged data: ClickHouse gets them first.
    if (log.pending().length > 0) this.healthy = false
    this.replayIntervalMs = Math.max(10, options.replayIntervalMs ?? 2000)
    this.replayTimer = setInterval(() => void this.replay(), this.replayIntervalMs)
    this.replayTimer.unref()
    this.updateGauges()
  }

  /** Aborted when shutdown begins: requests still reading their bodies stop waiting (export-handler.ts). */
  get stopping(): AbortSignal {
    return this.stop.signal
  }

  /** The log's state, for /readyz and /metrics. */
  status(): LogStatus {
    const oldest = this.log.oldestPendingTime
    return {
      segments: this.log.depth,
      bytes: this.log.size,
      oldestAgeSeconds: oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000),
      consecutiveFailures: this.consecutiveFailures,
      lastError: this.lastError,
    }
  }

  /**
   * Lets a request body on to be decoded once its rows fit in the buffer, waiting for room until
   * `admissionWaitMs` after the request arrived, and refuses it (overloaded) after that: under
   * backpressure a request waits for the batch ahead of it to be written, instead of being refused
   * and sent again, and a refused one costs no decode, map or encode. The estimate is
   * ENCODED_BYTES_PER_BODY_BYTE × the body's size, reserved until the returned release is called
   * (once the rows are buffered, or the request failed); `accept` still checks the exact size.
   */
  async admit(bodyBytes: number, arrivedAt = Date.now()): Promise<Admission> {
    const bytes = bodyBytes * ENCODED_BYTES_PER_BODY_BYTE
    const deadline = arrivedAt + this.admissionWaitMs
    const waitedFrom = Date.now()
    let waited = false
    try {
      while (!this.fits(bytes)) {
        const left = deadline - Date.now()
        if (left <= 0) {
          this.countWait(waitedFrom, 'refused')
          throw overloaded()
        }
        if (!waited) this.metrics.admissionWaiting.inc()
        waited = true
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer)
            resolve()
          }
          const timer = setTimeout(() => {
            this.roomWaiters.delete(wake)
            resolve()
          }, left)
          this.roomWaiters.add(wake)
        })
      }
    } finally {
      if (waited) this.metrics.admissionWaiting.dec()
    }
    if (waited) this.countWait(waitedFrom, 'admitted')
    // Reserved until the request's rows are buffered (or it fails): requests admitted together
    // do not all count on the same room.
    this.reservedBytes += bytes
    let released = false
    return () => {
      if (released) return
      released = true
      this.reservedBytes -= bytes
      this.wakeRoomWaiters()
    }
  }

  private countWait(since: number, result: 'admitted' | 'refused'): void {
    this.metrics.admissionWaits.inc({ result })
    this.metrics.admissionWaitSeconds.inc((Date.now() - since) / 1000)
  }

  private fits(bytes: number): boolean {
    if (this.closed || this.log.size >= this.maxLogBytes) return true // accept() says why, with its own hint
    return this.hasRoom(bytes, this.reservedBytes)
  }

  /** Whether `bytes` more fit beside the buffered, in-flight and `reserved` bytes (anything fits an empty buffer). */
  private hasRoom(bytes: number, reserved: number): boolean {
    const taken = this.current.bytes + this.inFlightBytes + reserved
    return taken === 0 || taken + bytes <= this.maxBufferedBytes
  }

  /** Room may have been made: every waiting request checks again, in the order they came. */
  private wakeRoomWaiters(): void {
    if (this.roomWaiters.size === 0) return
    const waiters = [...this.roomWaiters]
    this.roomWaiters.clear()
    for (const wake of waiters) wake()
  }

  /**
   * Takes one request: logs its body and buffers its rows (encoded by prepare-request.ts, with the
   * record's `ingestedAt`). Resolves once the body is on disk; rejects with ExportRejectedError
   * (overloaded or unavailable, with a retry hint) when the request cannot be taken now.
   */
  async accept(record: WalRecord, encoded: EncodedBatch): Promise<void> {
    if (this.closed) throw shuttingDown()
    // Retry hints stay under the 10 s that OpenTelemetry's JS exporters allow an export: a longer
    // Retry-After makes them give up at once instead of trying again (seen with 10 and 30 s).
    if (this.log.size >= this.maxLogBytes) {
      throw new ExportRejectedError('unavailable', 'ClickHouse is unreachable and the local log is full.', {
        retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
      })
    }
    if (isEmpty(encoded)) return
    // Backpressure instead of growing: the sender retries later, and nothing acknowledged is at risk.
    // What counts is what stays in memory (encoded rows), not the request's size on the wire. The
    // reservations are left out: this request still holds its own (admit), which would count its
    // rows twice.
    if (!this.hasRoom(encoded.bytes, 0)) throw overloaded()
    // The log append and the buffering happen in the same tick, so a sealed segment and the batch
    // cut with it always hold the same requests.
    const durable = this.log.append(record)
    appendBatch(this.current, encoded)
    if (this.current.spans.count >= this.maxBatchSpans && this.writes.size < this.maxConcurrentInserts)
      this.flush()
    else this.timer ??= setTimeout(() => this.flush(), this.flushIntervalMs)
    this.updateGauges()
    try {
      await durable
    } catch (error) {
      this.metrics.walWriteFailures.inc()
      throw new ExportRejectedError(
        'unavailable',
        `The local write-ahead log cannot be written (${(error as NodeJS.ErrnoException).code ?? 'I/O error'}).`,
        { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS, cause: error },
      )
    }
    this.metrics.spansAccepted.inc(encoded.spans.count)
  }

  /** Writes everything buffered and replays what waits in the log; resolves when ClickHouse has it (or refused it). */
  async flushAll(): Promise<void> {
    this.flush()
    await Promise.all([...this.writes])
    await this.replay()
  }

  /**
   * Stops taking requests, then offers everything buffered to ClickHouse; what it refuses stays
   * in the log. After `deadlineMs` it stops waiting for ClickHouse: the log still holds every
   * acknowledged record, and the next start replays it.
   */
  async shutdown(deadlineMs = 10_000): Promise<void> {
    this.closed = true
    this.stop.abort()
    // Requests waiting for room go on to accept(), which refuses them as the collector stops.
    this.wakeRoomWaiters()
    clearInterval(this.replayTimer)
    this.flush()
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs)
      timer.unref()
    })
    await Promise.race([Promise.all([...this.writes, this.replaying]), deadline])
    clearTimeout(timer)
    // Whatever ClickHouse has not taken by now is in the log; closing it waits only for the disk.
    await this.log.close()
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.current
    if (isEmpty(batch)) return
    const segment = this.log.seal()
    this.current = emptyBatch()
    if (!segment) return
    this.inFlightBytes += batch.bytes
    this.inserting.add(segment)
    const write = this.write(batch, segment).finally(() => {
      this.inFlightBytes -= batch.bytes
      this.inserting.delete(segment)
      this.writes.delete(write)
      if (this.current.spans.count >= this.maxBatchSpans) this.flush()
      this.updateGauges()
      this.wakeRoomWaiters()
    })
    this.writes.add(write)
  }

  /** Never rejects (a timer starts it, and nobody may be waiting): a failure leaves the segment to replay. */
  private async write(batch: Batch, segment: string): Promise<void> {
    try {
      await this.log.settled(segment)
      // While older segments wait for replay, newer ones queue behind them in the log.
      if (!this.healthy) return
      await this.insert(batch)
      await this.log.remove(segment)
      this.metrics.batches.inc({ destination: 'clickhouse' })
    } catch {
      this.healthy = false
    }
  }

  private async insert(batch: Batch): Promise<void> {
    const stopTimer = this.metrics.insertSeconds.startTimer()
    try {
      await Promise.all(TABLES.map((table) => this.insertTable(table, batch[table])))
      stopTimer()
      this.consecutiveFailures = 0
      this.lastError = undefined
    } catch (error) {
      this.metrics.insertFailures.inc()
      this.consecutiveFailures += 1
      this.lastError = error instanceof Error ? error.message.slice(0, 500) : String(error)
      // Once per outage, not per attempt: an operator reading the log sees when it began and ended
      // (/readyz and /metrics carry the running state).
      if (this.outageSince === undefined) {
        this.outageSince = Date.now()
        this.warn(
          `ClickHouse did not take a batch (${this.lastError}). Acknowledged spans wait in the write-ahead log ` +
            `and are offered again every ${this.replayIntervalMs / 1000} s; /readyz reports the log meanwhile.`,
        )
      }
      throw error
    }
  }

  /** One table's rows, in inserts of at most maxInsertBytes characters each. */
  private async insertTable(table: TableName, rows: EncodedRows): Promise<void> {
    if (rows.count === 0) return
    let part: EncodedChunk[] = []
    let partLength = 0
    const send = async () => {
      if (part.length === 0) return
      const chunks = part
      part = []
      partLength = 0
      await this.insertIsolating(table, {
        columns: rows.columns,
        chunks,
        count: countLines(chunks),
        bytes: 0,
      })
    }
    for (const chunk of rows.chunks) {
      const length = chunkLength(chunk)
      if (partLength > 0 && partLength + length > this.maxInsertBytes) await send()
      part.push(chunk)
      partLength += length
    }
    await send()
  }

  /**
   * Inserts rows; when ClickHouse refuses them for their data, halves them until each refused row
   * stands alone, stores the others, and sets the refused ones aside.
   */
  private async insertIsolating(table: TableName, rows: EncodedRows): Promise<void> {
    try {
      await this.store.insertEncoded(table, rows)
      return
    } catch (error) {
      if (!isDataError(error)) throw error
      const lines = encodedLines(rows)
      if (lines.length <= 1) {
        await this.deadLetter(table, rows.columns, lines, error)
        return
      }
      const middle = Math.ceil(lines.length / 2)
      await this.insertIsolating(table, rowsOfLines(rows.columns, lines.slice(0, middle)))
      await this.insertIsolating(table, rowsOfLines(rows.columns, lines.slice(middle)))
    }
  }

  private async deadLetter(
    table: TableName,
    columns: readonly string[],
    lines: string[],
    error: ClickHouseError,
  ): Promise<void> {
    const at = new Date().toISOString()
    const letters: DeadLetter[] = lines.map((line) => {
      const row = JSON.parse(line) as unknown[]
      return {
        at,
        projectId: typeof row[0] === 'string' ? row[0] : '',
        table,
        error: { code: error.code, type: error.type, message: error.message.slice(0, 2000) },
        columns: [...columns],
        row,
      }
    })
    const file = await writeDeadLetters(this.deadLetterDir, letters)
    this.metrics.deadLetterRows.inc({ table }, letters.length)
    for (const letter of letters) {
      this.warn(
        `ClickHouse refused a ${table} row of project "${letter.projectId}" for its data ` +
          `(${error.type || error.code}); it is set aside in ${this.deadLetterDir}/${file} ` +
          `(see "daa dead-letter list"), and the rest of its batch is stored.`,
      )
    }
  }

  /** Offers logged segments to ClickHouse, oldest first, until one fails; healthy again once all are in. */
  replay(): Promise<void> {
    if (this.replaying) return this.replaying
    const waiting = this.log.pending().filter((segment) => !this.inserting.has(segment))
    if (waiting.length === 0) {
      if (this.inserting.size === 0) this.caughtUp()
      return Promise.resolve()
    }
    this.replaying = (async () => {
      try {
        for (const segment of waiting) {
          await this.log.settled(segment)
          const { records, skipped, tornTail } = await this.log.read(segment)
          if (skipped > 0) {
            this.metrics.walSkippedRecords.inc(skipped)
            this.warn(
              `write-ahead log segment ${segment}: ${describeSkipped(skipped, tornTail)}; replayed the ${records.length} intact record(s).`,
            )
          }
          const batch = emptyBatch()
          // All of a segment's records at once: with ingest workers they are prepared side by side.
          const prepared = await Promise.all(
            records.map((record) =>
              this.materialize(record).then(
                (encoded) => ({ encoded, error: undefined }),
                (error: unknown) => ({ encoded: undefined, error }),
              ),
            ),
          )
          for (const [index, { encoded, error }] of prepared.entries()) {
            if (encoded) {
              appendBatch(batch, encoded)
              continue
            }
            // No worker to prepare it now: the segment stays in the log for the next attempt.
            if (error instanceof ExportRejectedError) throw error
            // It decoded when it arrived, and its checksum holds: only a changed decoder gets here.
            // Retrying would stall the log for every project, so it is counted and skipped.
            this.metrics.walSkippedRecords.inc()
            this.warn(
              `write-ahead log segment ${segment}: a record of project "${records[index]!.projectId}" no longer decodes (${String(error)}); skipped.`,
            )
          }
          await this.insert(batch)
          await this.log.remove(segment)
          this.metrics.batches.inc({ destination: 'replay' })
          this.updateGauges()
        }
        this.caughtUp()
      } catch {
        // ClickHouse is still away; the next tick tries again. /readyz and /metrics show it.
        this.metrics.replayFailures.inc()
      } finally {
        this.replaying = undefined
        this.updateGauges()
      }
    })()
    return this.replaying
  }

  /** Every logged segment is in ClickHouse: new batches go straight to it again. */
  private caughtUp(): void {
    this.healthy = true
    if (this.outageSince === undefined) return
    const seconds = Math.round((Date.now() - this.outageSince) / 1000)
    this.outageSince = undefined
    this.warn(`ClickHouse takes batches again; the write-ahead log has caught up after ${seconds} s.`)
  }

  private updateGauges(): void {
    this.metrics.bufferedBytes.set(this.current.bytes + this.inFlightBytes)
    this.metrics.walSegments.set(this.log.depth)
    this.metrics.walBytes.set(this.log.size)
  }
}

/**
 * What replay left out, in an operator's terms: an incomplete last record is a write that failed
 * (a full disk) or was cut off, never acknowledged, so nothing was lost; a stretch in the middle is
 * damage to acknowledged data.
 */
function describeSkipped(skipped: number, tornTail: boolean): string {
  const incomplete =
    'left out an incomplete record at its end (a write that failed or was cut off, never acknowledged)'
  if (tornTail && skipped === 1) return incomplete
  const corrupt = `skipped ${skipped - (tornTail ? 1 : 0)} corrupt stretch(es) of acknowledged records`
  return tornTail ? `${corrupt} and ${incomplete}` : corrupt
}

function countLines(chunks: readonly EncodedChunk[]): number {
  let count = 0
  for (const chunk of chunks) count += chunkLineCount(chunk)
  return count
}
