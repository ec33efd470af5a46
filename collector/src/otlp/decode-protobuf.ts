/** OTLP/protobuf (the body of OTLP/HTTP `application/x-protobuf` and of OTLP/gRPC) → DecodedRequest. */
import type { Attributes, DecodedEvent, DecodedLink, DecodedRequest, DecodedSpan } from './decoded-span.js'
import { OtlpDecodeError } from './errors.js'
import { isAllZeroHex } from './hex.js'
import {
  ProtobufFormatError,
  ProtobufReader,
  readEvent,
  readKeyValueInto,
  readLink,
  WIRE,
} from './protobuf-reader.js'
import { admitSpan, attributesProblem, RejectionTally, type SpanCandidate } from './span-validation.js'

const LENGTH_DELIMITED = WIRE.lengthDelimited

/** Span (trace.proto), with the resource and scope it belongs to. */
function readSpan(reader: ProtobufReader, resource: Attributes, scope: DecodedSpan['scope']): SpanCandidate {
  let traceId = ''
  let spanId = ''
  let traceState = ''
  let parentSpanId = ''
  let name = ''
  let kind = 0
  let startTimeUnixNano = 0n
  let endTimeUnixNano = 0n
  const attributes: Attributes = {}
  const events: DecodedEvent[] = []
  const links: DecodedLink[] = []
  let statusCode = 0
  let statusMessage = ''
  while (reader.position < reader.end) {
    const tag = reader.tag()
    switch (tag) {
      case (1 << 3) | LENGTH_DELIMITED:
        traceId = reader.hex()
        break
      case (2 << 3) | LENGTH_DELIMITED:
        spanId = reader.hex()
        break
      case (3 << 3) | LENGTH_DELIMITED:
        traceState = reader.string()
        break
      case (4 << 3) | LENGTH_DELIMITED:
        parentSpanId = reader.hex()
        break
      case (5 << 3) | LENGTH_DELIMITED:
        name = reader.string()
        break
      case (6 << 3) | WIRE.varint:
        // An enum is an int32: a negative one arrives as a ten-byte varint.
        kind = reader.varint32() | 0
        break
      case (7 << 3) | WIRE.fixed64:
        startTimeUnixNano = reader.fixed64AsBigInt()
        break
      case (8 << 3) | WIRE.fixed64:
        endTimeUnixNano = reader.fixed64AsBigInt()
        break
      case (9 << 3) | LENGTH_DELIMITED:
        readKeyValueInto(reader, attributes)
        break
      case (11 << 3) | LENGTH_DELIMITED: {
        const outer = reader.enter()
        events.push(readEvent(reader))
        reader.leave(outer)
        break
      }
      case (13 << 3) | LENGTH_DELIMITED: {
        const outer = reader.enter()
        links.push(readLink(reader))
        reader.leave(outer)
        break
      }
      case (15 << 3) | LENGTH_DELIMITED: {
        // Status: message = 2, code = 3 (1 is the retired deprecated_code).
        const outer = reader.enter()
        while (reader.position < reader.end) {
          const statusTag = reader.tag()
          if (statusTag === ((2 << 3) | LENGTH_DELIMITED)) statusMessage = reader.string()
          else if (statusTag === ((3 << 3) | WIRE.varint)) statusCode = reader.varint32() | 0
          else reader.skip(statusTag & 7, statusTag >>> 3)
        }
        reader.leave(outer)
        break
      }
      default:
        reader.skip(tag & 7, tag >>> 3)
    }
  }
  return {
    traceId,
    spanId,
    parentSpanId: isAllZeroHex(parentSpanId) ? '' : parentSpanId,
    traceState,
    name,
    kind,
    startTimeUnixNano,
    endTimeUnixNano,
    attributes,
    events,
    links,
    status: { code: statusCode, message: statusMessage },
    resource,
    scope,
  }
}

/** Resource (resource.proto): its attributes are field 1. */
function readResource(reader: ProtobufReader): Attributes {
  const attributes: Attributes = {}
  while (reader.position < reader.end) {
    const tag = reader.tag()
    if (tag === ((1 << 3) | LENGTH_DELIMITED)) readKeyValueInto(reader, attributes)
    else reader.skip(tag & 7, tag >>> 3)
  }
  return attributes
}

function readScope(reader: ProtobufReader): DecodedSpan['scope'] {
  const scope = { name: '', version: '', attributes: {} as Attributes }
  while (reader.position < reader.end) {
    const tag = reader.tag()
    if (tag === ((1 << 3) | LENGTH_DELIMITED)) scope.name = reader.string()
    else if (tag === ((2 << 3) | LENGTH_DELIMITED)) scope.version = reader.string()
    else if (tag === ((3 << 3) | LENGTH_DELIMITED)) readKeyValueInto(reader, scope.attributes)
    else reader.skip(tag & 7, tag >>> 3)
  }
  return scope
}

/** Where each message of a ResourceSpans starts and ends, so its resource is read before its spans. */
interface Slice {
  start: number
  end: number
}

/** The length-delimited fields of the current message with the given field number, in order. */
function fieldsOf(reader: ProtobufReader, fieldNumber: number): Slice[] {
  const slices: Slice[] = []
  while (reader.position < reader.end) {
    const tag = reader.tag()
    if (tag === ((fieldNumber << 3) | LENGTH_DELIMITED)) {
      const length = reader.varint32()
      const start = reader.take(length)
      slices.push({ start, end: start + length })
    } else reader.skip(tag & 7, tag >>> 3)
  }
  return slices
}

/** Reads `slice` with `read`; a sub-message field written several times is merged, as protobuf requires. */
function within<T>(reader: ProtobufReader, slice: Slice, read: (reader: ProtobufReader) => T): T {
  const outerEnd = reader.end
  const outerPosition = reader.position
  reader.position = slice.start
  reader.end = slice.end
  try {
    return read(reader)
  } finally {
    // Also after a malformed span, so that the spans after it are read from where they are.
    reader.position = outerPosition
    reader.end = outerEnd
  }
}

/**
 * Decodes a binary ExportTraceServiceRequest. Throws OtlpDecodeError when the bytes are not one; spans
 * that decode but fail validation (see span-validation.ts) are counted in `rejectedSpans` instead.
 */
export function decodeProtobufRequest(bytes: Uint8Array): DecodedRequest {
  const spans: DecodedSpan[] = []
  const tally = new RejectionTally()
  const reader = new ProtobufReader(bytes)
  try {
    // ExportTraceServiceRequest: resource_spans = 1. ResourceSpans: resource = 1, scope_spans = 2.
    // ScopeSpans: scope = 1, spans = 2. A message may put its fields in any order, so each level
    // finds its sub-messages first and reads the resource (or scope) before the spans that share it.
    for (const resourceSpans of fieldsOf(reader, 1)) {
      within(reader, resourceSpans, () => {
        const resource: Attributes = {}
        const scopeSpansList: Slice[] = []
        while (reader.position < reader.end) {
          const tag = reader.tag()
          if (tag === ((1 << 3) | LENGTH_DELIMITED)) {
            const outer = reader.enter()
            Object.assign(resource, readResource(reader))
            reader.leave(outer)
          } else if (tag === ((2 << 3) | LENGTH_DELIMITED)) {
            const length = reader.varint32()
            const start = reader.take(length)
            scopeSpansList.push({ start, end: start + length })
          } else reader.skip(tag & 7, tag >>> 3)
        }
        // Decoded once and shared by every span of the resource (and of the scope, below).
        const resourceProblem = attributesProblem(resource, 'resource attributes')
        for (const scopeSpans of scopeSpansList) {
          within(reader, scopeSpans, () => {
            let scope: DecodedSpan['scope'] = { name: '', version: '', attributes: {} }
            const spanSlices: Slice[] = []
            while (reader.position < reader.end) {
              const tag = reader.tag()
              if (tag === ((1 << 3) | LENGTH_DELIMITED)) {
                const outer = reader.enter()
                scope = readScope(reader)
                reader.leave(outer)
              } else if (tag === ((2 << 3) | LENGTH_DELIMITED)) {
                const length = reader.varint32()
                const start = reader.take(length)
                spanSlices.push({ start, end: start + length })
              } else reader.skip(tag & 7, tag >>> 3)
            }
            // Checked once per resource and scope: a bad one rejects each of its spans, with its reason.
            const sharedProblem = resourceProblem ?? attributesProblem(scope.attributes, 'scope attributes')
            for (const spanSlice of spanSlices) {
              let candidate: SpanCandidate
              try {
                candidate = within(reader, spanSlice, () => readSpan(reader, resource, scope))
              } catch (error) {
                // The span's own bytes are malformed (a string that is not UTF-8, a bad varint)
                // while the message around it is whole: that span is rejected alone.
                if (!(error instanceof ProtobufFormatError)) throw error
                tally.reject(`the span is not a well-formed protobuf Span (${error.message})`, '')
                continue
              }
              if (sharedProblem !== undefined) {
                tally.reject(sharedProblem, candidate.name)
                continue
              }
              admitSpan(candidate, tally, spans)
            }
          })
        }
      })
    }
  } catch (error) {
    if (!(error instanceof ProtobufFormatError)) throw error
    throw new OtlpDecodeError(`the body is not a protobuf ExportTraceServiceRequest (${error.message})`, {
      cause: error,
    })
  }
  return { spans, rejectedSpans: tally.rejectedSpans, rejectionMessages: tally.messages() }
}
