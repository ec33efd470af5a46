/**
 * protobufjs message types for the OTLP trace service, built once from the embedded descriptor, plus the
 * TypeScript shapes of what their `decode` returns. protobufjs generates a specialised decoder per type on
 * first use, so decoding is as fast as reflection-based protobufjs gets without a code-generation step.
 */
import protobuf from 'protobufjs/light.js'
import { traceServiceDescriptor } from './trace-service-descriptor.js'

/**
 * The descriptor with AnyValue's `value` oneof split into one single-member oneof per field, as protobufjs
 * itself models a proto3 `optional` field. A oneof exists only in generated code: the wire format is the
 * same. Why: protobufjs implements a oneof with a setter that `delete`s the sibling members from every
 * decoded AnyValue (a sixth of the decoding time), while a single-member oneof has no sibling to delete
 * and still records presence, so the member that was on the wire is the own property, even when it holds
 * a default such as '' or false.
 */
function withSingleMemberAnyValueOneofs(descriptor: typeof traceServiceDescriptor): protobuf.INamespace {
  const copy = structuredClone(descriptor)
  const anyValue: { fields: object; oneofs: Record<string, { oneof: string[] }> } =
    copy.nested.opentelemetry.nested.proto.nested.common.nested.v1.nested.AnyValue
  anyValue.oneofs = Object.fromEntries(
    Object.keys(anyValue.fields).map((fieldName) => [`_${fieldName}`, { oneof: [fieldName] }]),
  )
  return copy
}

const root = protobuf.Root.fromJSON(withSingleMemberAnyValueOneofs(traceServiceDescriptor))

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

/**
 * A decoded AnyValue. Every field reads as its default through the prototype; the member that was on the
 * wire is the own property (see withSingleMemberAnyValueOneofs).
 */
export interface WireAnyValue {
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
