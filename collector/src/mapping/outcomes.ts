/** Outcome rows: from a run span's own `daa.outcome`, or from a late `daa.outcome` span. */
import {
  DAA_OUTCOME,
  DAA_OUTCOME_REASON,
  DAA_OUTCOME_UNIT,
  DAA_OUTCOME_VALUE,
  DAA_RUN_ID,
  isOutcomeStatus,
} from '@daa/sdk/attributes'
import type { DecodedSpan } from '../otlp/decoded-span.js'
import type { OutcomeRow } from '../store/rows.js'
import { readNumber, readSpanId, readText } from './attribute-readers.js'
import { LATE_OUTCOME_SPAN_NAME, OPERATION_INVOKE_AGENT } from './span-semantics.js'

/**
 * The outcome a span records, if any:
 * - a run span (`invoke_agent`) with `daa.outcome` records its own run's outcome;
 * - a span named `daa.outcome` with a valid `daa.run.id` records a late outcome for that run.
 * An unknown `daa.outcome` value (the contract allows exactly delivered, partial, failed, abandoned,
 * case-sensitive) or a late outcome without a usable run id records nothing: the span is still
 * stored, so the sender's data is not lost, only not counted as an outcome; the export's
 * partial_success says so (span-validation.ts).
 */
export function outcomeOf(projectId: string, span: DecodedSpan, operation: string): OutcomeRow | undefined {
  const attributes = span.attributes
  const statusValue = attributes[DAA_OUTCOME]
  if (statusValue === undefined) return undefined
  const status = readText(statusValue)
  if (!isOutcomeStatus(status)) return undefined

  let runId: string | undefined
  if (operation === OPERATION_INVOKE_AGENT) runId = span.spanId
  else if (span.name === LATE_OUTCOME_SPAN_NAME) runId = readSpanId(attributes[DAA_RUN_ID])
  if (runId === undefined) return undefined

  return {
    project_id: projectId,
    run_id: runId,
    status,
    value: readNumber(attributes[DAA_OUTCOME_VALUE]) ?? 0,
    unit: readText(attributes[DAA_OUTCOME_UNIT]) ?? '',
    reason: readText(attributes[DAA_OUTCOME_REASON]) ?? '',
    recorded_at: span.endTimeUnixNano.toString(),
    source_span_id: span.spanId,
  }
}
