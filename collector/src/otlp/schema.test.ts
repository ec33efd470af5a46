import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import { describe, expect, it } from 'vitest'
import { traceServiceDescriptor } from './trace-service-descriptor.js'

const protoDirectory = fileURLToPath(new URL('./proto/', import.meta.url))
const descriptorFile = fileURLToPath(new URL('./trace-service-descriptor.ts', import.meta.url))

/** Parses the .proto files (the reviewable source) the way protobufjs does for the embedded descriptor. */
function descriptorFromProtoFiles(): protobuf.INamespace {
  const root = new protobuf.Root()
  root.resolvePath = (_origin, target) => `${protoDirectory}${target}`
  root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto')
  root.resolveAll()
  return root.toJSON()
}

function renderDescriptorModule(descriptor: protobuf.INamespace): string {
  return `// Generated from proto/**/*.proto by schema.test.ts: do not edit by hand. After changing a .proto file run
//   OTLP_WRITE_DESCRIPTOR=1 npx vitest run collector/src/otlp/schema.test.ts && npx biome format --write collector/src/otlp
// Embedding the schema as a protobufjs JSON descriptor means the built package needs no .proto files at run time.
// Deliberately not annotated as protobufjs' INamespace, whose field type lacks the protoName written here.
export const traceServiceDescriptor = ${JSON.stringify(descriptor, null, 2)}
`
}

describe('embedded OTLP schema', () => {
  it('matches the .proto files it is generated from', () => {
    const fromProtoFiles = descriptorFromProtoFiles()
    if (process.env.OTLP_WRITE_DESCRIPTOR === '1')
      writeFileSync(descriptorFile, renderDescriptorModule(fromProtoFiles))
    expect(traceServiceDescriptor).toEqual(fromProtoFiles)
  })

  it('keeps the field numbers of the OTLP specification', () => {
    // A spot check written independently of the .proto files, on the fields most easily mistyped.
    const root = protobuf.Root.fromJSON(traceServiceDescriptor)
    const span = root.lookupType('opentelemetry.proto.trace.v1.Span')
    const fieldIds = Object.fromEntries(
      Object.values(span.fields).map((field) => [field.name, [field.id, field.type]]),
    )
    expect(fieldIds).toEqual({
      traceId: [1, 'bytes'],
      spanId: [2, 'bytes'],
      traceState: [3, 'string'],
      parentSpanId: [4, 'bytes'],
      flags: [16, 'fixed32'],
      name: [5, 'string'],
      kind: [6, 'SpanKind'],
      startTimeUnixNano: [7, 'fixed64'],
      endTimeUnixNano: [8, 'fixed64'],
      attributes: [9, 'opentelemetry.proto.common.v1.KeyValue'],
      droppedAttributesCount: [10, 'uint32'],
      events: [11, 'Event'],
      droppedEventsCount: [12, 'uint32'],
      links: [13, 'Link'],
      droppedLinksCount: [14, 'uint32'],
      status: [15, 'Status'],
    })
    const service = root.lookupService('opentelemetry.proto.collector.trace.v1.TraceService')
    expect(service.methods.Export?.requestType).toBe('ExportTraceServiceRequest')
    expect(readFileSync(`${protoDirectory}opentelemetry/proto/trace/v1/trace.proto`, 'utf8')).toContain(
      'package opentelemetry.proto.trace.v1;',
    )
  })
})
