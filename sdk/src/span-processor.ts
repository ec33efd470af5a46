import { type Context, TraceFlags } from '@opentelemetry/api'
import { ExportResultCode } from '@opentelemetry/core'
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace'
import { DAA_RUN_AGENT, DAA_RUN_ID } from './attributes.js'
import { debugLog, describeError } from './diagnostics.js'
import {
  type BatchDelivery,
  clampInteger,
  OtlpHttpExporter,
  type OtlpHttpExporterOptions,
} from './otlp-http-exporter.js'
import { activeRunIn } from './run-context.js'

export interface DaaSpanProcessorOptions extends Partial<OtlpHttpExporterOptions> {
  /** Send spans here instead of OTLP/HTTP (tests, a console exporter, another backend). */
  exporter?: SpanExporter
  /** Spans held while waiting to be sent; past this, new spans are dropped and counted. Default 2048. */
  maxQueueSize?: number
  /** Spans per request. Default 512. */
  maxBatchSize?: number
  /** How long a span may wait for a batch to fill. Default 2 s. */
  flushIntervalMs?: number
}

/**
 * Counters that say whether telemetry is getting through, without any logging. Every span that
 * ended (and was sampled) is in exactly one of `queued`, `inFlight`, `exported`, `dropped` and
 * `failed`, so at any moment they add up to the spans ended so far.
 */
export interface TelemetryStats {
  /** Spans waiting to be sent now. */
  queued: number
  /** Spans in the request being sent now (one batch at most), retries included. */
  inFlight: number
  /** Spans the collector acknowledged. */
  exported: number
  /**
   * Spans the SDK gave up on for want of room or time: the queue was full, or shutdown's deadline
   * passed before they were through, whether they were still queued or in the request being sent
   * (the remedy is the same: a bigger queue, a longer deadline).
   */
  dropped: number
  /**
   * Spans the exporter gave up on: not acknowledged after all its attempts, or refused, the whole
   * batch (a bad API key) or spans the collector named in its answer (partial_success: a span over
   * its limits). `lastError` says why.
   */
  failed: number
  /** Extra attempts made for batches that failed at first. */
  retries: number
  /** The most recent export problem, if any. */
  lastError?: string
}

const SETTLE_AFTER_ABORT_MS = 100

const NO_STATS: TelemetryStats = Object.freeze({
  queued: 0,
  inFlight: 0,
  exported: 0,
  dropped: 0,
  failed: 0,
  retries: 0,
})

/**
 * The span processor daa needs in any OpenTelemetry setup. It does two things:
 * - stamps `daa.run.id` on every span started inside a daa run, including spans other libraries
 *   (Vercel AI SDK, HTTP clients, …) create, so they count toward the run;
 * - batches finished spans into a bounded queue and exports them in the background, one request at
 *   a time, a full batch as soon as it fills and a partial one when the flush interval has passed,
 *   counting what it had to drop instead of growing without limit or blocking the agent.
 *
 * Add it to your own provider (`new NodeTracerProvider({ spanProcessors: [new DaaSpanProcessor({ endpoint, apiKey })] })`),
 * or let `init()` build one.
 */
export class DaaSpanProcessor implements SpanProcessor {
  readonly #exporter: SpanExporter
  readonly #maxQueueSize: number
  readonly #maxBatchSize: number
  readonly #flushIntervalMs: number
  #queue: ReadableSpan[] = []
  /** Spans of the batch being exported: out of the queue, not yet counted as exported or lost. */
  #inFlight = 0
  #timer: NodeJS.Timeout | undefined
  #exportQueuedSoon = false
  #exporting: Promise<void> | undefined
  /**
   * Spans at the front of the queue that must go out now even in a partial batch: those queued when
   * the flush timer fired, or when flush() or shutdown() was called. Other spans wait for a full
   * batch, so spans that keep arriving while a batch is in flight do not go out a few at a time.
   */
  #owed = 0
  #shutdown = false
  /** Set once shutdown's deadline has passed: nothing more is sent. */
  #stopped = false
  #stats = { exported: 0, dropped: 0, failed: 0, retries: 0, lastError: undefined as string | undefined }
  /** Whether the last span was dropped for a full queue (debug says so once per run of drops). */
  #dropping = false

  constructor(options: DaaSpanProcessorOptions = {}) {
    this.#exporter =
      options.exporter ??
      new OtlpHttpExporter({
        ...options,
        endpoint: options.endpoint ?? process.env.DAA_ENDPOINT ?? 'http://localhost:4318',
        apiKey: options.apiKey ?? process.env.DAA_API_KEY,
      })
    // A size under 1 is no size: it takes the default, where clamping it to 1 would drop nearly
    // every span.
    const size = (value: unknown) => (typeof value === 'number' && value >= 1 ? value : undefined)
    this.#maxQueueSize = clampInteger(size(options.maxQueueSize), 2048, 1, 1_000_000)
    this.#maxBatchSize = clampInteger(size(options.maxBatchSize), 512, 1, this.#maxQueueSize)
    this.#flushIntervalMs = clampInteger(options.flushIntervalMs, 2000, 1, 60_000)
  }

  onStart(span: Span, parentContext: Context): void {
    if (span.attributes[DAA_RUN_ID] !== undefined) return
    const run = activeRunIn(parentContext)
    if (!run) return
    span.setAttribute(DAA_RUN_ID, run.id)
    if (run.agent) span.setAttribute(DAA_RUN_AGENT, run.agent)
  }

  onEnd(span: ReadableSpan): void {
    // Recorded but not sampled (a sampler's RECORD_ONLY): visible to the app, not to be exported.
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return
    if (this.#shutdown) {
      this.#stats.dropped++
      return
    }
    if (this.#queue.length >= this.#maxQueueSize) {
      // Said once per run of drops (the queue filling up again is said again), not once per span.
      if (!this.#dropping)
        debugLog(`the queue is full (${this.#maxQueueSize} spans): dropping spans until it drains`)
      this.#dropping = true
      this.#stats.dropped++
      return
    }
    this.#dropping = false
    this.#queue.push(span)
    // Every queued span has a timer pending, which owes it when it fires: a span that does not end
    // up in a full batch still goes out within the flush interval.
    if (this.#timer === undefined) this.#scheduleExport(this.#flushIntervalMs)
    if (this.#queue.length >= this.#maxBatchSize && !this.#exportQueuedSoon) {
      // A full batch goes out right after the current job, not inside the agent's span.end(), and
      // not after a timer either: a busy agent may not yield to timers for a while, and spans held
      // that long survive into the old generation, which makes every GC slower.
      this.#exportQueuedSoon = true
      queueMicrotask(this.#exportFullBatches)
    }
  }

  readonly #exportFullBatches = (): void => {
    this.#exportQueuedSoon = false
    void this.#drain()
  }

  /** Sends every span queued now (in partial batches if need be), then what fills a batch. */
  #drainOwed(): Promise<void> {
    this.#owed = Math.max(this.#owed, this.#queue.length)
    return this.#drain()
  }

  stats(): TelemetryStats {
    const { lastError, ...counts } = this.#stats
    const stats: TelemetryStats = { queued: this.#queue.length, inFlight: this.#inFlight, ...counts }
    if (lastError !== undefined) stats.lastError = lastError
    return stats
  }

  /** Sends everything queued now; resolves when done or after `timeoutMs`, never rejects. */
  async forceFlush(timeoutMs = 10_000): Promise<void> {
    await this.#drainWithin(timeoutMs)
  }

  /**
   * Stops accepting spans and sends what is queued, giving up at `timeoutMs`: whatever is not
   * through then, queued or in flight, is counted as dropped. Never rejects.
   */
  async shutdown(timeoutMs = 5000): Promise<void> {
    if (this.#shutdown) return
    this.#shutdown = true
    await this.#drainWithin(timeoutMs, () => {
      // Set before the abort below settles the export in flight, so the drain loop stops there.
      this.#stopped = true
    })
    this.#stopped = true
    try {
      // Aborts any export still retrying, including one a background drain started.
      await this.#exporter.shutdown()
    } catch (error) {
      debugLog('exporter shutdown failed', error)
    }
    // An aborted export settles at once; wait briefly so its spans are counted, not lost from stats.
    if (this.#exporting) await Promise.race([this.#exporting, delay(SETTLE_AFTER_ABORT_MS)])
    this.#stats.dropped += this.#queue.length
    this.#queue = []
    this.#owed = 0
  }

  #scheduleExport(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#drainOwed()
    }, delayMs)
    // Telemetry must not keep a finished agent process alive; shutdown() is the way to wait for it.
    this.#timer.unref()
  }

  /**
   * Exports full batches, and the owed spans, until neither is left. Only one drain runs at a time:
   * while one runs, the spans owed or queued meanwhile are its to send, and it checks for them
   * after each batch.
   */
  #drain(): Promise<void> {
    if (!this.#exporting && this.#hasBatchToSend()) this.#exporting = this.#exportQueued()
    return this.#exporting ?? Promise.resolve()
  }

  #hasBatchToSend(): boolean {
    return (
      !this.#stopped && this.#queue.length > 0 && (this.#owed > 0 || this.#queue.length >= this.#maxBatchSize)
    )
  }

  async #exportQueued(): Promise<void> {
    try {
      do {
        const batch = this.#queue.splice(0, this.#maxBatchSize)
        this.#owed = Math.max(0, this.#owed - batch.length)
        this.#inFlight = batch.length
        const delivery = await this.#exportBatch(batch)
        this.#inFlight = 0
        this.#count(batch.length, delivery)
      } while (this.#hasBatchToSend())
    } catch (error) {
      debugLog('span export loop failed', error)
    } finally {
      // In the same turn as the last check: spans owed after it start a new drain, never wait on
      // one that is ending. (#exportBatch returns a promise and never throws, so the loop always
      // yields at its first await, after #drain has stored it.)
      this.#exporting = undefined
    }
  }

  /** Drains the queue, waiting at most `timeoutMs`; `onDeadline` runs if the time runs out first. */
  async #drainWithin(timeoutMs: number, onDeadline?: () => void): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    let deadlineTimer: NodeJS.Timeout | undefined
    // This timer is deliberately not unref'd: the caller asked to wait, up to the deadline.
    const deadline = new Promise<void>((resolve) => {
      deadlineTimer = setTimeout(
        () => {
          onDeadline?.()
          resolve()
        },
        clampInteger(timeoutMs, 5000, 0, 600_000),
      )
    })
    try {
      await Promise.race([this.#drainOwed(), deadline])
    } catch (error) {
      debugLog('flush failed', error)
    } finally {
      clearTimeout(deadlineTimer)
    }
  }

  #exportBatch(batch: ReadableSpan[]): Promise<BatchDelivery> {
    if (this.#exporter instanceof OtlpHttpExporter) return this.#exporter.deliver(batch)
    return new Promise<BatchDelivery>((resolve) => {
      try {
        this.#exporter.export(batch, (result) =>
          resolve(
            result.code === ExportResultCode.SUCCESS
              ? { delivered: true, retries: 0 }
              : { delivered: false, retries: 0, error: describeError(result.error ?? 'export failed') },
          ),
        )
      } catch (error) {
        resolve({ delivered: false, retries: 0, error: describeError(error) })
      }
    })
  }

  #count(spans: number, delivery: BatchDelivery): void {
    this.#stats.retries += delivery.retries
    if (delivery.delivered) {
      const rejected = delivery.rejectedSpans ?? 0
      this.#stats.exported += spans - rejected
      if (rejected > 0) {
        this.#stats.failed += rejected
        this.#stats.lastError = `the collector refused ${rejected} of ${spans} spans: ${delivery.note ?? ''}`
        debugLog(this.#stats.lastError)
      } else if (delivery.note) debugLog(`the collector kept every span, and said: ${delivery.note}`)
      return
    }
    // The debug line names the counter the spans went to, as stats() will show them.
    if (this.#stopped) {
      // Cut off by shutdown's deadline (its abort, or a late answer): dropped like the spans queued
      // behind it, not failed, which would blame the collector for the deadline.
      this.#stats.dropped += spans
      this.#stats.lastError = `shutdown's deadline passed while ${spans} spans were being sent (${delivery.error})`
      debugLog(`dropped a batch of ${spans} spans: ${this.#stats.lastError}`)
    } else {
      this.#stats.failed += spans
      this.#stats.lastError = delivery.error
      debugLog(`a batch of ${spans} spans failed (counted in stats().failed): ${delivery.error}`)
    }
  }
}

export { NO_STATS }

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
