import { ApiKeyResolver } from '../auth/api-keys.js'
import { ExportRejectedError } from '../otlp/errors.js'
import { type ExportOutcome, exportOutcomeOf, type OtlpEncoding } from '../otlp/export-response.js'
import type { IngestMetrics } from './ingest-metrics.js'
import { type Admission, type IngestPipeline, shuttingDown } from './ingest-pipeline.js'
import type { EncodedBatch, PreparedRequest, PrepareRequest } from './prepare-request.js'
import type { WalRecord } from './write-ahead-log.js'

export interface ExportHandlerDependencies {
  keys: ApiKeyResolver
  pipeline: IngestPipeline
  /** Decodes, maps and encodes a body: in an ingest worker, or on the event loop (prepare-request.ts). */
  prepare: PrepareRequest
  metrics: IngestMetrics
  decodes: DecodeLimiter
}

/** The project that owns the request's key; refuses the request when there is none. */
export async function authenticate(keys: ApiKeyResolver, authorization: string | undefined): Promise<string> {
  const key = ApiKeyResolver.keyFromHeader(authorization)
  if (!key) {
    throw new ExportRejectedError(
      'unauthenticated',
      authorization?.trim()
        ? 'The Authorization header is not "Bearer <key>": send the key after the word Bearer.'
        : 'Missing API key: send the header "Authorization: Bearer <key>".',
    )
  }
  let projectId: string | undefined
  try {
    projectId = await keys.projectFor(key)
  } catch (error) {
    throw new ExportRejectedError(
      'unavailable',
      'ClickHouse is unreachable, so the API key cannot be checked.',
      {
        retryAfterSeconds: 5,
        cause: error,
      },
    )
  }
  if (!projectId) throw new ExportRejectedError('unauthenticated', 'Unknown or revoked API key.')
  const retryAfterSeconds = keys.throttle(key)
  if (retryAfterSeconds > 0) {
    const { requestsPerSecond, burst } = keys.rateLimit
    throw new ExportRejectedError(
      'overloaded',
      `This API key is over its rate limit of ${requestsPerSecond} requests/s (bursts of ${burst}); retry later.`,
      { retryAfterSeconds },
    )
  }
  return projectId
}

/**
 * Bounds the requests being read, decoded, mapped and encoded at once: each holds its body and
 * its decoded spans, so without a bound a burst of large requests holds all of theirs together.
 * Requests beyond the bound wait their turn; beyond `maxWaiting` they get 429.
 */
export class DecodeLimiter {
  private running = 0
  private readonly waiting: Array<() => void> = []

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxWaiting: number,
  ) {}

  /** Resolves with a release function once the request may go on. */
  async acquire(): Promise<() => void> {
    if (this.running >= this.maxConcurrent) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new ExportRejectedError('overloaded', 'The collector is busy decoding; retry shortly.', {
          retryAfterSeconds: 1,
        })
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    } else {
      this.running += 1
    }
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.waiting.shift()
      // The slot passes straight to the next waiter.
      if (next) next()
      else this.running -= 1
    }
  }
}

/**
 * The transport-independent core of an export, for an authenticated project: read the body and
 * prepare it (decode, map, encode; in an ingest worker when there are any) within the decode
 * bound, and hand the rows to the pipeline; resolves once they are durable.
 */
export async function acceptExport(
  dependencies: ExportHandlerDependencies,
  projectId: string,
  encoding: OtlpEncoding,
  readBody: () => Promise<Uint8Array> | Uint8Array,
): Promise<ExportOutcome & { acceptedSpans: number }> {
  dependencies.metrics.exportsInProgress.inc()
  try {
    return await acceptCounted(dependencies, projectId, encoding, readBody)
  } finally {
    dependencies.metrics.exportsInProgress.dec()
  }
}

async function acceptCounted(
  dependencies: ExportHandlerDependencies,
  projectId: string,
  encoding: OtlpEncoding,
  readBody: () => Promise<Uint8Array> | Uint8Array,
): Promise<ExportOutcome & { acceptedSpans: number }> {
  const { metrics } = dependencies
  const arrivedAt = Date.now()
  // The slot is held while the request waits for a worker, and for room in the buffer, too: it
  // bounds the bodies and rows in flight, however many requests arrive.
  const release = await dependencies.decodes.acquire()
  let prepared: PreparedRequest
  let durable: Promise<void>
  let admitted: Admission | undefined
  try {
    const read = await untilStopping(readBody(), dependencies.pipeline.stopping)
    // Waits here for room, and is refused here when none comes: a request under backpressure
    // costs no decoding.
    admitted = await dependencies.pipeline.admit(read.byteLength, arrivedAt)
    const ingestedAt = Date.now()
    // A worker takes the body and hands it back: `body` is the one the log gets.
    const { prepared: result, body } = await dependencies.prepare({
      projectId,
      encoding,
      body: read,
      ingestedAt,
    })
    prepared = result
    metrics.spansReceived.inc(prepared.acceptedSpans + prepared.rejectedSpans)
    if (prepared.rejectedSpans > 0) metrics.spansRejected.inc(prepared.rejectedSpans)
    const record: WalRecord = { projectId, encoding, body, ingestedAt }
    durable = dependencies.pipeline.accept(record, prepared.rows)
  } finally {
    // The rows are encoded and buffered (counted by the pipeline's own bound): the next may decode.
    admitted?.()
    release()
  }
  await durable
  return { ...exportOutcomeOf(prepared), acceptedSpans: prepared.acceptedSpans }
}

/**
 * A body still arriving when the collector begins to stop is not waited for: its sender is told at
 * once to retry (another collector, or this one restarted), instead of being cut off without an
 * answer when the shutdown's grace period ends (a slow upload). The read itself is left to end.
 */
function untilStopping(body: Promise<Uint8Array> | Uint8Array, stopping: AbortSignal): Promise<Uint8Array> {
  const pending = Promise.resolve(body)
  if (stopping.aborted) {
    pending.catch(() => {})
    return Promise.reject(shuttingDown())
  }
  return new Promise((resolve, reject) => {
    const onStop = () => reject(shuttingDown())
    stopping.addEventListener('abort', onStop, { once: true })
    pending.then(resolve, reject).finally(() => stopping.removeEventListener('abort', onStop))
  })
}

/** Prepares a logged request body again, exactly as when it arrived (for replay). */
export async function materializeRecord(prepare: PrepareRequest, record: WalRecord): Promise<EncodedBatch> {
  const { prepared } = await prepare({
    projectId: record.projectId,
    encoding: record.encoding,
    body: record.body,
    ingestedAt: record.ingestedAt,
  })
  return prepared.rows
}
