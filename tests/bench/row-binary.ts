/**
 * Rows encoded in ClickHouse's RowBinary format, for `npm run bench:insert-format`: each value in its
 * column's binary layout, one row after the other. The candidate the collector's
 * JSONCompactEachRow was measured against (collector/docs/ingest-speed.md).
 *
 * The layout of each column comes from the table definitions in schema.ts (the one place column
 * types are written), so a column that changes type changes its encoding with it.
 */
import { Buffer } from 'node:buffer'
import type { TableDefinition } from '../../collector/dist/store/schema.js'

/** The column types daa's ingest tables use; anything else is refused when the encoder is built. */
type ColumnType =
  | { kind: 'string' }
  | { kind: 'uint64' }
  | { kind: 'float64' }
  | { kind: 'datetime64'; precision: number }
  | { kind: 'map' }
  | { kind: 'array'; item: ColumnType }

/** Splits `text` at commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = []
  let depth = 0
  let start = 0
  for (let index = 0; index < text.length; index++) {
    const char = text[index]
    if (char === '(') depth++
    else if (char === ')') depth--
    else if (char === ',' && depth === 0) {
      parts.push(text.slice(start, index))
      start = index + 1
    }
  }
  parts.push(text.slice(start))
  return parts.map((part) => part.trim()).filter((part) => part !== '')
}

/** The type at the start of `text` (a column definition's type, before CODEC or DEFAULT). */
function leadingType(text: string): string {
  let depth = 0
  for (let index = 0; index < text.length; index++) {
    const char = text[index]
    if (char === '(') depth++
    else if (char === ')') {
      depth--
      if (depth === 0) return text.slice(0, index + 1)
    } else if (char === ' ' && depth === 0) return text.slice(0, index)
  }
  return text
}

function parseType(type: string): ColumnType {
  const inner = (prefix: string) => type.slice(prefix.length + 1, -1).trim()
  if (type === 'String') return { kind: 'string' }
  if (type === 'UInt64') return { kind: 'uint64' }
  if (type === 'Float64') return { kind: 'float64' }
  if (type.startsWith('LowCardinality(')) return parseType(inner('LowCardinality'))
  if (type.startsWith('DateTime64(')) return { kind: 'datetime64', precision: Number(inner('DateTime64')) }
  if (type.startsWith('Array(')) return { kind: 'array', item: parseType(inner('Array')) }
  if (type.startsWith('Map(')) {
    const [key, value] = splitTopLevel(inner('Map')).map(parseType)
    if (key?.kind === 'string' && value?.kind === 'string') return { kind: 'map' }
  }
  throw new Error(`RowBinary encoding has no layout for the column type ${type}`)
}

/** Every column of a table with its type; a Nested column becomes its `name.field Array(T)` columns. */
export function columnTypesOf(table: TableDefinition): Map<string, ColumnType> {
  const types = new Map<string, ColumnType>()
  for (const definition of splitTopLevel(table.columns)) {
    const space = definition.indexOf(' ')
    const name = definition.slice(0, space)
    const type = leadingType(definition.slice(space + 1).trim())
    if (type.startsWith('Nested(')) {
      for (const field of splitTopLevel(type.slice('Nested('.length, -1))) {
        const fieldSpace = field.indexOf(' ')
        types.set(`${name}.${field.slice(0, fieldSpace)}`, {
          kind: 'array',
          item: parseType(field.slice(fieldSpace + 1).trim()),
        })
      }
    } else {
      types.set(name, parseType(type))
    }
  }
  return types
}

const TWO_TO_THE_32 = 4294967296
const NANOS_PER_SECOND = 1_000_000_000

/**
 * A growing byte buffer. Rows are written into one scratch buffer reused from request to request
 * (the event loop runs one encode at a time), and each request's rows are copied out once, at their
 * exact size: the batch waiting for ClickHouse holds a few off-heap Buffers, not strings.
 */
class ByteWriter {
  buffer = Buffer.allocUnsafe(1 << 20)
  position = 0

  reserve(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return
    let size = this.buffer.length * 2
    while (size < this.position + bytes) size *= 2
    const grown = Buffer.allocUnsafe(size)
    this.buffer.copy(grown, 0, 0, this.position)
    this.buffer = grown
  }

  varint(value: number): void {
    this.reserve(10)
    let rest = value
    while (rest >= 0x80) {
      this.buffer[this.position++] = (rest & 0x7f) | 0x80
      rest = Math.floor(rest / 128)
    }
    this.buffer[this.position++] = rest
  }

  string(text: string): void {
    const length = text.length
    // Short text: at most 3 bytes per UTF-16 unit, so its byte length fits one varint byte.
    if (length < 43) {
      this.reserve(1 + 3 * length)
      const start = this.position
      let at = start + 1
      let ascii = true
      for (let index = 0; index < length; index++) {
        const code = text.charCodeAt(index)
        if (code >= 0x80) {
          ascii = false
          break
        }
        this.buffer[at++] = code
      }
      const written = ascii ? length : this.buffer.write(text, start + 1, 'utf8')
      this.buffer[start] = written
      this.position = start + 1 + written
      return
    }
    const bytes = Buffer.byteLength(text, 'utf8')
    this.varint(bytes)
    this.reserve(bytes)
    this.buffer.write(text, this.position, 'utf8')
    this.position += bytes
  }

  uint64(value: number): void {
    this.reserve(8)
    const low = value % TWO_TO_THE_32
    this.buffer.writeUInt32LE(low, this.position)
    this.buffer.writeUInt32LE((value - low) / TWO_TO_THE_32, this.position + 4)
    this.position += 8
  }

  float64(value: number): void {
    this.reserve(8)
    this.buffer.writeDoubleLE(value, this.position)
    this.position += 8
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length)
    this.buffer.set(data, this.position)
    this.position += data.length
  }
}

/**
 * A DateTime64(9) value from nanoseconds as decimal text (the rows' form, exact past 2^53). Split in
 * seconds and nanoseconds so no BigInt is parsed per value; the int64 is built from two halves.
 */
function writeNanos(writer: ByteWriter, nanos: string): void {
  const split = nanos.length - 9
  const seconds = split > 0 ? Number(nanos.slice(0, split)) : 0
  const fraction = Number(split > 0 ? nanos.slice(split) : nanos)
  writeScaled(writer, seconds, fraction, NANOS_PER_SECOND)
}

/** Writes seconds × scale + fraction as a little-endian int64 (non-negative), exactly. */
function writeScaled(writer: ByteWriter, seconds: number, fraction: number, scale: number): void {
  // seconds × scale overflows a double's exact range; 16-bit halves of seconds keep every product exact.
  const secondsHigh = Math.floor(seconds / 65536)
  const secondsLow = seconds - secondsHigh * 65536
  const lowProduct = secondsLow * scale + fraction // < 2^16 × 1e9 + 1e9 < 2^53
  const highProduct = secondsHigh * scale // × 2^16
  // value = highProduct × 2^16 + lowProduct
  const lowWord = lowProduct % TWO_TO_THE_32
  const carry = (lowProduct - lowWord) / TWO_TO_THE_32
  const highTimes = highProduct * 65536 // may exceed 2^53 only past year 2262, rejected by validation
  const combinedLow = (highTimes % TWO_TO_THE_32) + lowWord
  const low = combinedLow % TWO_TO_THE_32
  const high = Math.floor(highTimes / TWO_TO_THE_32) + carry + (combinedLow - low) / TWO_TO_THE_32
  writer.reserve(8)
  writer.buffer.writeUInt32LE(low, writer.position)
  writer.buffer.writeUInt32LE(high, writer.position + 4)
  writer.position += 8
}

type ValueWriter = (writer: ByteWriter, value: unknown) => void

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value)
}

function valueWriter(type: ColumnType): ValueWriter {
  switch (type.kind) {
    case 'string':
      return (writer, value) => writer.string(textOf(value))
    case 'uint64':
      return (writer, value) => writer.uint64(Math.max(0, Math.trunc(Number(value) || 0)))
    case 'float64':
      return (writer, value) => writer.float64(Number(value))
    case 'datetime64': {
      if (type.precision === 9) return (writer, value) => writeNanos(writer, textOf(value))
      const scale = 10 ** type.precision
      return (writer, value) => {
        // Milliseconds (ingested_at) or other sub-second units, as a number.
        const units = Math.round(Number(value) * (scale / 1000))
        const seconds = Math.floor(units / scale)
        writeScaled(writer, seconds, units - seconds * scale, scale)
      }
    }
    case 'map':
      return (writer, value) => {
        const map = value as Record<string, string>
        let count = 0
        for (const _ in map) count++
        writer.varint(count)
        for (const key in map) {
          writer.string(key)
          writer.string(textOf(map[key]))
        }
      }
    case 'array': {
      const item = valueWriter(type.item)
      return (writer, value) => {
        const items = value as readonly unknown[]
        writer.varint(items.length)
        for (const entry of items) item(writer, entry)
      }
    }
  }
}

/** Rows of one table in RowBinary, with where each row ends (to split a batch around a refused row). */
export interface BinaryRows {
  data: Buffer
  /** rowEnds[i] is the byte offset just past row i. */
  rowEnds: Uint32Array
}

/**
 * An encoder for one table's rows under a fixed column list, with `trailing` values appended to each
 * row (the collector's `ingested_at`). A map object shared by consecutive rows (a resource's
 * attributes: mapping renders them once per resource) is encoded once and copied after that.
 */
export function rowBinaryEncoder(
  table: TableDefinition,
  columns: readonly string[],
): (rows: readonly object[], trailing?: readonly unknown[]) => BinaryRows {
  const types = columnTypesOf(table)
  const writers = columns.map((column) => {
    const type = types.get(column)
    if (!type) throw new Error(`table ${table.name} has no column ${column}`)
    return { column, type, write: valueWriter(type) }
  })
  const writer = new ByteWriter()
  return (rows, trailing = []) => {
    const leading = writers.length - trailing.length
    writer.position = 0
    const rowEnds = new Uint32Array(rows.length)
    const shared = new Map<object, Buffer>()
    const previous: unknown[] = new Array(writers.length)
    for (let line = 0; line < rows.length; line++) {
      const record = rows[line] as Record<string, unknown>
      for (let index = 0; index < writers.length; index++) {
        const { column, type, write } = writers[index]!
        const value = index < leading ? record[column] : trailing[index - leading]
        if (type.kind === 'map' && previous[index] === value && typeof value === 'object' && value !== null) {
          let bytes = shared.get(value)
          if (bytes === undefined) {
            const start = writer.position
            write(writer, value)
            bytes = Buffer.from(writer.buffer.subarray(start, writer.position))
            shared.set(value, bytes)
          } else {
            writer.bytes(bytes)
          }
        } else {
          write(writer, value)
        }
        previous[index] = value
      }
      rowEnds[line] = writer.position
    }
    return { data: Buffer.from(writer.buffer.subarray(0, writer.position)), rowEnds }
  }
}
