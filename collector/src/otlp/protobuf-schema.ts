/**
 * protobufjs message types for the OTLP trace service, built once from the embedded descriptor: they
 * encode export responses (and the requests tests send). Requests are decoded by protobuf-reader.ts,
 * in one pass straight into the decoded shapes.
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
