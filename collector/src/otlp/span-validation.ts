/**
 * Per-span checks shared by every transport. A span that fails is rejected alone (counted in the
 * response's partial_success) while the rest of its request is kept.
 *
 * What is rejected, and why:
 * - trace id not 16 bytes or all zero, span id not 8 bytes or all zero: the specification calls these ids
 *   invalid, and nothing downstream (runs, late outcomes, dedup of retried batches) can key on them;
 * - parent span id neither empty nor 8 bytes (an all-zero parent is accepted as "no parent": some senders
 *   write zeroes for a root span, and the decoders turn it into '');
 * - a link whose trace or span id is invalid (the link could never be followed);
 * - start time 0 (the specification makes it semantically required; a span "at 1970" would corrupt daily
 *   metrics) and end time before start time (the specification expects end >= start);
 * - a status code other than 0, 1 or 2 (StatusCode is a closed set, unlike SpanKind).
 * What is accepted: an empty name (the specification: "equivalent to an unknown span name"), any span kind
 * (unknown kinds are kept as numbers, as protobuf enums are open), and an empty trace state.
 */
import type { DecodedSpan, StatusCode } from './decoded-span.js'
import { isValidHexId } from './hex.js'

/** A span as decoded from the wire, before its status code is known to be a StatusCode. */
export type SpanCandidate = Omit<DecodedSpan, 'status'> & { status: { code: number; message: string } }

const traceIdBytes = 16
const spanIdBytes = 8

function isStatusCode(code: number): code is StatusCode {
  return code === 0 || code === 1 || code === 2
}

/** Returns the span when it is valid, otherwise the reason it is rejected. */
export function validateSpan(candidate: SpanCandidate): DecodedSpan | string {
  if (!isValidHexId(candidate.traceId, traceIdBytes)) {
    return 'traceId is not 16 bytes (32 hex digits) or is all zero'
  }
  if (!isValidHexId(candidate.spanId, spanIdBytes)) {
    return 'spanId is not 8 bytes (16 hex digits) or is all zero'
  }
  if (candidate.parentSpanId !== '' && !isValidHexId(candidate.parentSpanId, spanIdBytes)) {
    return 'parentSpanId is neither empty nor 8 bytes (16 hex digits)'
  }
  for (const link of candidate.links) {
    if (!isValidHexId(link.traceId, traceIdBytes) || !isValidHexId(link.spanId, spanIdBytes)) {
      return 'a link has an invalid traceId or spanId'
    }
  }
  if (candidate.startTimeUnixNano === 0n) return 'startTimeUnixNano is missing (0)'
  if (candidate.endTimeUnixNano < candidate.startTimeUnixNano) {
    return 'endTimeUnixNano is before startTimeUnixNano'
  }
  const { code } = candidate.status
  if (!isStatusCode(code)) return `status.code ${code} is not 0 (unset), 1 (ok) or 2 (error)`
  // The status code, the only field SpanCandidate types more loosely, was checked just above.
  return candidate as DecodedSpan
}

/** The most distinct rejection reasons reported back; more would only bloat the response. */
const maxReportedReasons = 10

/**
 * Counts rejected spans by reason, so that a request with thousands of bad spans yields a few readable
 * messages ("3 spans rejected: ... (first: span \"checkout\")") rather than thousands.
 */
export class RejectionTally {
  private readonly byReason = new Map<string, { count: number; firstSpanName: string }>()
  rejectedSpans = 0

  reject(reason: string, spanName: string): void {
    this.rejectedSpans++
    const entry = this.byReason.get(reason)
    if (entry) entry.count++
    else this.byReason.set(reason, { count: 1, firstSpanName: spanName })
  }

  messages(): string[] {
    const messages: string[] = []
    for (const [reason, { count, firstSpanName }] of this.byReason) {
      if (messages.length === maxReportedReasons) break
      const spans = count === 1 ? '1 span' : `${count} spans`
      messages.push(`${spans} rejected: ${reason} (first: span ${JSON.stringify(firstSpanName)})`)
    }
    return messages
  }
}
