import { type Attributes, context, type Span, SpanKind, TraceFlags, trace } from '@opentelemetry/api'
import {
  DAA_OUTCOME,
  DAA_OUTCOME_REASON,
  DAA_OUTCOME_UNIT,
  DAA_OUTCOME_VALUE,
  DAA_RUN_ID,
  isOutcomeStatus,
  LATE_OUTCOME_SPAN_NAME,
  type OutcomeStatus,
} from './attributes.js'
import { debugLog } from './diagnostics.js'
import { daaTracer } from './tracer.js'

export type { OutcomeStatus }

/** What a run achieved. `value` with `unit` is what it was worth (e.g. 12.5 USD, 3 tickets). */
export interface Outcome {
  status: OutcomeStatus
  value?: number
  unit?: string
  reason?: string
}

/** What a delivered or partial result was worth. */
export interface OutcomeValue {
  value?: number
  unit?: string
}

/**
 * A serialisable reference to a run: a W3C `traceparent` string of the run span. Store it with the
 * work item, hand it to another process, and call `outcome(ref, ...)` there when the result is known.
 */
export type RunRef = string

export function formatRunRef(traceId: string, spanId: string): RunRef {
  return `00-${traceId}-${spanId}-01`
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/
const SPAN_ID = /^[0-9a-f]{16}$/

/** Accepts a RunRef, or a bare run id (the 16-hex `daa.run.id`) for callers that only kept that. */
export function parseRunRef(ref: string): { traceId?: string; runId: string } | undefined {
  const normalised = ref.trim().toLowerCase()
  const match = TRACEPARENT.exec(normalised)
  if (match) return { traceId: match[1]!, runId: match[2]! }
  if (SPAN_ID.test(normalised)) return { runId: normalised }
  return undefined
}

/**
 * The outcome as span attributes, or undefined when the outcome is not one the contract knows.
 * Bad parts are dropped rather than rejected: a wrong unit must not lose the status.
 */
export function outcomeAttributes(outcome: Outcome): Attributes | undefined {
  if (outcome === null || typeof outcome !== 'object' || !isOutcomeStatus(outcome.status)) {
    debugLog(`ignored an outcome with status ${String(outcome?.status)}`)
    return undefined
  }
  const attributes: Attributes = { [DAA_OUTCOME]: outcome.status }
  if (typeof outcome.value === 'number' && Number.isFinite(outcome.value)) {
    attributes[DAA_OUTCOME_VALUE] = outcome.value
  }
  if (typeof outcome.unit === 'string' && outcome.unit !== '') attributes[DAA_OUTCOME_UNIT] = outcome.unit
  if (typeof outcome.reason === 'string' && outcome.reason !== '') {
    attributes[DAA_OUTCOME_REASON] = outcome.reason
  }
  return attributes
}

/** Run-span attributes an earlier outcome may have left and a later one must clear. */
export const OUTCOME_DETAIL_KEYS = [DAA_OUTCOME_VALUE, DAA_OUTCOME_UNIT, DAA_OUTCOME_REASON] as const

/**
 * Records the outcome of a run that has already ended: a `daa.outcome` span carrying `daa.run.id`.
 * The span joins the run's trace when the reference says which trace that is. Never throws.
 */
export function outcome(run: RunRef | { readonly ref: RunRef }, result: Outcome): void {
  try {
    const ref = typeof run === 'string' ? run : run?.ref
    const parsed = typeof ref === 'string' ? parseRunRef(ref) : undefined
    if (!parsed) {
      debugLog(`ignored an outcome for an unreadable run reference ${String(ref)}`)
      return
    }
    const attributes = outcomeAttributes(result)
    if (!attributes) return
    attributes[DAA_RUN_ID] = parsed.runId
    const parent = parsed.traceId
      ? trace.setSpanContext(context.active(), {
          traceId: parsed.traceId,
          spanId: parsed.runId,
          traceFlags: TraceFlags.SAMPLED,
          isRemote: true,
        })
      : trace.deleteSpan(context.active())
    const span: Span = daaTracer().startSpan(
      LATE_OUTCOME_SPAN_NAME,
      { kind: SpanKind.INTERNAL, attributes, root: !parsed.traceId },
      parent,
    )
    span.end()
  } catch (error) {
    debugLog('could not record a late outcome', error)
  }
}
