/**
 * OTLP/protobuf for traces, written here rather than taken from `@opentelemetry/otlp-transformer`:
 * that package's entry also loads its logs serializer, which imports `SeverityNumber` from
 * `@opentelemetry/api` 1.10, so importing `@daa/sdk` failed at link time in any app on an older API
 * (every app on OpenTelemetry JS 2.x). The SDK needs two messages: the request it sends
 * (ExportTraceServiceRequest, from finished spans) and the partial_success of the answer.
 *
 * Field numbers and types are those of opentelemetry/proto (trace/v1/trace.proto,
 * common/v1/common.proto, resource/v1/resource.proto, collector/trace/v1/trace_service.proto).
 */
import { type Attributes, type AttributeValue, type HrTime, type Link, SpanKind } from '@opentelemetry/api'
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace'

const VARINT = 0
const FIXED64 = 1
const LENGTH_DELIMITED = 2
const FIXED32 = 5

/** Span flags (trace.proto): the low byte is the W3C trace flags; these say whether the parent was remote. */
const FLAG_HAS_IS_REMOTE = 0x100
const FLAG_IS_REMOTE = 0x200

const utf8 = new TextEncoder()

/**
 * A growing buffer. A nested message is written in place after a one-byte length (`begin`), which
 * `end` widens (moving the body right) in the rare case the body is 128 bytes or more, so nothing
 * is encoded twice and no closure is made per message.
 */
class Writer {
  buffer = new Uint8Array(4096)
  view = new DataView(this.buffer.buffer)
  length = 0

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return
    let size = this.buffer.length * 2
    while (size < this.length + bytes) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.buffer.subarray(0, this.length))
    this.buffer = grown
    this.view = new DataView(grown.buffer)
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType)
  }

  /** An unsigned varint of up to 2^53 (lengths, counts, enums). */
  varint(value: number): void {
    this.room(10)
    let rest = value
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest % 0x80) | 0x80
      rest = Math.floor(rest / 0x80)
    }
    this.buffer[this.length++] = rest
  }

  /** An int64 varint: negative values as their 64-bit two's complement (ten bytes). */
  int64(value: number): void {
    if (value >= 0) {
      this.varint(value)
      return
    }
    let rest = BigInt.asUintN(64, BigInt(value))
    this.room(10)
    while (rest >= 0x80n) {
      this.buffer[this.length++] = Number(rest & 0x7fn) | 0x80
      rest >>= 7n
    }
    this.buffer[this.length++] = Number(rest)
  }

  fixed32(value: number): void {
    this.room(4)
    this.view.setUint32(this.length, value, true)
    this.length += 4
  }

  /** An HrTime as nanoseconds in a fixed64, exactly and without BigInt: in two 32-bit halves. */
  hrTime(time: HrTime): void {
    const [seconds, nanoseconds] = time
    // seconds × 10^9 exceeds 2^53; with seconds = high × 2^16 + low, every term stays below it.
    const high = Math.floor(seconds / 0x10000)
    const low = seconds % 0x10000
    const highPart = high * 1e9
    const mixed = (highPart % 0x10000) * 0x10000 + low * 1e9 + nanoseconds
    this.room(8)
    this.view.setUint32(this.length, mixed % 0x100000000, true)
    this.view.setUint32(
      this.length + 4,
      Math.floor(highPart / 0x10000) + Math.floor(mixed / 0x100000000),
      true,
    )
    this.length += 8
  }

  double(value: number): void {
    this.room(8)
    this.view.setFloat64(this.length, value, true)
    this.length += 8
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, LENGTH_DELIMITED)
    this.varint(value.length)
    this.room(value.length)
    this.buffer.set(value, this.length)
    this.length += value.length
  }

  /** A trace or span id, from its hex form straight into the buffer. */
  hexId(field: number, hex: string): void {
    const size = hex.length >> 1
    this.tag(field, LENGTH_DELIMITED)
    this.varint(size)
    this.room(size)
    for (let index = 0; index < size; index++) {
      this.buffer[this.length++] =
        (hexDigit(hex.charCodeAt(index * 2)) << 4) | hexDigit(hex.charCodeAt(index * 2 + 1))
    }
  }

  string(field: number, value: string): void {
    const start = this.begin(field)
    // UTF-8 takes at most three bytes per UTF-16 unit; ASCII, the usual case, is copied as is.
    this.room(value.length * 3)
    let ascii = true
    for (let index = 0; index < value.length; index++) {
      const code = value.charCodeAt(index)
      if (code >= 0x80) {
        ascii = false
        break
      }
      this.buffer[this.length + index] = code
    }
    if (ascii) this.length += value.length
    else this.length += utf8.encodeInto(value, this.buffer.subarray(this.length)).written
    this.end(start)
  }

  /** Starts a nested message; returns where its body starts, for `end`. */
  begin(field: number): number {
    this.tag(field, LENGTH_DELIMITED)
    this.room(1)
    this.length += 1
    return this.length
  }

  /** Ends the nested message whose body started at `start`, writing its length before it. */
  end(start: number): void {
    const size = this.length - start
    if (size < 0x80) {
      this.buffer[start - 1] = size
      return
    }
    let lengthBytes = 1
    for (let rest = size; rest >= 0x80; rest = Math.floor(rest / 0x80)) lengthBytes++
    this.room(lengthBytes - 1)
    this.buffer.copyWithin(start + lengthBytes - 1, start, this.length)
    const end = this.length + lengthBytes - 1
    this.length = start - 1
    this.varint(size)
    this.length = end
  }

  result(): Uint8Array {
    return this.buffer.slice(0, this.length)
  }
}

/** The value of one hex digit's character code (0–9, a–f, A–F). */
function hexDigit(code: number): number {
  return code <= 0x39 ? code - 0x30 : (code | 0x20) - 0x57
}

/** AnyValue (common.proto): 1 string, 2 bool, 3 int64, 4 double, 5 array, 7 bytes. */
function anyValue(writer: Writer, value: AttributeValue | Uint8Array | null | undefined): void {
  if (typeof value === 'string') writer.string(1, value)
  else if (typeof value === 'boolean') {
    writer.tag(2, VARINT)
    writer.varint(value ? 1 : 0)
  } else if (typeof value === 'number') {
    // Whole numbers are ints, as OpenTelemetry's own exporters send them; others doubles.
    if (Number.isInteger(value)) {
      writer.tag(3, VARINT)
      writer.int64(value)
    } else {
      writer.tag(4, FIXED64)
      writer.double(value)
    }
  } else if (value instanceof Uint8Array) writer.bytes(7, value)
  else if (Array.isArray(value)) {
    const array = writer.begin(5)
    for (const item of value) {
      const element = writer.begin(1)
      anyValue(writer, item)
      writer.end(element)
    }
    writer.end(array)
  }
}

/** Repeated KeyValue (key 1, value 2) under `field`. */
function attributes(writer: Writer, field: number, values: Attributes | undefined): void {
  if (!values) return
  for (const key of Object.keys(values)) {
    const value = values[key]
    if (value === undefined) continue
    const pair = writer.begin(field)
    writer.string(1, key)
    const any = writer.begin(2)
    anyValue(writer, value)
    writer.end(any)
    writer.end(pair)
  }
}

function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | FLAG_HAS_IS_REMOTE | (isRemote ? FLAG_IS_REMOTE : 0)
}

/** Span.Event: 1 time, 2 name, 3 attributes, 4 dropped attributes. */
function event(writer: Writer, timed: TimedEvent): void {
  const start = writer.begin(11)
  writer.tag(1, FIXED64)
  writer.hrTime(timed.time)
  writer.string(2, timed.name)
  attributes(writer, 3, timed.attributes)
  writer.tag(4, VARINT)
  writer.varint(timed.droppedAttributesCount ?? 0)
  writer.end(start)
}

/** Span.Link: 1 trace id, 2 span id, 3 trace state, 4 attributes, 5 dropped attributes, 6 flags. */
function link(writer: Writer, linked: Link): void {
  const start = writer.begin(13)
  const { context } = linked
  writer.hexId(1, context.traceId)
  writer.hexId(2, context.spanId)
  const state = context.traceState?.serialize()
  if (state) writer.string(3, state)
  attributes(writer, 4, linked.attributes)
  writer.tag(5, VARINT)
  writer.varint(linked.droppedAttributesCount ?? 0)
  writer.tag(6, FIXED32)
  writer.fixed32(spanFlags(context.traceFlags, context.isRemote))
  writer.end(start)
}

/**
 * Span (trace.proto), field by field in order. Counts of 0 are written too, as OpenTelemetry's own
 * serializer writes them, so the two give the same bytes (otlp-protobuf.test.ts).
 */
function span(writer: Writer, finished: ReadableSpan): void {
  const start = writer.begin(2)
  const context = finished.spanContext()
  writer.hexId(1, context.traceId)
  writer.hexId(2, context.spanId)
  const state = context.traceState?.serialize()
  if (state) writer.string(3, state)
  const parent = finished.parentSpanContext
  if (parent?.spanId) writer.hexId(4, parent.spanId)
  writer.string(5, finished.name)
  writer.tag(6, VARINT)
  // OTLP's SpanKind counts from 1 (0 is unspecified); the API's from 0 (INTERNAL).
  writer.varint((finished.kind ?? SpanKind.INTERNAL) + 1)
  writer.tag(7, FIXED64)
  writer.hrTime(finished.startTime)
  writer.tag(8, FIXED64)
  writer.hrTime(finished.endTime)
  attributes(writer, 9, finished.attributes)
  writer.tag(10, VARINT)
  writer.varint(finished.droppedAttributesCount ?? 0)
  for (const timed of finished.events) event(writer, timed)
  writer.tag(12, VARINT)
  writer.varint(finished.droppedEventsCount ?? 0)
  for (const linked of finished.links) link(writer, linked)
  writer.tag(14, VARINT)
  writer.varint(finished.droppedLinksCount ?? 0)
  // Status: 2 message, 3 code (the API's codes are OTLP's).
  const status = writer.begin(15)
  if (finished.status.message) writer.string(2, finished.status.message)
  writer.tag(3, VARINT)
  writer.varint(finished.status.code)
  writer.end(status)
  writer.tag(16, FIXED32)
  writer.fixed32(spanFlags(context.traceFlags, parent?.isRemote))
  writer.end(start)
}

type Scope = ReadableSpan['instrumentationScope']

/**
 * ExportTraceServiceRequest for `spans`: one ResourceSpans per resource and one ScopeSpans per
 * scope in it, in the order the spans first name them.
 */
export function encodeTraceRequest(spans: readonly ReadableSpan[]): Uint8Array {
  const byResource = new Map<ReadableSpan['resource'], Map<string, { scope: Scope; spans: ReadableSpan[] }>>()
  for (const finished of spans) {
    let scopes = byResource.get(finished.resource)
    if (!scopes) {
      scopes = new Map()
      byResource.set(finished.resource, scopes)
    }
    const { name, version = '', schemaUrl = '' } = finished.instrumentationScope
    const key = `${name}\u0000${version}\u0000${schemaUrl}`
    let entry = scopes.get(key)
    if (!entry) {
      entry = { scope: finished.instrumentationScope, spans: [] }
      scopes.set(key, entry)
    }
    entry.spans.push(finished)
  }
  const writer = new Writer()
  for (const [resource, scopes] of byResource) {
    const resourceSpans = writer.begin(1)
    // Resource: 1 attributes, 2 dropped attributes.
    const resourceStart = writer.begin(1)
    attributes(writer, 1, resource.attributes)
    writer.tag(2, VARINT)
    writer.varint(0)
    writer.end(resourceStart)
    for (const { scope, spans: scoped } of scopes.values()) {
      const scopeSpans = writer.begin(2)
      // InstrumentationScope: 1 name, 2 version.
      const scopeStart = writer.begin(1)
      writer.string(1, scope.name)
      if (scope.version) writer.string(2, scope.version)
      writer.end(scopeStart)
      for (const finished of scoped) span(writer, finished)
      if (scope.schemaUrl) writer.string(3, scope.schemaUrl)
      writer.end(scopeSpans)
    }
    if (resource.schemaUrl) writer.string(3, resource.schemaUrl)
    writer.end(resourceSpans)
  }
  return writer.result()
}

/** Reads fields of a protobuf message; enough for the answer's partial_success. */
class Reader {
  offset = 0
  constructor(private readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.offset >= this.bytes.length
  }

  varint(): number {
    let value = 0
    let scale = 1
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.offset >= this.bytes.length) throw new RangeError('truncated varint')
      const byte = this.bytes[this.offset++]!
      value += (byte & 0x7f) * scale
      if (byte < 0x80) return value
      scale *= 0x80
    }
    throw new RangeError('varint too long')
  }

  lengthDelimited(): Uint8Array {
    const length = this.varint()
    if (this.offset + length > this.bytes.length) throw new RangeError('truncated field')
    const value = this.bytes.subarray(this.offset, this.offset + length)
    this.offset += length
    return value
  }

  skip(wireType: number): void {
    if (wireType === VARINT) this.varint()
    else if (wireType === FIXED64) this.offset += 8
    else if (wireType === LENGTH_DELIMITED) this.lengthDelimited()
    else if (wireType === FIXED32) this.offset += 4
    else throw new RangeError(`unknown wire type ${wireType}`)
  }
}

/**
 * The partial_success of an ExportTraceServiceResponse (1 partial_success: 1 rejected_spans,
 * 2 error_message). Throws on a body that is not one.
 */
export function decodePartialSuccess(body: Uint8Array): { rejectedSpans: number; errorMessage: string } {
  const result = { rejectedSpans: 0, errorMessage: '' }
  const response = new Reader(body)
  while (!response.done) {
    const tag = response.varint()
    if (tag !== ((1 << 3) | LENGTH_DELIMITED)) {
      response.skip(tag & 7)
      continue
    }
    const partial = new Reader(response.lengthDelimited())
    while (!partial.done) {
      const field = partial.varint()
      if (field === ((1 << 3) | VARINT)) result.rejectedSpans = partial.varint()
      else if (field === ((2 << 3) | LENGTH_DELIMITED))
        result.errorMessage = new TextDecoder().decode(partial.lengthDelimited())
      else partial.skip(field & 7)
    }
  }
  return result
}
