/**
 * protobufjs message types for the OTLP trace service, built once from the embedded descriptor, plus the
 * TypeScript shapes of what their `decode` returns. protobufjs generates a specialised decoder per type on
 * first use, so decoding is as fast as reflection-based protobufjs gets without a code-generation step.
 */
import protobuf from 'protobufjs/light.js'
import { traceServiceDescriptor } from './trace-service-descriptor.js'

const root = protobuf.Root.fromJSON(traceServiceDescriptor)

export const exportTraceServiceRequestType = root.lookupType(
  'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
)
export const exportTraceServiceResponseType = root.lookupType(
  'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse',
)

/** The gRPC method path, `/<package>.<Service>/<Method>`, that OTLP exporters call. */
export const traceServiceExportPath = '/opentelemetry.proto.collector.trace.v1.TraceService/Export'

/**
 * A 64-bit integer as protobufjs decodes it: a `Long` from the `long` package (a dependency of
 * protobufjs, so always present). Typed structurally because only these fields are read.
 */
export interface WireLong {
  low: number
  high: number
  unsigned: boolean
}

// The decoded messages. protobufjs puts proto3 defaults on the message prototype, so scalar and repeated
// fields always read as a value ('' / 0 / empty bytes / []), while absent sub-messages read as null.

export type WireAnyValueField =
  | 'stringValue'
  | 'boolValue'
  | 'intValue'
  | 'doubleValue'
  | 'arrayValue'
  | 'kvlistValue'
  | 'bytesValue'

export interface WireAnyValue {
  /** Which member of the `value` oneof is set (a protobufjs virtual getter); undefined when none is. */
  value: WireAnyValueField | undefined
  stringValue: string
  boolValue: boolean
  intValue: WireLong | number
  doubleValue: number
  arrayValue: { values: WireAnyValue[] } | null
  kvlistValue: { values: WireKeyValue[] } | null
  bytesValue: Uint8Array
}

export interface WireKeyValue {
  key: string
  value: WireAnyValue | null
}

export interface WireEvent {
  timeUnixNano: WireLong | number
  name: string
  attributes: WireKeyValue[]
}

export interface WireLink {
  traceId: Uint8Array
  spanId: Uint8Array
  traceState: string
  attributes: WireKeyValue[]
}

export interface WireSpan {
  traceId: Uint8Array
  spanId: Uint8Array
  traceState: string
  parentSpanId: Uint8Array
  name: string
  kind: number
  startTimeUnixNano: WireLong | number
  endTimeUnixNano: WireLong | number
  attributes: WireKeyValue[]
  events: WireEvent[]
  links: WireLink[]
  status: { code: number; message: string } | null
}

export interface WireScopeSpans {
  scope: { name: string; version: string; attributes: WireKeyValue[] } | null
  spans: WireSpan[]
}

export interface WireResourceSpans {
  resource: { attributes: WireKeyValue[] } | null
  scopeSpans: WireScopeSpans[]
}

export interface WireExportTraceServiceRequest {
  resourceSpans: WireResourceSpans[]
}
