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
 * - a status code other than 0, 1 or 2 (StatusCode is a closed set, unlike SpanKind);
 * - a start, end or event time after 2149-06-06, the last day ClickHouse's Date holds: spans are
 *   partitioned and rolled up by day, and a later day wraps around to the 1970s (where retention
 *   would delete it), while past 2262-04-11 even DateTime64(9) overflows and fails the insert of
 *   every span batched with it;
 * - a token count (every attribute in TOKEN_COUNT_ATTRIBUTES) that is a number but not a whole number
 *   from 0 to 2^53 - 1 (negative, fractional, NaN, 1e21…): the columns are UInt64, and a count above
 *   2^53 has already lost its exact value; a count that is not a number at all reads as absent;
 * - attributes (of the span, its events and links, and of its resource and scope) beyond
 *   ATTRIBUTE_LIMITS: too many, a key or a string value too long, values nested too deep.
 * What is kept with a note in partial_success (rejected_spans unchanged, as the specification allows
 * for warnings): a span whose `daa.cost.usd` is not a number of 0 or more, or whose
 * `daa.outcome.value` is not a finite number. The value reads as absent (the cost falls back to the
 * price table, the outcome's value is 0); the outcome and the rest of the span are stored.
 * What is accepted: an empty name (the specification: "equivalent to an unknown span name"), any span kind
 * (unknown kinds are kept as numbers, as protobuf enums are open), and an empty trace state.
 */
import {
  DAA_COST_USD,
  DAA_OUTCOME,
  DAA_OUTCOME_VALUE,
  isOutcomeStatus,
  MAX_SPAN_ATTRIBUTES,
  OUTCOME_STATUSES,
} from '@daa/sdk/attributes'
import { readCost, readNumber } from '../mapping/attribute-readers.js'
import { TOKEN_COUNT_ATTRIBUTES } from '../mapping/span-semantics.js'
import type { Attributes, AttributeValue, DecodedSpan, StatusCode } from './decoded-span.js'
import { isValidHexId } from './hex.js'

/**
 * The first instant past what the schema stores, in nanoseconds since the epoch: 2149-06-07T00:00Z,
 * the day after the last one ClickHouse's Date holds (day partitions, day rollups).
 */
export const MAX_TIMESTAMP_NS = BigInt(Date.UTC(2149, 5, 7)) * 1_000_000n
const MAX_DAY = '2149-06-06, the last day ClickHouse stores'

/**
 * Bounds on sender-controlled attributes. They are far above what any instrumentation writes (the
 * OpenTelemetry SDKs default to 128 attributes per span) and keep one span's memory and its
 * ClickHouse row bounded.
 */
export const ATTRIBUTE_LIMITS = {
  /** Attributes in one map (a span's, an event's, a link's, a resource's, a scope's, a kvlist's). */
  maxAttributes: MAX_SPAN_ATTRIBUTES,
  /** Characters in one attribute key. */
  maxKeyLength: 1024,
  /** Characters in one string value (prompts and completions included). */
  maxValueLength: 1024 * 1024,
  /** Values in one array value. */
  maxArrayValues: 10_000,
  /** Nesting of array and kvlist values inside one another. */
  maxDepth: 16,
  /** Events of one span, and links of one span. */
  maxEvents: 10_000,
} as const

function valueProblem(value: AttributeValue, key: string, depth: number): string | undefined {
  if (typeof value === 'string') {
    return value.length > ATTRIBUTE_LIMITS.maxValueLength
      ? `attribute ${JSON.stringify(key.slice(0, 64))} is longer than ${ATTRIBUTE_LIMITS.maxValueLength} characters`
      : undefined
  }
  if (value === null || typeof value !== 'object') return undefined
  if (depth >= ATTRIBUTE_LIMITS.maxDepth) {
    return `attribute ${JSON.stringify(key.slice(0, 64))} is nested deeper than ${ATTRIBUTE_LIMITS.maxDepth} levels`
  }
  if (Array.isArray(value)) {
    if (value.length > ATTRIBUTE_LIMITS.maxArrayValues) {
      return `attribute ${JSON.stringify(key.slice(0, 64))} holds more than ${ATTRIBUTE_LIMITS.maxArrayValues} values`
    }
    for (const item of value) {
      const problem = valueProblem(item, key, depth + 1)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  return mapProblem(value, depth + 1)
}

function mapProblem(attributes: Attributes, depth: number): string | undefined {
  let count = 0
  for (const key in attributes) {
    count++
    if (key.length > ATTRIBUTE_LIMITS.maxKeyLength) {
      return `an attribute key is longer than ${ATTRIBUTE_LIMITS.maxKeyLength} characters`
    }
    const problem = valueProblem(attributes[key]!, key, depth)
    if (problem !== undefined) return problem
  }
  return count > ATTRIBUTE_LIMITS.maxAttributes
    ? `more than ${ATTRIBUTE_LIMITS.maxAttributes} attributes in one map`
    : undefined
}

/** Why a map of attributes cannot be stored (see ATTRIBUTE_LIMITS), or undefined when it can. */
export function attributesProblem(attributes: Attributes, where: string): string | undefined {
  const problem = mapProblem(attributes, 0)
  return problem === undefined ? undefined : `${where}: ${problem}`
}

/** A token count that a UInt64 column takes exactly: a whole number from 0 to 2^53 - 1. */
function isStorableCount(count: number): boolean {
  return Number.isSafeInteger(count) && count >= 0
}

function tokenCountProblem(attributes: Attributes): string | undefined {
  for (const key of TOKEN_COUNT_ATTRIBUTES) {
    const value = attributes[key]
    let count: number
    if (typeof value === 'number') count = value
    else if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)))
      count = Number(value)
    else continue
    if (!isStorableCount(count)) {
      return `${key} ${JSON.stringify(String(value).slice(0, 32))} is not a token count (a whole number from 0 to 2^53 - 1)`
    }
  }
  return undefined
}

function timestampProblem(candidate: SpanCandidate): string | undefined {
  if (candidate.startTimeUnixNano >= MAX_TIMESTAMP_NS) return `startTimeUnixNano is after ${MAX_DAY}`
  if (candidate.endTimeUnixNano >= MAX_TIMESTAMP_NS) return `endTimeUnixNano is after ${MAX_DAY}`
  for (const event of candidate.events) {
    if (event.timeUnixNano >= MAX_TIMESTAMP_NS) return `an event timeUnixNano is after ${MAX_DAY}`
  }
  return undefined
}

/** Attribute limits of the span itself, its events and its links (resource and scope are checked once each). */
function spanAttributesProblem(candidate: SpanCandidate): string | undefined {
  if (candidate.events.length > ATTRIBUTE_LIMITS.maxEvents) {
    return `more than ${ATTRIBUTE_LIMITS.maxEvents} events`
  }
  if (candidate.links.length > ATTRIBUTE_LIMITS.maxEvents) {
    return `more than ${ATTRIBUTE_LIMITS.maxEvents} links`
  }
  const own = attributesProblem(candidate.attributes, 'attributes')
  if (own !== undefined) return own
  for (const event of candidate.events) {
    const problem = attributesProblem(event.attributes, 'event attributes')
    if (problem !== undefined) return problem
  }
  for (const link of candidate.links) {
    const problem = attributesProblem(link.attributes, 'link attributes')
    if (problem !== undefined) return problem
  }
  return undefined
}

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
  const problem =
    timestampProblem(candidate) ?? tokenCountProblem(candidate.attributes) ?? spanAttributesProblem(candidate)
  if (problem !== undefined) return problem
  // The status code, the only field SpanCandidate types more loosely, was checked just above.
  return candidate as DecodedSpan
}

function quoted(value: AttributeValue): string {
  return JSON.stringify(String(value).slice(0, 32))
}

/** Why a data-contract value of a kept span cannot be used (and reads as absent), or undefined. */
function contractValueNote(attributes: Attributes): string | undefined {
  const outcome = attributes[DAA_OUTCOME]
  if (outcome !== undefined && !isOutcomeStatus(outcome)) {
    return `${DAA_OUTCOME} ${quoted(outcome)} is not one of ${OUTCOME_STATUSES.join(', ')} (case-sensitive), so no outcome was recorded`
  }
  const cost = attributes[DAA_COST_USD]
  if (cost !== undefined && cost !== '' && readCost(cost) === undefined) {
    return `${DAA_COST_USD} ${quoted(cost)} is not a number of 0 or more, so it was ignored`
  }
  const value = attributes[DAA_OUTCOME_VALUE]
  if (value !== undefined && value !== '' && readNumber(value) === undefined) {
    return `${DAA_OUTCOME_VALUE} ${quoted(value)} is not a finite number, so the outcome's value is 0`
  }
  return undefined
}

/**
 * Validates a candidate span: a valid one joins `spans` (with a note in `tally` when a data-contract
 * number in it cannot be used), an invalid one is counted in `tally` with its reason.
 */
export function admitSpan(candidate: SpanCandidate, tally: RejectionTally, spans: DecodedSpan[]): void {
  const checked = validateSpan(candidate)
  if (typeof checked === 'string') {
    tally.reject(checked, candidate.name)
    return
  }
  const note = contractValueNote(checked.attributes)
  if (note !== undefined) tally.note(note, checked.name)
  spans.push(checked)
}

/** The most distinct rejection reasons reported back; more would only bloat the response. */
const maxReportedReasons = 10

/**
 * Counts rejected spans by reason, so that a request with thousands of bad spans yields a few readable
 * messages ("3 spans rejected: ... (first: span \"checkout\")") rather than thousands.
 */
export class RejectionTally {
  private readonly byReason = new Map<string, { count: number; firstSpanName: string }>()
  private readonly byNote = new Map<string, { count: number; firstSpanName: string }>()
  rejectedSpans = 0

  reject(reason: string, spanName: string): void {
    this.rejectedSpans++
    RejectionTally.count(this.byReason, reason, spanName)
  }

  /** A span kept, with something its sender should know (not counted as rejected). */
  note(reason: string, spanName: string): void {
    RejectionTally.count(this.byNote, reason, spanName)
  }

  private static count(
    tally: Map<string, { count: number; firstSpanName: string }>,
    reason: string,
    spanName: string,
  ): void {
    const entry = tally.get(reason)
    if (entry) entry.count++
    else tally.set(reason, { count: 1, firstSpanName: spanName })
  }

  /** Rejections first, then notes: at most maxReportedReasons messages. */
  messages(): string[] {
    const messages: string[] = []
    for (const [tally, verb] of [
      [this.byReason, 'rejected'],
      [this.byNote, 'kept'],
    ] as const) {
      for (const [reason, { count, firstSpanName }] of tally) {
        if (messages.length === maxReportedReasons) return messages
        const spans = count === 1 ? '1 span' : `${count} spans`
        messages.push(`${spans} ${verb}: ${reason} (first: span ${JSON.stringify(firstSpanName)})`)
      }
    }
    return messages
  }
}
