/**
 * A single-pass reader of the OTLP trace protobuf messages, straight into the decoded shapes
 * (decoded-span.ts). protobufjs first builds one object per message on the wire (every KeyValue,
 * AnyValue, Span, Long…) and decode-protobuf.ts then copied those into DecodedSpan: half the decode
 * time and most of the ingest path's garbage. Field numbers are those of opentelemetry-proto
 * (trace/v1/trace.proto, common/v1/common.proto, resource/v1/resource.proto); unknown fields are
 * skipped by wire type, as protobuf requires; strings must be valid UTF-8, as proto3 requires.
 */
import { Buffer } from 'node:buffer'
import { int64ToAttributeValue, setAttribute } from './attribute-values.js'
import type { Attributes, AttributeValue, DecodedEvent, DecodedLink } from './decoded-span.js'

/** The bytes are not a well-formed message (truncated, a bad varint, invalid UTF-8). */
export class ProtobufFormatError extends Error {
  override readonly name = 'ProtobufFormatError'
}

const WIRE_VARINT = 0
const WIRE_FIXED64 = 1
const WIRE_LENGTH_DELIMITED = 2
const WIRE_START_GROUP = 3
const WIRE_END_GROUP = 4
const WIRE_FIXED32 = 5

const TWO_TO_THE_32 = 4294967296
/** Nesting of AnyValue arrays and kvlists the reader follows (validation allows 16; this only stops a stack overflow). */
const MAX_VALUE_DEPTH = 64

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Strings the reader hands out again for the same bytes: a direct-mapped table (a new string
 * replaces the one in its slot), per thread, at most INTERNED_SLOTS strings of INTERNED_MAX_LENGTH
 * characters (256 KB).
 */
const INTERNED_SLOTS = 4096
const INTERNED_MAX_LENGTH = 64
const interned: string[] = new Array<string>(INTERNED_SLOTS).fill('')

/** A position in a buffer, and the end of the message being read. */
export class ProtobufReader {
  position: number
  /** The same bytes, viewed as a Buffer (no copy) for its native hex and UTF-8 slicing. */
  readonly bytes: Buffer

  constructor(
    bytes: Uint8Array,
    start = 0,
    public end = bytes.length,
  ) {
    this.bytes = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.position = start
  }

  /** The next tag's field number and wire type, as one number (field << 3 | type). */
  tag(): number {
    return this.varint32()
  }

  varint32(): number {
    // Up to 10 bytes; bits past 32 are dropped (an int32 field written as a negative int64 varint).
    let result = 0
    let shift = 0
    for (let index = 0; index < 10; index++) {
      if (this.position >= this.end) throw new ProtobufFormatError('truncated varint')
      const byte = this.bytes[this.position++]!
      if (shift < 32) result |= (byte & 0x7f) << shift
      if (byte < 0x80) return result >>> 0
      shift += 7
    }
    throw new ProtobufFormatError('varint longer than 10 bytes')
  }

  /** A varint as a signed 64-bit value, split in its low and high 32 bits. */
  varint64(): { low: number; high: number } {
    let low = 0
    let high = 0
    for (let index = 0; index < 10; index++) {
      if (this.position >= this.end) throw new ProtobufFormatError('truncated varint')
      const byte = this.bytes[this.position++]!
      if (index < 4) low |= (byte & 0x7f) << (7 * index)
      else if (index === 4) {
        low |= (byte & 0x0f) << 28
        high |= (byte & 0x7f) >> 4
      } else high |= (byte & 0x7f) << (7 * index - 32)
      if (byte < 0x80) return { low: low >>> 0, high: high | 0 }
    }
    throw new ProtobufFormatError('varint longer than 10 bytes')
  }

  fixed64AsBigInt(): bigint {
    const at = this.take(8)
    const view = this.bytes
    const low = (view[at]! | (view[at + 1]! << 8) | (view[at + 2]! << 16) | (view[at + 3]! << 24)) >>> 0
    const high = (view[at + 4]! | (view[at + 5]! << 8) | (view[at + 6]! << 16) | (view[at + 7]! << 24)) >>> 0
    // Small enough for a double (every timestamp before 2255): one BigInt conversion, no shifts.
    const approximate = high * TWO_TO_THE_32 + low
    return Number.isSafeInteger(approximate) ? BigInt(approximate) : (BigInt(high) << 32n) | BigInt(low)
  }

  double(): number {
    const at = this.take(8)
    for (let index = 0; index < 8; index++) scratchBytes[index] = this.bytes[at + index]!
    return scratchView.getFloat64(0, true)
  }

  /** Advances past `length` bytes and returns where they start. */
  take(length: number): number {
    const at = this.position
    if (length < 0 || at + length > this.end)
      throw new ProtobufFormatError('field runs past the end of its message')
    this.position = at + length
    return at
  }

  /** A length-delimited field's bounds: [start, end). */
  delimited(): number {
    const length = this.varint32()
    this.take(length)
    return length
  }

  string(): string {
    const length = this.varint32()
    const start = this.take(length)
    const bytes = this.bytes
    const end = start + length
    if (length > INTERNED_MAX_LENGTH) return utf8(bytes, start, end)
    // Short ASCII strings (attribute keys, model, tool and operation names, service names) repeat
    // in nearly every span: the same bytes give back the string decoded before, so the common case
    // allocates nothing, and a key that was used as a property name before stays internalized.
    let hash = 0x811c9dc5
    for (let index = start; index < end; index++) {
      const byte = bytes[index]!
      if (byte & 0x80) return utf8(bytes, start, end)
      hash = Math.imul(hash ^ byte, 0x01000193)
    }
    const slot = hash & (INTERNED_SLOTS - 1)
    const known = interned[slot]!
    if (known.length === length) {
      let index = 0
      while (index < length && known.charCodeAt(index) === bytes[start + index]) index++
      if (index === length) return known
    }
    const text = bytes.toString('latin1', start, end)
    interned[slot] = text
    return text
  }

  /** A bytes field as lowercase hex (trace and span ids), without a view of it. */
  hex(): string {
    const length = this.varint32()
    const start = this.take(length)
    return length === 0 ? '' : this.bytes.toString('hex', start, start + length)
  }

  bytesField(): Uint8Array {
    const length = this.varint32()
    const start = this.take(length)
    return this.bytes.subarray(start, start + length)
  }

  /** Skips a field of the given wire type (its tag already read). */
  skip(wireType: number, fieldNumber: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint64()
        return
      case WIRE_FIXED64:
        this.take(8)
        return
      case WIRE_LENGTH_DELIMITED:
        this.delimited()
        return
      case WIRE_FIXED32:
        this.take(4)
        return
      case WIRE_START_GROUP:
        for (;;) {
          const tag = this.tag()
          if ((tag & 7) === WIRE_END_GROUP) {
            if (tag >>> 3 !== fieldNumber) throw new ProtobufFormatError('mismatched end of group')
            return
          }
          this.skip(tag & 7, tag >>> 3)
        }
      default:
        throw new ProtobufFormatError(`invalid wire type ${wireType}`)
    }
  }

  /**
   * Enters a length-delimited sub-message (its tag already read): reading stops at its end. Returns
   * the enclosing message's end, for `leave` once the sub-message is read to its end.
   */
  enter(): number {
    const length = this.varint32()
    const start = this.take(length)
    const outerEnd = this.end
    this.position = start
    this.end = start + length
    return outerEnd
  }

  leave(outerEnd: number): void {
    this.end = outerEnd
  }
}

const scratchBytes = new Uint8Array(8)
const scratchView = new DataView(scratchBytes.buffer)

function utf8(bytes: Uint8Array, start: number, end: number): string {
  try {
    return strictUtf8.decode(bytes.subarray(start, end))
  } catch (error) {
    throw new ProtobufFormatError('a string field is not valid UTF-8', { cause: error })
  }
}

/** AnyValue (common.proto): the member on the wire (the last one, if several were written). */
function readAnyValue(reader: ProtobufReader, depth: number): AttributeValue {
  if (depth > MAX_VALUE_DEPTH) throw new ProtobufFormatError('AnyValue nested too deep')
  // No member set: the specification's "empty value".
  let value: AttributeValue = null
  while (reader.position < reader.end) {
    const tag = reader.tag()
    switch (tag) {
      case (1 << 3) | WIRE_LENGTH_DELIMITED:
        value = reader.string()
        break
      case (2 << 3) | WIRE_VARINT: {
        const { low, high } = reader.varint64()
        value = (low | high) !== 0
        break
      }
      case (3 << 3) | WIRE_VARINT: {
        const { low, high } = reader.varint64()
        // Exact whenever the result is a safe integer; beyond that, decimal text.
        const approximate = high * TWO_TO_THE_32 + low
        value = Number.isSafeInteger(approximate)
          ? approximate
          : int64ToAttributeValue((BigInt(high) << 32n) + BigInt(low))
        break
      }
      case (4 << 3) | WIRE_FIXED64:
        value = reader.double()
        break
      case (5 << 3) | WIRE_LENGTH_DELIMITED: {
        const outer = reader.enter()
        value = readArrayValue(reader, depth + 1)
        reader.leave(outer)
        break
      }
      case (6 << 3) | WIRE_LENGTH_DELIMITED: {
        const outer = reader.enter()
        value = readKeyValueList(reader, depth + 1)
        reader.leave(outer)
        break
      }
      case (7 << 3) | WIRE_LENGTH_DELIMITED: {
        // AttributeValue has no binary type: bytes become base64, as OTLP/JSON writes them.
        const bytes = reader.bytesField()
        value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
        break
      }
      default:
        reader.skip(tag & 7, tag >>> 3)
    }
  }
  return value
}

function readArrayValue(reader: ProtobufReader, depth: number): AttributeValue[] {
  const values: AttributeValue[] = []
  while (reader.position < reader.end) {
    const tag = reader.tag()
    if (tag === ((1 << 3) | WIRE_LENGTH_DELIMITED)) {
      const outer = reader.enter()
      values.push(readAnyValue(reader, depth))
      reader.leave(outer)
    } else reader.skip(tag & 7, tag >>> 3)
  }
  return values
}

function readKeyValueList(reader: ProtobufReader, depth: number): Attributes {
  const attributes: Attributes = {}
  while (reader.position < reader.end) {
    const tag = reader.tag()
    if (tag === ((1 << 3) | WIRE_LENGTH_DELIMITED)) readKeyValueInto(reader, attributes, depth)
    else reader.skip(tag & 7, tag >>> 3)
  }
  return attributes
}

/**
 * One KeyValue (a length-delimited field, its tag already read) into `attributes`. A repeated key
 * keeps the last value (the specification forbids duplicates and leaves the receiver's behaviour open).
 */
export function readKeyValueInto(reader: ProtobufReader, attributes: Attributes, depth = 0): void {
  const outer = reader.enter()
  let key = ''
  let value: AttributeValue = null
  while (reader.position < reader.end) {
    const tag = reader.tag()
    if (tag === ((1 << 3) | WIRE_LENGTH_DELIMITED)) key = reader.string()
    else if (tag === ((2 << 3) | WIRE_LENGTH_DELIMITED)) {
      const inKeyValue = reader.enter()
      value = readAnyValue(reader, depth + 1)
      reader.leave(inKeyValue)
    } else reader.skip(tag & 7, tag >>> 3)
  }
  reader.leave(outer)
  setAttribute(attributes, key, value)
}

/** Event (trace.proto Span.Event). */
export function readEvent(reader: ProtobufReader): DecodedEvent {
  let timeUnixNano = 0n
  let name = ''
  const attributes: Attributes = {}
  while (reader.position < reader.end) {
    const tag = reader.tag()
    switch (tag) {
      case (1 << 3) | WIRE_FIXED64:
        timeUnixNano = reader.fixed64AsBigInt()
        break
      case (2 << 3) | WIRE_LENGTH_DELIMITED:
        name = reader.string()
        break
      case (3 << 3) | WIRE_LENGTH_DELIMITED:
        readKeyValueInto(reader, attributes)
        break
      default:
        reader.skip(tag & 7, tag >>> 3)
    }
  }
  return { timeUnixNano, name, attributes }
}

/** Link (trace.proto Span.Link). */
export function readLink(reader: ProtobufReader): DecodedLink {
  let traceId = ''
  let spanId = ''
  let traceState = ''
  const attributes: Attributes = {}
  while (reader.position < reader.end) {
    const tag = reader.tag()
    switch (tag) {
      case (1 << 3) | WIRE_LENGTH_DELIMITED:
        traceId = reader.hex()
        break
      case (2 << 3) | WIRE_LENGTH_DELIMITED:
        spanId = reader.hex()
        break
      case (3 << 3) | WIRE_LENGTH_DELIMITED:
        traceState = reader.string()
        break
      case (4 << 3) | WIRE_LENGTH_DELIMITED:
        readKeyValueInto(reader, attributes)
        break
      default:
        reader.skip(tag & 7, tag >>> 3)
    }
  }
  return { traceId, spanId, traceState, attributes }
}

export const WIRE = {
  varint: WIRE_VARINT,
  fixed64: WIRE_FIXED64,
  lengthDelimited: WIRE_LENGTH_DELIMITED,
  fixed32: WIRE_FIXED32,
} as const
