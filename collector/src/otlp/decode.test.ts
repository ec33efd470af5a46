import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import type { ReadableSpan } from '@opentelemetry/sdk-trace'
import protobuf from 'protobufjs/light.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { decodeJsonRequest } from './decode-json.js'
import { decodeProtobufRequest } from './decode-protobuf.js'
import type { DecodedRequest, DecodedSpan } from './decoded-span.js'
import { OtlpDecodeError } from './errors.js'
import { exportTraceServiceRequestType } from './protobuf-schema.js'
import { createOfficialSpans, expectedDecodedSpan } from './test-official-spans.js'

const bySpanId = (left: DecodedSpan, right: DecodedSpan) => left.spanId.localeCompare(right.spanId)

/** Encodes a request written in protobufjs' object form with our schema (for cases the SDK cannot produce). */
function encodeProtobuf(request: Record<string, unknown>): Uint8Array {
  return exportTraceServiceRequestType.encode(exportTraceServiceRequestType.fromObject(request)).finish()
}

const validIds = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' }

/** One span in OTLP/JSON form, with `overrides` replacing or adding fields. */
function jsonRequestWithSpans(...spans: Array<Record<string, unknown>>): string {
  return JSON.stringify({
    resourceSpans: [{ scopeSpans: [{ scope: { name: 'test' }, spans }] }],
  })
}
function jsonSpan(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...validIds,
    name: 'span',
    startTimeUnixNano: '1767225600000000000',
    endTimeUnixNano: '1767225601000000000',
    ...overrides,
  }
}

describe('decoding what the official OpenTelemetry JS exporters send', () => {
  let officialSpans: ReadableSpan[]
  let expectedSpans: DecodedSpan[]
  beforeAll(async () => {
    officialSpans = await createOfficialSpans()
    expectedSpans = officialSpans.map(expectedDecodedSpan).sort(bySpanId)
  })

  it('has test spans that exercise what matters', () => {
    expect(officialSpans).toHaveLength(5)
    expect(expectedSpans.some((span) => span.traceState === 'vendor=value,other=1')).toBe(true)
    expect(new Set(expectedSpans.map((span) => span.kind))).toEqual(new Set([1, 2, 3, 4, 5]))
    expect(new Set(expectedSpans.map((span) => span.status.code))).toEqual(new Set([0, 1, 2]))
  })

  it('decodes OTLP/protobuf (ProtobufTraceSerializer) field by field', () => {
    const body = ProtobufTraceSerializer.serializeRequest(officialSpans)
    if (body === undefined) throw new Error('the serializer produced no body')
    const decoded = decodeProtobufRequest(body)
    expect(decoded.rejectionMessages).toEqual([])
    expect(decoded.rejectionMessages).toEqual([])
    expect([...decoded.spans].sort(bySpanId)).toEqual(expectedSpans)
  })

  it('decodes OTLP/JSON (JsonTraceSerializer) field by field', () => {
    const body = JsonTraceSerializer.serializeRequest(officialSpans)
    if (body === undefined) throw new Error('the serializer produced no body')
    const decoded = decodeJsonRequest(new TextDecoder().decode(body))
    expect(decoded.rejectionMessages).toEqual([])
    expect([...decoded.spans].sort(bySpanId)).toEqual(expectedSpans)
  })

  it('decodes the resource once per resource and shares it between spans', () => {
    const decoded = decodeProtobufRequest(ProtobufTraceSerializer.serializeRequest(officialSpans)!)
    const [first, ...others] = decoded.spans
    for (const span of others) expect(span.resource).toBe(first?.resource)
  })
})

describe('decoding OTLP/protobuf', () => {
  it('decodes every AnyValue form, scope attributes and 64-bit edge values', () => {
    const decoded = decodeProtobufRequest(
      encodeProtobuf({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
            scopeSpans: [
              {
                scope: {
                  name: 'scope',
                  version: '1.0',
                  attributes: [{ key: 'scope.attr', value: { boolValue: true } }],
                },
                spans: [
                  {
                    traceId: Buffer.from('0AF7651916CD43DD8448EB211C80319C', 'hex'),
                    spanId: Buffer.from(validIds.spanId, 'hex'),
                    parentSpanId: Buffer.alloc(8), // all zero: read as "no parent"
                    name: 'edge values',
                    // The last instant the schema stores (2149-06-06T23:59:59.999999999Z, the last day of
                    // ClickHouse's Date); later ones are rejected (bad-input.test.ts).
                    startTimeUnixNano: '5662310399999999999',
                    endTimeUnixNano: '5662310399999999999',
                    attributes: [
                      { key: 'max.int64', value: { intValue: '9223372036854775807' } },
                      { key: 'min.int64', value: { intValue: '-9223372036854775808' } },
                      { key: 'max.safe', value: { intValue: String(Number.MAX_SAFE_INTEGER) } },
                      { key: 'min.safe', value: { intValue: String(Number.MIN_SAFE_INTEGER) } },
                      { key: 'beyond.safe', value: { intValue: '9007199254740993' } },
                      { key: 'negative', value: { intValue: '-5' } },
                      { key: 'double', value: { doubleValue: -0.25 } },
                      { key: 'bytes', value: { bytesValue: Buffer.from([0, 1, 2, 255]) } },
                      { key: 'zero.int', value: { intValue: 0 } },
                      { key: 'zero.double', value: { doubleValue: 0 } },
                      { key: 'empty.string', value: { stringValue: '' } },
                      { key: 'false', value: { boolValue: false } },
                      { key: 'empty', value: {} },
                      { key: 'absent' },
                      {
                        key: 'nested',
                        value: {
                          kvlistValue: {
                            values: [
                              {
                                key: 'list',
                                value: { arrayValue: { values: [{ stringValue: 'x' }, { intValue: 1 }] } },
                              },
                              { key: '__proto__', value: { stringValue: 'kept as a plain key' } },
                            ],
                          },
                        },
                      },
                      { key: 'duplicate', value: { stringValue: 'first' } },
                      { key: 'duplicate', value: { stringValue: 'last' } },
                    ],
                    status: { code: 2, message: 'boom' },
                  },
                ],
              },
            ],
          },
        ],
      }),
    )
    expect(decoded.rejectionMessages).toEqual([])
    expect(decoded.rejectionMessages).toEqual([])
    const [span] = decoded.spans
    expect(span?.traceId).toBe(validIds.traceId)
    expect(span?.parentSpanId).toBe('')
    expect(span?.startTimeUnixNano).toBe(5662310399999999999n)
    expect(span?.status).toEqual({ code: 2, message: 'boom' })
    expect(span?.resource).toEqual({ 'service.name': 'svc' })
    expect(span?.scope).toEqual({ name: 'scope', version: '1.0', attributes: { 'scope.attr': true } })
    const nested = { list: ['x', 1] }
    Object.defineProperty(nested, '__proto__', { value: 'kept as a plain key', enumerable: true })
    expect(span?.attributes).toEqual({
      'max.int64': '9223372036854775807',
      'min.int64': '-9223372036854775808',
      'max.safe': Number.MAX_SAFE_INTEGER,
      'min.safe': Number.MIN_SAFE_INTEGER,
      'beyond.safe': '9007199254740993',
      negative: -5,
      double: -0.25,
      bytes: 'AAEC/w==',
      'zero.int': 0,
      'zero.double': 0,
      'empty.string': '',
      false: false,
      empty: null,
      absent: null,
      nested,
      duplicate: 'last',
    })
    expect(Object.getPrototypeOf(span?.attributes.nested)).toBe(Object.prototype)
  })

  it('decodes an empty body as a request without spans', () => {
    expect(decodeProtobufRequest(new Uint8Array())).toEqual({
      spans: [],
      rejectedSpans: 0,
      rejectionMessages: [],
    })
  })

  it('reads fields in any order, skips unknown fields of every wire type, merges a repeated resource', () => {
    const writer = protobuf.Writer.create()
    // A span: ids, name, start/end; then unknown fields (varint 20, fixed32 21, fixed64 22, bytes 23, group 24).
    const span = protobuf.Writer.create()
    span.uint32((5 << 3) | 2).string('late span')
    span.uint32((1 << 3) | 2).bytes(Buffer.from(validIds.traceId, 'hex'))
    span.uint32((2 << 3) | 2).bytes(Buffer.from(validIds.spanId, 'hex'))
    span.uint32((7 << 3) | 1).fixed64('1767225600000000000')
    span.uint32((8 << 3) | 1).fixed64('1767225601000000000')
    span.uint32((20 << 3) | 0).uint64(123456789012)
    span.uint32((21 << 3) | 5).fixed32(7)
    span.uint32((22 << 3) | 1).fixed64(9)
    span.uint32((23 << 3) | 2).bytes(new Uint8Array([1, 2, 3]))
    span
      .uint32((24 << 3) | 3)
      .uint32((1 << 3) | 0)
      .uint32(5)
      .uint32((24 << 3) | 4)
    const scopeSpans = protobuf.Writer.create()
    scopeSpans.uint32((2 << 3) | 2).bytes(span.finish()) // the span before its scope
    scopeSpans.uint32((1 << 3) | 2).bytes(
      protobuf.Writer.create()
        .uint32((1 << 3) | 2)
        .string('scope-a')
        .finish(),
    )
    const keyValue = (key: string, value: string) => {
      const anyValue = protobuf.Writer.create()
        .uint32((1 << 3) | 2)
        .string(value)
        .finish()
      return protobuf.Writer.create()
        .uint32((1 << 3) | 2)
        .string(key)
        .uint32((2 << 3) | 2)
        .bytes(anyValue)
        .finish()
    }
    const resource = (key: string, value: string) =>
      protobuf.Writer.create()
        .uint32((1 << 3) | 2)
        .bytes(keyValue(key, value))
        .finish()
    const resourceSpans = protobuf.Writer.create()
    resourceSpans.uint32((2 << 3) | 2).bytes(scopeSpans.finish()) // the spans before their resource
    resourceSpans.uint32((1 << 3) | 2).bytes(resource('service.name', 'svc'))
    resourceSpans.uint32((1 << 3) | 2).bytes(resource('host.name', 'h1'))
    writer.uint32((1 << 3) | 2).bytes(resourceSpans.finish())
    const decoded = decodeProtobufRequest(writer.finish())
    expect(decoded.rejectionMessages).toEqual([])
    expect(decoded.spans).toHaveLength(1)
    expect(decoded.spans[0]).toMatchObject({
      ...validIds,
      name: 'late span',
      startTimeUnixNano: 1_767_225_600_000_000_000n,
      endTimeUnixNano: 1_767_225_601_000_000_000n,
      scope: { name: 'scope-a' },
      resource: { 'service.name': 'svc', 'host.name': 'h1' },
    })
  })

  it('rejects alone a span with a string that is not UTF-8 (as proto3 requires), keeping the span beside it', () => {
    const span = (name: string, spanId: string) => ({
      name,
      traceId: Buffer.from(validIds.traceId, 'hex'),
      spanId: Buffer.from(spanId, 'hex'),
      startTimeUnixNano: '1767225600000000000',
      endTimeUnixNano: '1767225601000000000',
    })
    const body = encodeProtobuf({
      resourceSpans: [
        { scopeSpans: [{ spans: [span('MARK', '00f067aa0ba902b7'), span('kept', '00f067aa0ba902b8')] }] },
      ],
    })
    const broken = Uint8Array.from(body)
    broken[Buffer.from(body).indexOf('MARK')] = 0xff
    const decoded = decodeProtobufRequest(broken)
    expect(decoded.spans.map((kept) => kept.name)).toEqual(['kept'])
    expect(decoded.rejectedSpans).toBe(1)
    expect(decoded.rejectionMessages.join()).toMatch(
      /not a well-formed protobuf Span \(a string field is not valid UTF-8\)/,
    )
  })

  it('refuses a request whose resource has a string that is not UTF-8 (every span shares it)', () => {
    const body = encodeProtobuf({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'MARK' } }] },
          scopeSpans: [{ spans: [{ name: 'a' }] }],
        },
      ],
    })
    const broken = Uint8Array.from(body)
    broken[Buffer.from(body).indexOf('MARK')] = 0xff
    expect(() => decodeProtobufRequest(broken)).toThrow(/not valid UTF-8/)
  })

  it.each([
    ['truncated varint', new Uint8Array([0x0a, 0xff])],
    ['length beyond the end', new Uint8Array([0x0a, 0x10, 0x01])],
    ['JSON sent as protobuf', new TextEncoder().encode('{"resourceSpans":[]}')],
    ['invalid wire type', new Uint8Array([0x0f])],
  ])('throws OtlpDecodeError for a malformed body: %s', (_case, body) => {
    expect(() => decodeProtobufRequest(body)).toThrow(OtlpDecodeError)
    expect(() => decodeProtobufRequest(body)).toThrow(/not a protobuf ExportTraceServiceRequest/)
  })
})

describe('decoding OTLP/JSON', () => {
  it('accepts 64-bit integers as strings or numbers, hex ids in any case, and ignores unknown fields', () => {
    const decoded = decodeJsonRequest(
      jsonRequestWithSpans(
        jsonSpan({
          traceId: validIds.traceId.toUpperCase(),
          startTimeUnixNano: 1767225600000000000,
          endTimeUnixNano: '1767225600000000001',
          somethingNew: { nested: [1, 2] },
          droppedAttributesCount: 3,
          flags: 257,
          attributes: [
            { key: 'as.string', value: { intValue: '42' } },
            { key: 'as.number', value: { intValue: 42 } },
            { key: 'big', value: { intValue: '-9223372036854775808' } },
            { key: 'nan', value: { doubleValue: 'NaN' } },
            { key: 'infinity', value: { doubleValue: '-Infinity' } },
            { key: 'double.text', value: { doubleValue: '1.5' } },
            { key: 'bytes', value: { bytesValue: 'AAEC/w==' } },
            { key: 'list', value: { arrayValue: { values: [{ boolValue: false }, {}] } } },
            { key: 'map', value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } } },
            { key: 'empty.list', value: { arrayValue: {} } },
            { key: 'null', value: null },
            { key: 'future.type', value: { someFutureValue: 1 } },
          ],
        }),
      ),
    )
    expect(decoded.rejectionMessages).toEqual([])
    const [span] = decoded.spans
    expect(span?.traceId).toBe(validIds.traceId)
    // A JSON number above 2^53 has already been rounded by JSON.parse: this is the double nearest to it.
    expect(span?.startTimeUnixNano).toBe(BigInt(1767225600000000000))
    expect(span?.endTimeUnixNano).toBe(1767225600000000001n)
    expect(span?.attributes).toEqual({
      'as.string': 42,
      'as.number': 42,
      big: '-9223372036854775808',
      nan: Number.NaN,
      infinity: -Infinity,
      'double.text': 1.5,
      bytes: 'AAEC/w==',
      list: [false, null],
      map: { k: 'v' },
      'empty.list': [],
      null: null,
      'future.type': null,
    })
  })

  it('accepts the original snake_case field names as well as lowerCamelCase', () => {
    const snakeCase = JSON.stringify({
      resource_spans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { string_value: 'svc' } }] },
          scope_spans: [
            {
              scope: { name: 'scope', version: '2' },
              spans: [
                {
                  trace_id: validIds.traceId,
                  span_id: validIds.spanId,
                  parent_span_id: '00f067aa0ba902b7',
                  trace_state: 'k=v',
                  name: 'snake',
                  kind: 2,
                  start_time_unix_nano: '1767225600000000000',
                  end_time_unix_nano: '1767225601000000000',
                  attributes: [
                    { key: 'n', value: { int_value: '7' } },
                    { key: 'd', value: { double_value: 0.5 } },
                    { key: 'b', value: { bool_value: true } },
                    { key: 'a', value: { array_value: { values: [{ string_value: 'x' }] } } },
                    {
                      key: 'm',
                      value: { kvlist_value: { values: [{ key: 'k', value: { bytes_value: 'AQ==' } }] } },
                    },
                  ],
                  events: [{ time_unix_nano: '1767225600500000000', name: 'event' }],
                  links: [{ trace_id: validIds.traceId, span_id: '00f067aa0ba902b7', trace_state: 'l=1' }],
                  status: { code: 2, message: 'failed' },
                },
              ],
            },
          ],
        },
      ],
    })
    const decoded = decodeJsonRequest(snakeCase)
    expect(decoded.rejectionMessages).toEqual([])
    expect(decoded.spans).toEqual([
      {
        traceId: validIds.traceId,
        spanId: validIds.spanId,
        parentSpanId: '00f067aa0ba902b7',
        traceState: 'k=v',
        name: 'snake',
        kind: 2,
        startTimeUnixNano: 1767225600000000000n,
        endTimeUnixNano: 1767225601000000000n,
        attributes: { n: 7, d: 0.5, b: true, a: ['x'], m: { k: 'AQ==' } },
        events: [{ timeUnixNano: 1767225600500000000n, name: 'event', attributes: {} }],
        links: [{ traceId: validIds.traceId, spanId: '00f067aa0ba902b7', traceState: 'l=1', attributes: {} }],
        status: { code: 2, message: 'failed' },
        resource: { 'service.name': 'svc' },
        scope: { name: 'scope', version: '2', attributes: {} },
      },
    ])
  })

  it('prefers the lowerCamelCase field when both spellings are present', () => {
    const decoded = decodeJsonRequest(
      jsonRequestWithSpans(jsonSpan({ name: 'camel', trace_state: 'ignored', traceState: 'used' })),
    )
    expect(decoded.spans[0]?.traceState).toBe('used')
  })

  it('rejects only the span whose fields have the wrong JSON type (enum names, fractional integers)', () => {
    const decoded = decodeJsonRequest(
      jsonRequestWithSpans(
        jsonSpan({ name: 'kind as name', kind: 'SPAN_KIND_SERVER' }),
        jsonSpan({ name: 'fractional int', attributes: [{ key: 'n', value: { intValue: 1.5 } }] }),
        jsonSpan({ name: 'negative time', startTimeUnixNano: '-1' }),
        jsonSpan({ name: 'good' }),
      ),
    )
    expect(decoded.spans.map((span) => span.name)).toEqual(['good'])
    expect(decoded.rejectedSpans).toBe(3)
    expect(decoded.rejectionMessages).toHaveLength(3)
    expect(decoded.rejectionMessages[0]).toMatch(/^1 span rejected: kind: .*\(first: span "kind as name"\)$/)
    expect(decoded.rejectionMessages[1]).toMatch(/attributes\.0\.value\.intValue: must be an integer/)
    expect(decoded.rejectionMessages[2]).toMatch(/startTimeUnixNano: must be a non-negative decimal integer/)
  })

  it.each([
    ['not JSON', '{"resourceSpans": [', /not valid JSON/],
    ['a JSON array', '[]', /not a JSON object/],
    ['a JSON string', '"spans"', /not a JSON object/],
    ['resourceSpans not an array', '{"resourceSpans": {}}', /resourceSpans: /],
    ['scopeSpans not an array', '{"resourceSpans": [{"scopeSpans": 3}]}', /resourceSpans\.0\.scopeSpans: /],
    [
      'resource attributes malformed',
      '{"resourceSpans": [{"resource": {"attributes": [1]}}]}',
      /resource\.attributes\.0/,
    ],
  ])('throws OtlpDecodeError for a malformed body: %s', (_case, body, message) => {
    expect(() => decodeJsonRequest(body)).toThrow(OtlpDecodeError)
    expect(() => decodeJsonRequest(body)).toThrow(message)
  })

  it('decodes an empty object as a request without spans', () => {
    expect(decodeJsonRequest('{}')).toEqual({ spans: [], rejectedSpans: 0, rejectionMessages: [] })
  })
})

describe('per-span validation (both encodings)', () => {
  const invalidSpans: Array<[reason: RegExp, overrides: Record<string, unknown>]> = [
    [/traceId is not 16 bytes/, { name: 'short trace id', traceId: '0af7651916cd43dd' }],
    [/traceId is not 16 bytes/, { name: 'zero trace id', traceId: '0'.repeat(32) }],
    [/spanId is not 8 bytes/, { name: 'zero span id', spanId: '0'.repeat(16) }],
    [/spanId is not 8 bytes/, { name: 'missing span id', spanId: '' }],
    [
      /parentSpanId is neither empty nor 8 bytes/,
      { name: 'long parent', parentSpanId: 'b7ad6b7169203331aa' },
    ],
    [
      /a link has an invalid traceId or spanId/,
      { name: 'bad link', links: [{ traceId: 'abcd', spanId: 'b7ad6b7169203331' }] },
    ],
    [/startTimeUnixNano is missing/, { name: 'no start', startTimeUnixNano: '0' }],
    [
      /endTimeUnixNano is before startTimeUnixNano/,
      { name: 'reversed', endTimeUnixNano: '1767225599000000000' },
    ],
    [/status.code 7 is not 0/, { name: 'odd status', status: { code: 7 } }],
  ]
  const goodSpans = [
    jsonSpan({ name: 'good 1' }),
    jsonSpan({ name: '', spanId: '00f067aa0ba902b7', kind: 9 }),
  ]

  function expectPartialRejection(decoded: DecodedRequest) {
    expect(decoded.spans.map((span) => span.name)).toEqual(['good 1', ''])
    expect(decoded.spans[1]?.kind).toBe(9)
    expect(decoded.rejectedSpans).toBe(invalidSpans.length)
    const joined = decoded.rejectionMessages.join('\n')
    for (const [reason] of invalidSpans) expect(joined).toMatch(reason)
    expect(joined).toContain(
      '2 spans rejected: traceId is not 16 bytes (32 hex digits) or is all zero (first: span "short trace id")',
    )
  }

  it('keeps the valid spans of an OTLP/JSON request and counts the invalid ones', () => {
    const spans = [goodSpans[0]!, ...invalidSpans.map(([, overrides]) => jsonSpan(overrides)), goodSpans[1]!]
    expectPartialRejection(decodeJsonRequest(jsonRequestWithSpans(...spans)))
  })

  it('keeps the valid spans of an OTLP/protobuf request and counts the invalid ones', () => {
    const hexToBytes = (hex: unknown) => Buffer.from(String(hex ?? ''), 'hex')
    const toProtobufSpan = (span: Record<string, unknown>) => ({
      ...span,
      traceId: hexToBytes(span.traceId),
      spanId: hexToBytes(span.spanId),
      parentSpanId: hexToBytes(span.parentSpanId),
      links: ((span.links as Array<Record<string, unknown>> | undefined) ?? []).map((link) => ({
        traceId: hexToBytes(link.traceId),
        spanId: hexToBytes(link.spanId),
      })),
    })
    const spans = [goodSpans[0]!, ...invalidSpans.map(([, overrides]) => jsonSpan(overrides)), goodSpans[1]!]
    const body = encodeProtobuf({ resourceSpans: [{ scopeSpans: [{ spans: spans.map(toProtobufSpan) }] }] })
    expectPartialRejection(decodeProtobufRequest(body))
  })

  it('rejects a span whose id is not hex digits in OTLP/JSON', () => {
    const decoded = decodeJsonRequest(
      jsonRequestWithSpans(
        jsonSpan({ name: 'not hex', spanId: 'b7ad6b716920333g' }),
        jsonSpan({ name: 'ok' }),
      ),
    )
    expect(decoded.spans.map((span) => span.name)).toEqual(['ok'])
    expect(decoded.rejectionMessages).toEqual([
      '1 span rejected: spanId: must be hex digits (first: span "not hex")',
    ])
  })
})

describe('short strings the protobuf reader hands out again for the same bytes', () => {
  // The reader keeps the strings it decoded in a table of 4,096 slots and gives the same string
  // back for the same bytes; 20,000 distinct keys and values must share slots, and each must still
  // come back as itself, as must the strings that fall back to the UTF-8 decoder.
  const distinct = Array.from({ length: 20_000 }, (_, index) => `k${index.toString(36)}`)
  const attributesOf = (texts: string[], suffix: string) =>
    texts.map((text, index) => ({
      key: `${text}${suffix}`,
      value: { stringValue: index % 7 === 0 ? `välue-${text}` : `v${text}${suffix}` },
    }))

  it('decodes every key and value to its own text, whatever shares its slot, request after request', () => {
    for (const suffix of ['', '.x', '']) {
      const attributes = attributesOf(distinct, suffix)
      // 100 attributes a span, within the per-span limits.
      const spans = Array.from({ length: distinct.length / 100 }, (_, index) => ({
        traceId: Buffer.from(validIds.traceId, 'hex'),
        spanId: Buffer.from((index + 1).toString(16).padStart(16, '0'), 'hex'),
        name: `span${index}${suffix}`,
        startTimeUnixNano: '1767225600000000000',
        endTimeUnixNano: '1767225601000000000',
        attributes: attributes.slice(index * 100, index * 100 + 100),
      }))
      const decoded = decodeProtobufRequest(encodeProtobuf({ resourceSpans: [{ scopeSpans: [{ spans }] }] }))
      expect(decoded.rejectionMessages).toEqual([])
      expect(decoded.spans.map((span) => span.name)).toEqual(spans.map((span) => span.name))
      expect(decoded.spans.map((span) => span.attributes)).toEqual(
        spans.map((span) =>
          Object.fromEntries(span.attributes.map(({ key, value }) => [key, value.stringValue])),
        ),
      )
    }
  })
})
