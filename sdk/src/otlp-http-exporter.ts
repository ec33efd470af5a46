import http from 'node:http'
import https from 'node:https'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import { type ExportResult, ExportResultCode } from '@opentelemetry/core'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace'
import { debugLog, describeError } from './diagnostics.js'
import { decodePartialSuccess, encodeTraceRequest } from './otlp-protobuf.js'
import { SDK_NAME, SDK_VERSION } from './version.js'

const gzipAsync = promisify(gzip)

export interface OtlpHttpExporterOptions {
  /** The collector's base URL; spans are posted to `{endpoint}/v1/traces`. */
  endpoint: string
  /** Sent as `Authorization: Bearer <apiKey>`; it selects the project the spans belong to. */
  apiKey?: string
  /** Extra request headers. */
  headers?: Record<string, string>
  /** `gzip` (default) trades a little background CPU for far fewer bytes. */
  compression?: 'gzip' | 'none'
  /** Time allowed for one HTTP attempt. Default 10 s. */
  timeoutMs?: number
  /** Attempts per batch, the first included. Default 5. */
  maxAttempts?: number
  /** First retry delay; it doubles per attempt, with jitter. Default 500 ms. */
  initialBackoffMs?: number
  /** Longest wait between attempts, including a server's `Retry-After`. Default 30 s. */
  maxBackoffMs?: number
}

/** What happened to one batch, for the processor's counters. */
export interface BatchDelivery {
  delivered: boolean
  /** Attempts after the first. */
  retries: number
  error?: string
  /**
   * Spans of a delivered batch that the collector refused (OTLP partial_success: a span over its
   * limits, say). They are not stored and a retry would be refused alike.
   */
  rejectedSpans?: number
  /** What the collector said about the batch's spans (partial_success's error_message). */
  note?: string
}

type PostAnswer =
  | { ok: true; rejectedSpans: number; note: string }
  | { ok: false; retryable: boolean; retryAfterMs?: number; error: string }

/** The most of an answer's body read for its partial_success; an OTLP answer is a few bytes. */
const MAX_ANSWER_BYTES = 64 * 1024

/** The partial_success of an ExportTraceServiceResponse body (empty for a full success or an unreadable body). */
function partialSuccessOf(body: Uint8Array): { rejectedSpans: number; note: string } {
  if (body.byteLength === 0) return { rejectedSpans: 0, note: '' }
  try {
    const partial = decodePartialSuccess(body)
    return { rejectedSpans: partial.rejectedSpans, note: partial.errorMessage }
  } catch {
    return { rejectedSpans: 0, note: '' }
  }
}

/** Retrying is pointless for other 4xx answers: the same bytes get the same answer. */
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504])

/**
 * OTLP/HTTP protobuf exporter to the daa collector (or any OTLP endpoint), with the retry policy
 * the OTLP spec asks for: exponential backoff with jitter on network errors, 429 and 5xx, honouring
 * `Retry-After`. It never throws; an abort signal lets `shutdown()` cut retries at its deadline.
 */
export class OtlpHttpExporter implements SpanExporter {
  readonly url: string
  readonly #headers: Record<string, string>
  readonly #gzip: boolean
  readonly #timeoutMs: number
  readonly #maxAttempts: number
  readonly #initialBackoffMs: number
  readonly #maxBackoffMs: number
  readonly #shutdownController = new AbortController()
  /** Undefined when the endpoint is not a URL: every batch then fails, counted, instead of throwing. */
  readonly #target: URL | undefined
  readonly #transport: typeof http | typeof https
  /** Node's agent unrefs idle kept-alive sockets, so an idle exporter never keeps a process alive. */
  readonly #agent: http.Agent

  constructor(options: OtlpHttpExporterOptions) {
    this.url = tracesUrl(options.endpoint)
    this.#target = URL.canParse(this.url) ? new URL(this.url) : undefined
    if (!this.#target) debugLog(`the endpoint ${options.endpoint} is not a URL; spans will not be sent`)
    this.#transport = this.#target?.protocol === 'https:' ? https : http
    this.#agent = new this.#transport.Agent({ keepAlive: true, maxSockets: 2 })
    this.#headers = {
      ...options.headers,
      'content-type': 'application/x-protobuf',
      'user-agent': `${SDK_NAME}/${SDK_VERSION}`,
    }
    if (options.apiKey) this.#headers.authorization = `Bearer ${options.apiKey}`
    this.#gzip = options.compression !== 'none'
    if (this.#gzip) this.#headers['content-encoding'] = 'gzip'
    this.#timeoutMs = clampInteger(options.timeoutMs, 10_000, 100, 120_000)
    this.#maxAttempts = clampInteger(options.maxAttempts, 5, 1, 20)
    this.#initialBackoffMs = clampInteger(options.initialBackoffMs, 500, 1, 60_000)
    this.#maxBackoffMs = clampInteger(options.maxBackoffMs, 30_000, this.#initialBackoffMs, 600_000)
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.deliver(spans).then(
      (delivery) =>
        resultCallback(
          delivery.delivered
            ? { code: ExportResultCode.SUCCESS }
            : { code: ExportResultCode.FAILED, error: new Error(delivery.error) },
        ),
      (error: unknown) => resultCallback({ code: ExportResultCode.FAILED, error: toError(error) }),
    )
  }

  /** Sends one batch, retrying as the server allows, until delivered, refused, out of tries or aborted. */
  async deliver(spans: ReadableSpan[], abort?: AbortSignal): Promise<BatchDelivery> {
    if (!this.#target) return { delivered: false, retries: 0, error: `invalid endpoint ${this.url}` }
    let body: Uint8Array
    try {
      const encoded = encodeTraceRequest(spans)
      body = this.#gzip ? await gzipAsync(encoded) : encoded
    } catch (error) {
      return { delivered: false, retries: 0, error: `spans could not be encoded: ${describeError(error)}` }
    }
    const signal = abort
      ? AbortSignal.any([abort, this.#shutdownController.signal])
      : this.#shutdownController.signal
    let lastError = ''
    let attemptsMade = 0
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      if (signal.aborted) break
      attemptsMade = attempt
      const answer = await this.#post(body, signal)
      if (answer.ok) {
        return {
          delivered: true,
          retries: attempt - 1,
          ...(answer.rejectedSpans > 0
            ? { rejectedSpans: Math.min(answer.rejectedSpans, spans.length) }
            : {}),
          ...(answer.note ? { note: answer.note } : {}),
        }
      }
      lastError = answer.error
      if (!answer.retryable || attempt === this.#maxAttempts) break
      const backoff = this.#backoffMs(attempt, answer.retryAfterMs)
      debugLog(`export attempt ${attempt} failed (${answer.error}); retrying in ${backoff} ms`)
      if (!(await sleep(backoff, signal))) break
    }
    if (signal.aborted) lastError ||= 'export aborted by shutdown'
    return { delivered: false, retries: Math.max(0, attemptsMade - 1), error: lastError || 'export aborted' }
  }

  async shutdown(): Promise<void> {
    this.#shutdownController.abort()
    // Kept-alive connections would otherwise hold a finished process open until they time out.
    this.#agent.destroy()
  }

  async forceFlush(): Promise<void> {}

  /** One attempt. Errors become answers: this never rejects. */
  #post(body: Uint8Array, signal: AbortSignal): Promise<PostAnswer> {
    return new Promise<PostAnswer>((resolve) => {
      const refused = (error: unknown) =>
        resolve({ ok: false, retryable: !signal.aborted, error: describeError(error) })
      try {
        const request = this.#transport.request(this.#target!, {
          method: 'POST',
          agent: this.#agent,
          headers: { ...this.#headers, 'content-length': String(body.byteLength) },
          signal: AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]),
        })
        request.on('error', refused)
        request.on('response', (response) => {
          const status = response.statusCode ?? 0
          // Reading the body to its end frees the connection for the next batch; a success's body
          // says which spans were refused (partial_success).
          const chunks: Buffer[] = []
          let bytes = 0
          response.on('data', (chunk: Buffer) => {
            bytes += chunk.byteLength
            if (status >= 200 && status < 300 && bytes <= MAX_ANSWER_BYTES) chunks.push(chunk)
          })
          response.on('error', refused)
          response.on('end', () => {
            if (status >= 200 && status < 300) {
              return resolve({
                ok: true,
                ...partialSuccessOf(bytes <= MAX_ANSWER_BYTES ? Buffer.concat(chunks) : new Uint8Array()),
              })
            }
            const retryAfter = response.headers['retry-after']
            resolve({
              ok: false,
              retryable: RETRYABLE_STATUS.has(status),
              retryAfterMs: parseRetryAfter(typeof retryAfter === 'string' ? retryAfter : null),
              error: `HTTP ${status} from ${this.url}`,
            })
          })
        })
        request.end(body)
      } catch (error) {
        refused(error)
      }
    })
  }

  #backoffMs(attempt: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, this.#maxBackoffMs)
    const ceiling = Math.min(this.#maxBackoffMs, this.#initialBackoffMs * 2 ** (attempt - 1))
    // Half fixed, half random: spreads a fleet's retries without ever retrying instantly.
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2))
  }
}

/** Accepts a base URL or one that already ends in `/v1/traces`. */
export function tracesUrl(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, '')
  return trimmed.endsWith('/v1/traces') ? trimmed : `${trimmed}/v1/traces`
}

/** `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined
  const trimmed = header.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

export function clampInteger(value: unknown, fallback: number, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return fallback
  return Math.min(max, Math.max(min, Math.round(value)))
}

/** Waits without keeping the process alive; resolves false when aborted first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false)
    const onAbort = () => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    timer.unref()
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(describeError(error))
}
