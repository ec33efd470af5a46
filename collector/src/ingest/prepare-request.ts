/**
 * The CPU work of one export request: decode its body, map the valid spans to rows, and encode the
 * rows as the pipeline buffers them. It runs in an ingest worker thread (ingest-workers.ts) or, with
 * no workers, on the event loop; either way the result is the same. Nothing here touches ClickHouse,
 * the log or the clock, so a worker imports no more than this module's dependencies.
 */
import { mapSpans } from '../mapping/map-spans.js'
import type { PriceTable } from '../mapping/prices.js'
import { decodeExportBody } from '../otlp/decode-request.js'
import type { DecodedRequest } from '../otlp/decoded-span.js'
import type { OtlpEncoding } from '../otlp/export-response.js'
import {
  INGESTED_AT_COLUMN,
  type MappedRows,
  OUTCOME_COLUMNS,
  RUN_COLUMNS,
  SPAN_COLUMNS,
} from '../store/rows.js'
import { type EncodedRows, encodeRows } from '../store/store.js'

export type TableName = 'spans' | 'runs' | 'outcomes'
export const TABLES: readonly TableName[] = ['spans', 'runs', 'outcomes']

/** Columns of each insert: the row's columns, then the time the collector first took the request. */
export const INSERT_COLUMNS: Record<TableName, readonly string[]> = {
  spans: [...SPAN_COLUMNS, INGESTED_AT_COLUMN],
  runs: [...RUN_COLUMNS, INGESTED_AT_COLUMN],
  outcomes: [...OUTCOME_COLUMNS, INGESTED_AT_COLUMN],
}

/** Rows of one or more requests, encoded per table. */
export type EncodedBatch = Record<TableName, EncodedRows> & { bytes: number }

/** One request's rows, encoded with the `ingested_at` its log record carries (the same on replay). */
export function encodeRequest(rows: MappedRows, ingestedAt: number): EncodedBatch {
  const trailing = [Math.round(ingestedAt)]
  // Each table's rows come from one object literal in mapping (map-spans.ts, outcomes.ts).
  const sameShape = { sameShape: true }
  const spans = encodeRows(rows.spans, SPAN_COLUMNS, trailing, sameShape)
  const runs = encodeRows(rows.runs, RUN_COLUMNS, trailing, sameShape)
  const outcomes = encodeRows(rows.outcomes, OUTCOME_COLUMNS, trailing, sameShape)
  spans.columns = INSERT_COLUMNS.spans
  runs.columns = INSERT_COLUMNS.runs
  outcomes.columns = INSERT_COLUMNS.outcomes
  return { spans, runs, outcomes, bytes: spans.bytes + runs.bytes + outcomes.bytes }
}

/** What to prepare: a request as its write-ahead log record holds it. */
export interface PrepareJob {
  projectId: string
  encoding: OtlpEncoding
  body: Uint8Array
  /** Milliseconds since the epoch; every row carries it as `ingested_at`. */
  ingestedAt: number
}

/** A prepared request: its encoded rows and what the sender is told about its spans. */
export interface PreparedRequest {
  rows: EncodedBatch
  /** Spans that passed validation (and are in `rows.spans`). */
  acceptedSpans: number
  /** Spans present but invalid: counted, never stored. */
  rejectedSpans: number
  /** Why spans were rejected (a few distinct messages). */
  rejectionMessages: string[]
}

/**
 * Spans that start before the retention window (`retentionDays` before the request arrived) are
 * rejected with a reason: the tables' TTL would delete them at once, after an acknowledgment.
 */
function withoutExpired(request: DecodedRequest, ingestedAt: number, retentionDays: number): DecodedRequest {
  if (retentionDays <= 0) return request
  const cutoffNs = BigInt(Math.floor(ingestedAt - retentionDays * 86_400_000)) * 1_000_000n
  // Checked before anything is copied: nearly every request has no expired span.
  const first = request.spans.find((span) => span.startTimeUnixNano < cutoffNs)
  if (first === undefined) return request
  const kept = request.spans.filter((span) => span.startTimeUnixNano >= cutoffNs)
  const expired = request.spans.length - kept.length
  return {
    spans: kept,
    rejectedSpans: request.rejectedSpans + expired,
    rejectionMessages: [
      ...request.rejectionMessages,
      `${expired === 1 ? '1 span' : `${expired} spans`} rejected: started more than the retention of ${retentionDays} days ago, so it would be deleted at once (first: span ${JSON.stringify(first.name)})`,
    ],
  }
}

/**
 * Decodes, maps and encodes one request. `retentionDays` (0: none) rejects spans older than the
 * tables keep. Throws OtlpDecodeError when the body is not an export request.
 */
export function prepareRequest(job: PrepareJob, prices: PriceTable, retentionDays = 0): PreparedRequest {
  const request = withoutExpired(decodeExportBody(job.encoding, job.body), job.ingestedAt, retentionDays)
  const rows = mapSpans(job.projectId, request.spans, prices)
  return {
    rows: encodeRequest(rows, job.ingestedAt),
    acceptedSpans: request.spans.length,
    rejectedSpans: request.rejectedSpans,
    rejectionMessages: request.rejectionMessages,
  }
}

/**
 * Prepares a request, here or in a worker thread. Resolves with the prepared rows and the body
 * (a worker hands the body back: it was moved to the worker, not copied, and the log needs it).
 */
export type PrepareRequest = (job: PrepareJob) => Promise<{ prepared: PreparedRequest; body: Uint8Array }>

/** The in-thread PrepareRequest: on the event loop, as without workers. */
export function prepareInThread(prices: PriceTable, retentionDays = 0): PrepareRequest {
  return async (job) => ({ prepared: prepareRequest(job, prices, retentionDays), body: job.body })
}
