/**
 * The transport-neutral shape of one OpenTelemetry span after decoding.
 * OTLP/protobuf, OTLP/JSON and OTLP/gRPC all decode into this, so validation, mapping
 * and storage never see wire formats.
 */

/** An attribute value after decoding OTLP's AnyValue. 64-bit integers that fit in a double become numbers. */
export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | AttributeValue[]
  | { [key: string]: AttributeValue }

export type Attributes = Record<string, AttributeValue>

export interface DecodedEvent {
  /** Nanoseconds since the Unix epoch. */
  timeUnixNano: bigint
  name: string
  attributes: Attributes
}

export interface DecodedLink {
  traceId: string
  spanId: string
  traceState: string
  attributes: Attributes
}

/** OTLP Status.code: 0 unset, 1 ok, 2 error. */
export type StatusCode = 0 | 1 | 2

export interface DecodedSpan {
  /** 32 lowercase hex characters. */
  traceId: string
  /** 16 lowercase hex characters. */
  spanId: string
  /** 16 lowercase hex characters, or '' for a root span. */
  parentSpanId: string
  traceState: string
  name: string
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number
  /** Nanoseconds since the Unix epoch. */
  startTimeUnixNano: bigint
  /** Nanoseconds since the Unix epoch. */
  endTimeUnixNano: bigint
  attributes: Attributes
  events: DecodedEvent[]
  links: DecodedLink[]
  status: { code: StatusCode; message: string }
  /** Attributes of the resource that produced the span (shared between spans of one resource). */
  resource: Attributes
  /** The instrumentation scope (library) that produced the span; its attributes are shared like `resource`. */
  scope: { name: string; version: string; attributes: Attributes }
}

/** The outcome of decoding one export request. */
export interface DecodedRequest {
  /** Spans that passed validation. */
  spans: DecodedSpan[]
  /** Spans that were present but invalid: counted, never stored. */
  rejectedSpans: number
  /** Why spans were rejected (a few distinct messages, for partial_success.error_message). */
  rejectionMessages: string[]
}
