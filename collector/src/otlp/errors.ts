/**
 * The request body cannot be read as an OTLP ExportTraceServiceRequest at all (not protobuf, not JSON,
 * or the wrong shape). Transports answer it with their "bad request" status (HTTP 400, gRPC
 * INVALID_ARGUMENT); a single bad span inside a readable request is not this error but a rejected span.
 */
export class OtlpDecodeError extends Error {
  override readonly name = 'OtlpDecodeError'
}

/**
 * Why the collector refuses a whole export. Each transport maps the kind to its own status:
 *
 * | kind              | HTTP | gRPC                                    | sender retries? |
 * |-------------------|------|-----------------------------------------|-----------------|
 * | `unauthenticated` | 401  | UNAUTHENTICATED                         | no              |
 * | `invalid`         | 400  | INVALID_ARGUMENT                        | no              |
 * | `too_large`       | 413  | RESOURCE_EXHAUSTED (without RetryInfo)  | no              |
 * | `unavailable`     | 503  | UNAVAILABLE                             | yes             |
 * | `overloaded`      | 429  | UNAVAILABLE (the OTLP throttling code)  | yes             |
 */
export type ExportRejectionKind = 'unauthenticated' | 'invalid' | 'too_large' | 'unavailable' | 'overloaded'

export interface ExportRejectedErrorOptions {
  /** For `unavailable` and `overloaded`: how long the sender should wait before retrying. */
  retryAfterSeconds?: number
  cause?: unknown
}

/** Thrown by an export handler to refuse a whole request with a transport-independent status hint. */
export class ExportRejectedError extends Error {
  override readonly name = 'ExportRejectedError'
  readonly kind: ExportRejectionKind
  readonly retryAfterSeconds: number | undefined

  constructor(kind: ExportRejectionKind, message: string, options: ExportRejectedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.kind = kind
    this.retryAfterSeconds = options.retryAfterSeconds
  }
}
