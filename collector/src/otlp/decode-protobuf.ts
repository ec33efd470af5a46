/** OTLP/protobuf (the body of OTLP/HTTP `application/x-protobuf` and of OTLP/gRPC) → DecodedRequest. */
import { Buffer } from 'node:buffer'
import { int64ToAttributeValue, setAttribute } from './attribute-values.js'
import type {
  Attributes,
  AttributeValue,
  DecodedEvent,
  DecodedLink,
  DecodedRequest,
  DecodedSpan,
} from './decoded-span.js'
import { OtlpDecodeError } from './errors.js'
import { bytesToHex, isAllZeroHex } from './hex.js'
import {
  exportTraceServiceRequestType,
  type WireAnyValue,
  type WireEvent,
  type WireExportTraceServiceRequest,
  type WireKeyValue,
  type WireLink,
  type WireLong,
  type WireSpan,
} from './protobuf-schema.js'
import { attributesProblem, RejectionTally, type SpanCandidate, validateSpan } from './span-validation.js'

const twoToThe32 = 4294967296

/** A fixed64 timestamp as bigint. */
function unsignedToBigInt(value: WireLong | number): bigint {
  if (typeof value === 'number') return BigInt(value)
  return (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0)
}

/** An int64 attribute value: a number when exactly representable, else decimal text. */
function signedToAttributeValue(value: WireLong | number): number | string {
  if (typeof value === 'number') return value
  // Exact whenever the result is a safe integer; beyond that the double may round, so fall back to bigint.
  const approximate = value.high * twoToThe32 + (value.low >>> 0)
  if (Number.isSafeInteger(approximate)) return approximate
  return int64ToAttributeValue((BigInt(value.high) << 32n) + BigInt(value.low >>> 0))
}

function decodeAnyValue(anyValue: WireAnyValue | null): AttributeValue {
  if (anyValue === null) return null
  // The member present on the wire is the own property (protobufjs keeps defaults on the prototype).
  // Most frequent first.
  if (Object.hasOwn(anyValue, 'stringValue')) return anyValue.stringValue
  if (Object.hasOwn(anyValue, 'intValue')) return signedToAttributeValue(anyValue.intValue)
  if (Object.hasOwn(anyValue, 'doubleValue')) return anyValue.doubleValue
  if (Object.hasOwn(anyValue, 'boolValue')) return anyValue.boolValue
  if (anyValue.arrayValue) return anyValue.arrayValue.values.map(decodeAnyValue)
  if (anyValue.kvlistValue) return decodeAttributes(anyValue.kvlistValue.values)
  if (Object.hasOwn(anyValue, 'bytesValue')) {
    // AttributeValue has no binary type: bytes become base64, as OTLP/JSON writes them.
    const bytes = anyValue.bytesValue
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  }
  // No member set: the specification's "empty value".
  return null
}

function decodeAttributes(keyValues: WireKeyValue[]): Attributes {
  const attributes: Attributes = {}
  for (const keyValue of keyValues) setAttribute(attributes, keyValue.key, decodeAnyValue(keyValue.value))
  return attributes
}

function decodeEvent(event: WireEvent): DecodedEvent {
  return {
    timeUnixNano: unsignedToBigInt(event.timeUnixNano),
    name: event.name,
    attributes: decodeAttributes(event.attributes),
  }
}

function decodeLink(link: WireLink): DecodedLink {
  return {
    traceId: bytesToHex(link.traceId),
    spanId: bytesToHex(link.spanId),
    traceState: link.traceState,
    attributes: decodeAttributes(link.attributes),
  }
}

function toSpanCandidate(span: WireSpan, resource: Attributes, scope: DecodedSpan['scope']): SpanCandidate {
  const parentSpanId = bytesToHex(span.parentSpanId)
  return {
    traceId: bytesToHex(span.traceId),
    spanId: bytesToHex(span.spanId),
    parentSpanId: isAllZeroHex(parentSpanId) ? '' : parentSpanId,
    traceState: span.traceState,
    name: span.name,
    kind: span.kind,
    startTimeUnixNano: unsignedToBigInt(span.startTimeUnixNano),
    endTimeUnixNano: unsignedToBigInt(span.endTimeUnixNano),
    attributes: decodeAttributes(span.attributes),
    events: span.events.map(decodeEvent),
    links: span.links.map(decodeLink),
    status:
      span.status === null
        ? { code: 0, message: '' }
        : { code: span.status.code, message: span.status.message },
    resource,
    scope,
  }
}

/**
 * Decodes a binary ExportTraceServiceRequest. Throws OtlpDecodeError when the bytes are not one; spans
 * that decode but fail validation (see span-validation.ts) are counted in `rejectedSpans` instead.
 */
export function decodeProtobufRequest(bytes: Uint8Array): DecodedRequest {
  let request: WireExportTraceServiceRequest
  try {
    // protobufjs returns its reflected Message; WireExportTraceServiceRequest describes the same fields.
    request = exportTraceServiceRequestType.decode(bytes) as unknown as WireExportTraceServiceRequest
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new OtlpDecodeError(`the body is not a protobuf ExportTraceServiceRequest (${reason})`, {
      cause: error,
    })
  }

  const spans: DecodedSpan[] = []
  const tally = new RejectionTally()
  for (const resourceSpans of request.resourceSpans) {
    // Decoded once and shared by every span of the resource (and of the scope, below).
    const resource = decodeAttributes(resourceSpans.resource?.attributes ?? [])
    const resourceProblem = attributesProblem(resource, 'resource attributes')
    for (const scopeSpans of resourceSpans.scopeSpans) {
      const scope = {
        name: scopeSpans.scope?.name ?? '',
        version: scopeSpans.scope?.version ?? '',
        attributes: decodeAttributes(scopeSpans.scope?.attributes ?? []),
      }
      // Checked once per resource and scope: a bad one rejects each of its spans, with its reason.
      const sharedProblem = resourceProblem ?? attributesProblem(scope.attributes, 'scope attributes')
      for (const wireSpan of scopeSpans.spans) {
        if (sharedProblem !== undefined) {
          tally.reject(sharedProblem, wireSpan.name)
          continue
        }
        const checked = validateSpan(toSpanCandidate(wireSpan, resource, scope))
        if (typeof checked === 'string') tally.reject(checked, wireSpan.name)
        else spans.push(checked)
      }
    }
  }
  return { spans, rejectedSpans: tally.rejectedSpans, rejectionMessages: tally.messages() }
}
