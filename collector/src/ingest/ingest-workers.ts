/**
 * A small pool of worker threads that prepare export requests (decode, map, encode: see
 * prepare-request.ts), so the event loop only reads bodies, checks keys, logs, acknowledges and
 * inserts. Bodies move to a worker and back without a copy (their ArrayBuffer is transferred); the
 * encoded rows come back by structured clone.
 *
 * A worker that dies (a crash, an out-of-memory, terminate()) fails the requests it held with a
 * retryable `unavailable` (503): none of them was logged, so none was acknowledged, and the
 * sender's retry goes to its replacement. Errors a worker raises for a request (a body that does
 * not decode) come back typed, so they are answered exactly as on the event loop.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { ModelPrice, PriceTable } from '../mapping/prices.js'
import { ExportRejectedError, type ExportRejectionKind, OtlpDecodeError } from '../otlp/errors.js'
import type { EncodedChunk, EncodedRows } from '../store/store.js'
import {
  type EncodedBatch,
  INSERT_COLUMNS,
  type PreparedRequest,
  type PrepareJob,
  type PrepareRequest,
  TABLES,
} from './prepare-request.js'

/** Settings of an IngestWorkerPool. */
export interface IngestWorkerPoolOptions {
  /** Worker threads (at least 1; 0 workers means no pool: use prepareInThread). */
  size: number
  /** The price table mapping applies; each worker rebuilds it from its entries. */
  prices: PriceTable
  /** Spans older than this many days are rejected (prepareRequest); 0: none. Default 0. */
  retentionDays?: number
  /** Receives what an operator should see (a worker that died and was replaced). Default: stderr. */
  onWarning?: (message: string) => void
  /** Called when a worker stops unexpectedly (before it is replaced). Default: nothing. */
  onWorkerExit?: () => void
  /**
   * Longest a worker may take over one request before it is stopped and replaced (its requests get
   * a retryable 503, never an acknowledgment), so a request that hangs a worker cannot hold its slot
   * for ever. A 64 MiB body takes well under a second. Default: JOB_TIMEOUT_MS (30 s).
   */
  jobTimeoutMs?: number
}

/** The default of `jobTimeoutMs`. */
export const JOB_TIMEOUT_MS = 30_000

/** A job as posted to a worker. */
export interface WorkerJob extends PrepareJob {
  id: number
}

/** A shared line whose shared text is an index into the table's `shared` list (strings are cloned one by one). */
type WireChunk = string | { head: string; shared: number; tail: string }

interface WireRows {
  chunks: WireChunk[]
  shared: string[]
  count: number
  bytes: number
}

/** A prepared request as it crosses the thread boundary. */
export interface WirePrepared {
  rows: Record<'spans' | 'runs' | 'outcomes', WireRows> & { bytes: number }
  acceptedSpans: number
  rejectedSpans: number
  rejectionMessages: string[]
}

export interface WireError {
  name: string
  message: string
  stack?: string
  kind?: ExportRejectionKind
  retryAfterSeconds?: number
}

/** What a worker posts: ready once loaded, then one answer per job (with the job's body, handed back). */
export type WorkerMessage =
  | { ready: true }
  | { id: number; body: Uint8Array; prepared: WirePrepared }
  | { id: number; body: Uint8Array; error: WireError }

/**
 * Encoded rows for the thread boundary. A large shared value (a resource's attributes) is one
 * string referenced by many lines; cloned line by line it would arrive once per line, so it
 * travels once, by index.
 */
export function preparedToWire(prepared: PreparedRequest): WirePrepared {
  const wireRows = (rows: EncodedRows): WireRows => {
    const shared: string[] = []
    const index = new Map<string, number>()
    const chunks = rows.chunks.map((chunk): WireChunk => {
      if (typeof chunk === 'string') return chunk
      let at = index.get(chunk.shared)
      if (at === undefined) {
        at = shared.push(chunk.shared) - 1
        index.set(chunk.shared, at)
      }
      return { head: chunk.head, shared: at, tail: chunk.tail }
    })
    return { chunks, shared, count: rows.count, bytes: rows.bytes }
  }
  const { rows } = prepared
  return {
    rows: {
      spans: wireRows(rows.spans),
      runs: wireRows(rows.runs),
      outcomes: wireRows(rows.outcomes),
      bytes: rows.bytes,
    },
    acceptedSpans: prepared.acceptedSpans,
    rejectedSpans: prepared.rejectedSpans,
    rejectionMessages: prepared.rejectionMessages,
  }
}

function preparedFromWire(wire: WirePrepared): PreparedRequest {
  const rows = { bytes: wire.rows.bytes } as EncodedBatch
  for (const table of TABLES) {
    const { chunks, shared, count, bytes } = wire.rows[table]
    rows[table] = {
      columns: INSERT_COLUMNS[table],
      chunks: chunks.map(
        (chunk): EncodedChunk =>
          typeof chunk === 'string'
            ? chunk
            : { head: chunk.head, shared: shared[chunk.shared]!, tail: chunk.tail },
      ),
      count,
      bytes,
    }
  }
  return {
    rows,
    acceptedSpans: wire.acceptedSpans,
    rejectedSpans: wire.rejectedSpans,
    rejectionMessages: wire.rejectionMessages,
  }
}

/** A worker's error for the thread boundary, keeping what turns it into a response. */
export function errorToWire(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) }
  const wire: WireError = { name: error.name, message: error.message, stack: error.stack }
  if (error instanceof ExportRejectedError) {
    wire.kind = error.kind
    wire.retryAfterSeconds = error.retryAfterSeconds
  }
  return wire
}

/** The same error class on this side, so the one place that answers errors (error-response.ts) answers it as before. */
function errorFromWire(wire: WireError): Error {
  let error: Error
  if (wire.name === 'OtlpDecodeError') error = new OtlpDecodeError(wire.message)
  else if (wire.name === 'ExportRejectedError' && wire.kind) {
    error = new ExportRejectedError(wire.kind, wire.message, { retryAfterSeconds: wire.retryAfterSeconds })
  } else error = new Error(wire.message)
  if (wire.stack) error.stack = wire.stack
  return error
}

/**
 * The worker's entry: the built `.js` beside this file. Where this file runs as TypeScript (the
 * tests run the sources under vitest), the `.ts` source, loaded through tsx's loader, which a
 * worker registers for itself (Node 20 does not apply `--import` hooks from a worker's execArgv).
 */
function workerEntry(): { script: string | URL; eval: boolean; file: string } {
  const typescript = import.meta.url.endsWith('.ts')
  const url = new URL(`./ingest-worker.${typescript ? 'ts' : 'js'}`, import.meta.url)
  if (!typescript) return { script: url, eval: false, file: url.pathname }
  // The ESM build of tsx's API (require.resolve would give its CommonJS build, which cannot register ESM hooks here).
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json')
  const { exports } = JSON.parse(readFileSync(tsxPackage, 'utf8'))
  const tsx = pathToFileURL(join(dirname(tsxPackage), exports['./esm/api'].import.default)).href
  const script = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(url.href)}) })`
  return { script, eval: true, file: url.pathname }
}

interface Pending {
  resolve: (value: { prepared: PreparedRequest; body: Uint8Array }) => void
  reject: (error: Error) => void
}

interface Slot {
  worker: Worker
  jobs: Map<number, Pending>
  ready: boolean
  /** Deadlines of requests posted before the worker had loaded: they start when it has. */
  armOnReady: Array<() => void>
  failure: Error | undefined
}

function writeWarning(message: string): void {
  process.stderr.write(`daa collector: ${message}\n`)
}

/** Worker threads that prepare export requests. A factory per collector, not a singleton. */
export class IngestWorkerPool {
  private readonly slots = new Set<Slot>()
  private readonly entry = workerEntry()
  private readonly prices: Array<[string, ModelPrice]>
  private readonly retentionDays: number
  private readonly warn: (message: string) => void
  private readonly jobTimeoutMs: number
  private nextId = 0
  private closed = false
  private readonly timers = new Set<NodeJS.Timeout>()

  private readonly onWorkerExit: () => void
  /** Worker threads kept running. */
  readonly size: number

  private constructor(options: IngestWorkerPoolOptions) {
    this.size = Math.max(1, Math.floor(options.size))
    this.prices = options.prices.entries()
    this.retentionDays = options.retentionDays ?? 0
    this.warn = options.onWarning ?? writeWarning
    this.onWorkerExit = options.onWorkerExit ?? (() => {})
    this.jobTimeoutMs = options.jobTimeoutMs ?? JOB_TIMEOUT_MS
  }

  /** Starts `size` workers; resolves once every one has loaded, rejects (stopping them) when one cannot start. */
  static async start(options: IngestWorkerPoolOptions): Promise<IngestWorkerPool> {
    const pool = new IngestWorkerPool(options)
    try {
      await Promise.all(Array.from({ length: pool.size }, () => pool.spawn()))
    } catch (error) {
      await pool.close()
      throw error
    }
    return pool
  }

  /** The live worker threads, for diagnostics (their heap, their event loop utilization). */
  get threads(): Worker[] {
    return [...this.slots].map((slot) => slot.worker)
  }

  /** Requests handed to workers and not yet answered. */
  get inFlight(): number {
    let count = 0
    for (const slot of this.slots) count += slot.jobs.size
    return count
  }

  /** Prepares a request in the least busy worker. */
  readonly prepare: PrepareRequest = (job) => {
    if (this.closed) {
      return Promise.reject(
        new ExportRejectedError('unavailable', 'The collector is shutting down.', { retryAfterSeconds: 1 }),
      )
    }
    let slot: Slot | undefined
    for (const candidate of this.slots) if (!slot || candidate.jobs.size < slot.jobs.size) slot = candidate
    if (!slot) {
      return Promise.reject(
        new ExportRejectedError('unavailable', 'No ingest worker is running; retry shortly.', {
          retryAfterSeconds: 1,
        }),
      )
    }
    const id = ++this.nextId
    // A body that owns its whole ArrayBuffer moves to the worker; a view into a larger one (a pooled
    // Buffer, a record in a log segment) would take the whole buffer along, so it is copied to its
    // own first. (new Uint8Array copies; Buffer's slice would not.)
    let body = job.body
    if (
      !(body.buffer instanceof ArrayBuffer) ||
      body.byteOffset !== 0 ||
      body.byteLength !== body.buffer.byteLength
    ) {
      body = new Uint8Array(body)
    }
    const message: WorkerJob = {
      id,
      projectId: job.projectId,
      encoding: job.encoding,
      body,
      ingestedAt: job.ingestedAt,
    }
    const target = slot
    return new Promise((resolve, reject) => {
      try {
        target.worker.postMessage(message, [body.buffer as ArrayBuffer])
      } catch (error) {
        // Not the request's fault (its body is plain bytes): retryable, and a replayed record stays logged.
        reject(
          new ExportRejectedError(
            'unavailable',
            'The request could not be handed to an ingest worker; retry.',
            {
              retryAfterSeconds: 1,
              cause: error,
            },
          ),
        )
        return
      }
      // A worker that has not answered by the deadline is stopped: its exit refuses what it held.
      // The deadline counts from when the worker has loaded (a replacement may still be loading).
      let deadline: NodeJS.Timeout | undefined
      const arm = () => {
        if (!target.jobs.has(id)) return
        deadline = setTimeout(() => {
          if (!target.jobs.has(id)) return
          target.failure ??= new Error(`it took over ${this.jobTimeoutMs} ms on one request`)
          void target.worker.terminate()
        }, this.jobTimeoutMs)
        deadline.unref()
      }
      const settled = () => clearTimeout(deadline)
      target.jobs.set(id, {
        resolve: (value) => {
          settled()
          resolve(value)
        },
        reject: (error) => {
          settled()
          reject(error)
        },
      })
      if (target.ready) arm()
      else target.armOnReady.push(arm)
      // A worker with work keeps the process alive until it answers; an idle one never does.
      if (target.jobs.size === 1) target.worker.ref()
    })
  }

  /** Stops every worker; requests they still hold fail with `unavailable`. Idempotent. */
  async close(): Promise<void> {
    this.closed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    await Promise.all([...this.slots].map((slot) => slot.worker.terminate()))
  }

  private spawn(): Promise<void> {
    const worker = new Worker(this.entry.script, {
      eval: this.entry.eval,
      workerData: { prices: this.prices, retentionDays: this.retentionDays },
      // The event loop's stack size (V8's default, under 1 MiB) rather than a worker's 4 MiB: a body
      // nested too deep to decode is refused alike in a worker and on the event loop (decode-json.ts).
      // The heap bounds the process was started with (the bin's shebang sets them), read from its
      // flags: a worker otherwise gets V8's defaults, sized from the machine's memory, and the
      // collector's memory is no longer bounded by its own flags. A worker out of heap dies and is
      // replaced.
      resourceLimits: { stackSizeMb: 1, ...heapLimitsOf(process.execArgv) },
      // The worker's own output (none expected) goes to the process's.
      stdout: false,
      stderr: false,
    })
    worker.unref()
    const slot: Slot = { worker, jobs: new Map(), ready: false, armOnReady: [], failure: undefined }
    this.slots.add(slot)
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (message: WorkerMessage) => {
        if ('ready' in message) {
          slot.ready = true
          for (const arm of slot.armOnReady.splice(0)) arm()
          resolve()
          return
        }
        const pending = slot.jobs.get(message.id)
        if (!pending) return
        slot.jobs.delete(message.id)
        if (slot.jobs.size === 0) worker.unref()
        if ('error' in message) pending.reject(errorFromWire(message.error))
        else pending.resolve({ prepared: preparedFromWire(message.prepared), body: message.body })
      })
      // Without a listener an uncaught error in a worker would throw here; the exit that follows handles it.
      worker.on('error', (error) => {
        slot.failure = error
      })
      worker.on('exit', (code) => {
        this.slots.delete(slot)
        const failure = new ExportRejectedError(
          'unavailable',
          this.closed
            ? 'The collector is shutting down.'
            : 'The ingest worker preparing this request stopped before it finished; retry.',
          { retryAfterSeconds: 1, cause: slot.failure },
        )
        const refused = slot.jobs.size
        for (const pending of slot.jobs.values()) pending.reject(failure)
        slot.jobs.clear()
        if (!slot.ready) {
          reject(
            new Error(
              `an ingest worker (${this.entry.file}) could not start: ${slot.failure?.message ?? `exit code ${code}`}`,
              { cause: slot.failure },
            ),
          )
        }
        if (this.closed) return
        this.onWorkerExit()
        this.warn(
          `an ingest worker stopped (${slot.failure?.message ?? `exit code ${code}`}); ` +
            `${refused} request(s) it held were refused with 503 (not acknowledged); it is replaced.`,
        )
        // One that died while loading is retried after a pause, not in a tight loop.
        const replace = () => void this.spawn().catch((error: Error) => this.warn(error.message))
        if (slot.ready) replace()
        else {
          const timer = setTimeout(() => {
            this.timers.delete(timer)
            replace()
          }, 1000)
          timer.unref()
          this.timers.add(timer)
        }
      })
    })
  }
}

/**
 * The worker heap limits that match the V8 heap flags in `flags` (a process's execArgv): the old
 * generation from --max-old-space-size, and the young one from --max-semi-space-size (V8's young
 * generation is three semi-spaces). A flag that is absent leaves V8's default, as for the process.
 */
export function heapLimitsOf(flags: readonly string[]): {
  maxOldGenerationSizeMb?: number
  maxYoungGenerationSizeMb?: number
} {
  const value = (name: string) => {
    const match = flags.map((flag) => new RegExp(`^--${name}=(\\d+)$`).exec(flag)).find(Boolean)
    return match ? Number(match[1]) : undefined
  }
  const old = value('max-old-space-size')
  const semi = value('max-semi-space-size')
  return {
    ...(old === undefined ? {} : { maxOldGenerationSizeMb: old }),
    ...(semi === undefined ? {} : { maxYoungGenerationSizeMb: 3 * semi }),
  }
}
