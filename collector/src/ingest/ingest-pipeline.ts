import { ExportRejectedError } from '../otlp/errors.js'
import type { MappedRows } from '../store/rows.js'
import type { Store } from '../store/store.js'
import type { IngestMetrics } from './ingest-metrics.js'
import type { Spool } from './spool.js'

/** Batching and durability settings; every field has a default. */
export interface IngestPipelineOptions {
  /** Longest a span waits in memory before its batch is written. Default 1000 ms. */
  flushIntervalMs?: number
  /** A batch is written as soon as it holds this many spans. Default 20000. */
  maxBatchSpans?: number
  /**
   * Under load, a batch of at least this many spans is written as soon as fewer than
   * `maxConcurrentInserts` writes are running, instead of waiting for the interval. Default 2000.
   */
  minBatchSpans?: number
  /** Batch writes running at once. Default 2. */
  maxConcurrentInserts?: number
  /** New requests get 429 while this many request bytes are buffered or being written. Default 128 MiB. */
  maxBufferedBytes?: number
  /** New requests get 503 once the spool holds this many bytes (ClickHouse has been away for long). Default 1 GiB. */
  maxSpoolBytes?: number
  /** How often the spool is offered to ClickHouse while it holds batches. Default 2000 ms. */
  replayIntervalMs?: number
}

interface PendingBatch {
  rows: MappedRows
  spanCount: number
  bytes: number
  waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }>
}

const RETRY_AFTER_SECONDS = 2

function emptyBatch(): PendingBatch {
  return { rows: { spans: [], runs: [], outcomes: [] }, spanCount: 0, bytes: 0, waiters: [] }
}

/**
 * Coalesces many small export requests into few large inserts (ClickHouse wants thousands of rows
 * per insert and about one insert per second per table), and acknowledges a request only once its
 * rows are durable: committed in ClickHouse, or fsynced to the spool when ClickHouse is away.
 */
export class IngestPipeline {
  private readonly flushIntervalMs: number
  private readonly maxBatchSpans: number
  private readonly minBatchSpans: number
  private readonly maxConcurrentInserts: number
  private readonly maxBufferedBytes: number
  private readonly maxSpoolBytes: number
  private current = emptyBatch()
  private timer: NodeJS.Timeout | undefined
  private readonly replayTimer: NodeJS.Timeout
  private inFlightBytes = 0
  private readonly writes = new Set<Promise<void>>()
  private replaying: Promise<void> | undefined
  private closed = false

  constructor(
    private readonly store: Store,
    private readonly spool: Spool,
    private readonly metrics: IngestMetrics,
    options: IngestPipelineOptions = {},
  ) {
    this.flushIntervalMs = Math.max(1, options.flushIntervalMs ?? 1000)
    this.maxBatchSpans = Math.max(1, options.maxBatchSpans ?? 20_000)
    this.minBatchSpans = Math.min(this.maxBatchSpans, Math.max(1, options.minBatchSpans ?? 2000))
    this.maxConcurrentInserts = Math.max(1, options.maxConcurrentInserts ?? 2)
    this.maxBufferedBytes = Math.max(1, options.maxBufferedBytes ?? 128 * 1024 * 1024)
    this.maxSpoolBytes = Math.max(1, options.maxSpoolBytes ?? 1024 * 1024 * 1024)
    this.replayTimer = setInterval(
      () => void this.replaySpool(),
      Math.max(10, options.replayIntervalMs ?? 2000),
    )
    this.replayTimer.unref()
    this.updateGauges()
  }

  /**
   * Takes one request's rows. Resolves once they are durable; rejects with ExportRejectedError
   * (overloaded or unavailable, with a retry hint) when they cannot be taken now.
   */
  accept(rows: MappedRows, bytes: number): Promise<void> {
    if (this.closed) {
      return Promise.reject(
        new ExportRejectedError('unavailable', 'The collector is shutting down.', { retryAfterSeconds: 1 }),
      )
    }
    if (this.spool.size >= this.maxSpoolBytes) {
      return Promise.reject(
        new ExportRejectedError('unavailable', 'ClickHouse is unreachable and the local spool is full.', {
          retryAfterSeconds: 30,
        }),
      )
    }
    // Backpressure instead of growing: the sender retries later, and nothing acknowledged is at risk.
    if (this.bufferedBytes() > 0 && this.bufferedBytes() + bytes > this.maxBufferedBytes) {
      return Promise.reject(
        new ExportRejectedError('overloaded', 'The collector is busy writing; retry shortly.', {
          retryAfterSeconds: RETRY_AFTER_SECONDS,
        }),
      )
    }
    if (rows.spans.length === 0 && rows.runs.length === 0 && rows.outcomes.length === 0)
      return Promise.resolve()
    const batch = this.current
    for (const span of rows.spans) batch.rows.spans.push(span)
    for (const run of rows.runs) batch.rows.runs.push(run)
    for (const outcome of rows.outcomes) batch.rows.outcomes.push(outcome)
    batch.spanCount += rows.spans.length
    batch.bytes += bytes
    const durable = new Promise<void>((resolve, reject) => batch.waiters.push({ resolve, reject }))
    if (this.shouldFlushNow()) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), this.flushIntervalMs)
    this.updateGauges()
    return durable
  }

  /** Writes what is buffered now; resolves when every write started so far has finished. */
  async flushAll(): Promise<void> {
    this.flush()
    await Promise.all([...this.writes])
  }

  /** Stops taking requests, then makes everything acknowledged or buffered durable. */
  async shutdown(): Promise<void> {
    this.closed = true
    clearInterval(this.replayTimer)
    await this.flushAll()
    await this.replaying
  }

  /**
   * Group commit: a full batch goes at once; a reasonably large one goes as soon as a write slot
   * is free. Busy collectors thus write large batches back to back, and quiet ones about once per
   * flush interval, as ClickHouse prefers.
   */
  private shouldFlushNow(): boolean {
    const spans = this.current.spanCount
    if (spans >= this.maxBatchSpans) return true
    return spans >= this.minBatchSpans && this.writes.size < this.maxConcurrentInserts
  }

  private bufferedBytes(): number {
    return this.current.bytes + this.inFlightBytes
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.current
    if (batch.waiters.length === 0) return
    this.current = emptyBatch()
    this.inFlightBytes += batch.bytes
    const write = this.write(batch).finally(() => {
      this.inFlightBytes -= batch.bytes
      this.writes.delete(write)
      if (this.shouldFlushNow()) this.flush()
      this.updateGauges()
    })
    this.writes.add(write)
  }

  private async write(batch: PendingBatch): Promise<void> {
    let destination: 'clickhouse' | 'spool'
    try {
      // While older batches wait in the spool, newer ones queue behind them, in order.
      if (this.spool.depth > 0) throw new Error('spool not empty')
      await this.insert(batch.rows)
      destination = 'clickhouse'
    } catch {
      try {
        await this.spool.write(batch.rows)
        destination = 'spool'
      } catch (spoolError) {
        const error = new ExportRejectedError(
          'unavailable',
          'ClickHouse is unreachable and the spool cannot be written.',
          {
            retryAfterSeconds: 10,
            cause: spoolError,
          },
        )
        for (const waiter of batch.waiters) waiter.reject(error)
        return
      }
    }
    this.metrics.batches.inc({ destination })
    this.metrics.spansAccepted.inc(batch.spanCount)
    for (const waiter of batch.waiters) waiter.resolve()
  }

  private async insert(rows: MappedRows): Promise<void> {
    const stopTimer = this.metrics.insertSeconds.startTimer()
    try {
      await Promise.all([
        this.store.insert('spans', rows.spans),
        this.store.insert('runs', rows.runs),
        this.store.insert('outcomes', rows.outcomes),
      ])
      stopTimer()
    } catch (error) {
      this.metrics.insertFailures.inc()
      throw error
    }
  }

  /** Offers spooled batches to ClickHouse, oldest first, until one fails. */
  replaySpool(): Promise<void> {
    if (this.replaying || this.spool.depth === 0) return this.replaying ?? Promise.resolve()
    this.replaying = (async () => {
      try {
        for (const name of await this.spool.pending()) {
          await this.insert(await this.spool.read(name))
          await this.spool.remove(name)
          this.metrics.batches.inc({ destination: 'replay' })
          this.updateGauges()
        }
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
    this.metrics.bufferedBytes.set(this.bufferedBytes())
    this.metrics.spoolBatches.set(this.spool.depth)
    this.metrics.spoolBytes.set(this.spool.size)
  }
}
