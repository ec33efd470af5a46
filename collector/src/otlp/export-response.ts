/** ExportTraceServiceResponse encoding, shared by OTLP/HTTP (protobuf or JSON) and OTLP/gRPC. */
import type { DecodedRequest } from './decoded-span.js'
import { exportTraceServiceResponseType } from './protobuf-schema.js'

/** What the collector tells the sender about an accepted export. */
export interface ExportOutcome {
  /** Spans that were received but not accepted (never retried by the sender). */
  rejectedSpans: number
  /** Why; may also carry a warning when nothing was rejected. '' for a plain success. */
  errorMessage: string
}

export type OtlpEncoding = 'protobuf' | 'json'

/** The outcome of a decoded request when everything that passed validation is accepted. */
export function exportOutcomeOf(
  request: Pick<DecodedRequest, 'rejectedSpans' | 'rejectionMessages'>,
): ExportOutcome {
  return { rejectedSpans: request.rejectedSpans, errorMessage: request.rejectionMessages.join('; ') }
}

/**
 * The specification's rule: partial_success is set only for a partial success (rejected > 0) or a warning
 * (non-empty message); a full success is an empty response.
 */
function partialSuccessOf(outcome: ExportOutcome): ExportOutcome | undefined {
  if (outcome.rejectedSpans === 0 && outcome.errorMessage === '') return undefined
  return { rejectedSpans: outcome.rejectedSpans, errorMessage: outcome.errorMessage }
}

/**
 * Encodes the response body. JSON writes `rejectedSpans` as a number: the proto3 JSON mapping prints int64
 * as a string but every parser accepts a number, and the official JS exporters type it as a number.
 */
export function encodeExportResponse(outcome: ExportOutcome, encoding: 'protobuf'): Uint8Array
export function encodeExportResponse(outcome: ExportOutcome, encoding: 'json'): string
export function encodeExportResponse(outcome: ExportOutcome, encoding: OtlpEncoding): Uint8Array | string
export function encodeExportResponse(outcome: ExportOutcome, encoding: OtlpEncoding): Uint8Array | string {
  const partialSuccess = partialSuccessOf(outcome)
  if (encoding === 'json') return JSON.stringify(partialSuccess === undefined ? {} : { partialSuccess })
  return exportTraceServiceResponseType
    .encode(partialSuccess === undefined ? {} : { partialSuccess })
    .finish()
}
