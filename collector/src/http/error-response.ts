import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { ExportRejectedError, type ExportRejectionKind, OtlpDecodeError } from '../otlp/errors.js'
import { encodeRpcStatus } from '../otlp/rpc-status.js'
import { SavedQueryLimitError, SavedQueryRequestError } from '../queries/run-saved-query.js'
import { ClickHouseError, StoreUnavailableError } from '../store/store.js'
import type { CollectorEnv } from './collector-env.js'
import { HttpError } from './http-error.js'
import { CONTENT_TYPES } from './otlp-http-route.js'

const STATUS_OF_KIND: Record<ExportRejectionKind, ContentfulStatusCode> = {
  unauthenticated: 401,
  invalid: 400,
  too_large: 413,
  unavailable: 503,
  overloaded: 429,
}

// gRPC codes for the google.rpc.Status body that OTLP/HTTP error responses carry, as google.rpc's
// code.proto maps HTTP statuses (and OpenTelemetry's Go collector does): 429 is RESOURCE_EXHAUSTED.
// Over gRPC an overloaded collector answers UNAVAILABLE instead (grpc-server.ts); over HTTP the
// status, not this code, tells a sender to retry.
const RPC_CODE_OF_STATUS: Partial<Record<number, number>> = {
  400: 3, // INVALID_ARGUMENT
  401: 16, // UNAUTHENTICATED
  404: 5, // NOT_FOUND
  413: 8, // RESOURCE_EXHAUSTED
  415: 3, // INVALID_ARGUMENT
  429: 8, // RESOURCE_EXHAUSTED
  503: 14, // UNAVAILABLE
}

/** What an error answers: its status, code and message (the body's `error`). */
export interface Classified {
  status: ContentfulStatusCode
  code: string
  message: string
  retryAfterSeconds?: number
}

function classify(error: unknown): Classified {
  if (error instanceof ExportRejectedError) {
    return {
      status: STATUS_OF_KIND[error.kind],
      code: error.kind,
      message: error.message,
      retryAfterSeconds: error.retryAfterSeconds,
    }
  }
  if (error instanceof OtlpDecodeError) return { status: 400, code: 'invalid', message: error.message }
  if (error instanceof HttpError) return { status: error.status, code: error.code, message: error.message }
  if (error instanceof StoreUnavailableError) {
    return {
      status: 503,
      code: 'unavailable',
      message: 'ClickHouse is unreachable; retry later.',
      retryAfterSeconds: 5,
    }
  }
  if (error instanceof SavedQueryRequestError)
    return { status: error.status, code: error.code, message: error.message }
  if (error instanceof SavedQueryLimitError) {
    return { status: 503, code: 'query_limit_exceeded', message: error.message }
  }
  if (error instanceof ClickHouseError) {
    return { status: 500, code: 'clickhouse_error', message: `ClickHouse error ${error.type || error.code}` }
  }
  return { status: 500, code: 'internal', message: 'Internal error.' }
}

/**
 * An error's status, code and message; an error nobody expected (a bug, not ClickHouse being away
 * or a query over its limits) is also passed to `onUnexpected`, to be logged. Used where a response
 * has already begun (POST /api/v1/metrics writes each query's error as a line of its answer).
 */
export function describeError(error: unknown, onUnexpected: (error: unknown) => void): Classified {
  const classified = classify(error)
  if (
    classified.status >= 500 &&
    classified.code !== 'unavailable' &&
    classified.code !== 'query_limit_exceeded'
  ) {
    onUnexpected(error)
  }
  return classified
}

/**
 * Every error becomes a response here, and only here. OTLP routes answer with a google.rpc.Status
 * in the sender's encoding (as the specification asks); other routes answer `{ error: { code, message } }`.
 */
export function errorResponse(
  error: unknown,
  c: Context<CollectorEnv>,
  onUnexpected: (error: unknown) => void,
) {
  const classified = describeError(error, onUnexpected)
  const headers: Record<string, string> = {}
  if (classified.retryAfterSeconds !== undefined)
    headers['retry-after'] = String(classified.retryAfterSeconds)
  const encoding = c.get('otlpEncoding')
  if (encoding) {
    const rpcCode = RPC_CODE_OF_STATUS[classified.status] ?? 13
    headers['content-type'] = CONTENT_TYPES[encoding]
    const body = encodeRpcStatus({ code: rpcCode, message: classified.message }, encoding)
    return c.body(body as Uint8Array<ArrayBuffer> | string, classified.status, headers)
  }
  return c.json({ error: { code: classified.code, message: classified.message } }, classified.status, headers)
}
