import { ExportRejectedError } from '../otlp/errors.js'
import { type MappedRows, OUTCOME_COLUMNS, RUN_COLUMNS, SPAN_COLUMNS } from '../store/rows.js'
import { appendEncoded, type EncodedRows, encodeRows, type Store } from '../store/store.js'
import type { IngestMetrics } from './ingest-metrics.js'
import type { WalRecord, WriteAheadLog } from './write-ahead-log.js'

/** Batching and durability settings; every field has a default. */
export interface IngestPipelineOptions {
  /** Longest rows wait in memory before their batch is written to ClickHouse. Default 1000 ms. */
  flushIntervalMs?: number
  /** A batch is written as soon as it holds this many spans. Default 20000. */
  maxBatchSpans?: number
  /** Batch writes to ClickHouse running at once. Default 2. */
  maxConcurrentInserts?: number
  /** New requests get 429 while this many request bytes wait for ClickHouse in memory. Default 32 MiB. */
  maxBufferedBytes?: number
  /** New requests get 503 once the write-ahead log holds this many bytes (ClickHouse away for long). Default 1 GiB. */
  maxLogBytes?: number
  /** How often the log is offered to ClickHouse while ClickHouse is behind. Default 2000 ms. */
  replayIntervalMs?: number
}

/** Turns a logged record back into rows (decode and map), for replay. */
export type Materialize = (record: WalRecord) => MappedRows

/** Rows of one or more requests, encoded per table as they arrive. */
interface EncodedBatch {
  spans: EncodedRows
  runs: EncodedRows
  outcomes: EncodedRows
}

interface Batch extends EncodedBatch {
  bytes: number
}

function emptyBatch(): Batch {
  return {
    spans: { columns: SPAN_COLUMNS, chunks: [], count: 0 },
    runs: { columns: RUN_COLUMNS, chunks: [], count: 0 },
    outcomes: { columns: OUTCOME_COLUMNS, chunks: [], count: 0 },
    bytes: 0,
  }
}

function appendRows(target: EncodedBatch, rows: MappedRows): void {
  appendEncoded(target.spans, encodeRows(rows.spans, SPAN_COLUMNS))
  appendEncoded(target.runs, encodeRows(rows.runs, RUN_COLUMNS))
  appendEncoded(target.outcomes, encodeRows(rows.outcomes, OUTCOME_COLUMNS))
}

/**
 * Acknowledges an export once its body is fsynced in the write-ahead log, and feeds ClickHouse
 * large batches (thousands of rows per insert, about one insert per second per table, as
 * ClickHouse prefers) behind it. A segment of the log is deleted only once ClickHouse has
 * committed every row logged in it; what ClickHouse could not take is replayed from the log.
 */
export class IngestPipeline {
  private readonly flushIntervalMs: number
  private readonly maxBatchSpans: number
  private readonly maxConcurrentInserts: number
  private readonly maxBufferedBytes: number
  private readonly maxLogBytes: number
  private current = emptyBatch()
  private timer: NodeJS.Timeout | undefined
  private readonly replayTimer: NodeJS.Timeout
  private inFlightBytes = 0
  private readonly writes = new Set<Promise<void>>()
  /** Segments being inserted straight from memory; replay leaves them alone. */
  private readonly inserting = new Set<string>()
  /** False after a failed insert, until replay has caught up: new batches then wait in the log. */
  private healthy = true
  private replaying: Promise<void> | undefined
  private closed = false

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
    this.maxLogBytes = Math.max(1, options.maxLogBytes ?? 1024 * 1024 * 1024)
    // Segments left by an earlier process hold acknowledged data: ClickHouse gets them first.
    if (log.pending().length > 0) this.healthy = false
    this.replayTimer = setInterval(() => void this.replay(), Math.max(10, options.replayIntervalMs ?? 2000))
    this.replayTimer.unref()
    this.updateGauges()
  }

  /**
   * Takes one request: logs its body and buffers its rows. Resolves once the body is on disk;
   * rejects with ExportRejectedError (overloaded or unavailable, with a retry hint) when the
   * request cannot be taken now.
   */
  async accept(record: WalRecord, rows: MappedRows): Promise<void> {
    if (this.closed) {
      throw new ExportRejectedError('unavailable', 'The collector is shutting down.', {
        retryAfterSeconds: 1,
      })
    }
    if (this.log.size >= this.maxLogBytes) {
      throw new ExportRejectedError('unavailable', 'ClickHouse is unreachable and the local log is full.', {
        retryAfterSeconds: 30,
      })
    }
    const bytes = record.body.byteLength
    // Backpressure instead of growing: the sender retries later, and nothing acknowledged is at risk.
    const buffered = this.current.bytes + this.inFlightBytes
    if (buffered > 0 && buffered + bytes > this.maxBufferedBytes) {
      throw new ExportRejectedError('overloaded', 'The collector is busy writing; retry shortly.', {
        retryAfterSeconds: 2,
      })
    }
    if (rows.spans.length === 0 && rows.runs.length === 0 && rows.outcomes.length === 0) return
    // The log append and the buffering happen in the same tick, so a sealed segment and the batch
    // cut with it always hold the same requests.
    const durable = this.log.append(record)
    appendRows(this.current, rows)
    this.current.bytes += bytes
    if (this.current.spans.count >= this.maxBatchSpans && this.writes.size < this.maxConcurrentInserts)
      this.flush()
    else this.timer ??= setTimeout(() => this.flush(), this.flushIntervalMs)
    this.updateGauges()
    try {
      await durable
    } catch (error) {
      throw new ExportRejectedError('unavailable', 'The local write-ahead log cannot be written.', {
        retryAfterSeconds: 10,
        cause: error,
      })
    }
    this.metrics.spansAccepted.inc(rows.spans.length)
  }

  /** Writes everything buffered and replays what waits in the log; resolves when ClickHouse has it (or refused it). */
  async flushAll(): Promise<void> {
    this.flush()
    await Promise.all([...this.writes])
    await this.replay()
  }

  /** Stops taking requests, then offers everything buffered to ClickHouse; what it refuses stays in the log. */
  async shutdown(): Promise<void> {
    this.closed = true
    clearInterval(this.replayTimer)
    this.flush()
    await Promise.all([...this.writes])
    await this.replaying
    await this.log.close()
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.current
    if (batch.spans.count === 0 && batch.runs.count === 0 && batch.outcomes.count === 0) return
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
    })
    this.writes.add(write)
  }

  private async write(batch: Batch, segment: string): Promise<void> {
    await this.log.settled(segment)
    // While older segments wait for replay, newer ones queue behind them in the log.
    if (!this.healthy) return
    try {
      await this.insert(batch)
      await this.log.remove(segment)
      this.metrics.batches.inc({ destination: 'clickhouse' })
    } catch {
      this.healthy = false
    }
  }

  private async insert(batch: EncodedBatch): Promise<void> {
    const stopTimer = this.metrics.insertSeconds.startTimer()
    try {
      await Promise.all([
        this.store.insertEncoded('spans', batch.spans),
        this.store.insertEncoded('runs', batch.runs),
        this.store.insertEncoded('outcomes', batch.outcomes),
      ])
      stopTimer()
    } catch (error) {
      this.metrics.insertFailures.inc()
      throw error
    }
  }

  /** Offers logged segments to ClickHouse, oldest first, until one fails; healthy again once all are in. */
  replay(): Promise<void> {
    if (this.replaying) return this.replaying
    const waiting = this.log.pending().filter((segment) => !this.inserting.has(segment))
    if (waiting.length === 0) {
      if (this.inserting.size === 0) this.healthy = true
      return Promise.resolve()
    }
    this.replaying = (async () => {
      try {
        for (const segment of waiting) {
          await this.log.settled(segment)
          const batch = emptyBatch()
          for (const record of await this.log.read(segment)) appendRows(batch, this.materialize(record))
          await this.insert(batch)
          await this.log.remove(segment)
          this.metrics.batches.inc({ destination: 'replay' })
          this.updateGauges()
        }
        this.healthy = true
      } catch {
        // ClickHouse is still away; the next tick tries again.
      } finally {
        this.replaying = undefined
        this.updateGauges()
      }
    })()
    return this.replaying
  }

  private updateGauges(): void {
    this.metrics.bufferedBytes.set(this.current.bytes + this.inFlightBytes)
    this.metrics.walSegments.set(this.log.depth)
    this.metrics.walBytes.set(this.log.size)
  }
}
