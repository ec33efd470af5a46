/**
 * OTLP/JSON (the body of OTLP/HTTP `application/json`) → DecodedRequest, validated with zod.
 *
 * The OTLP JSON rules, and where this decoder is more lenient than the specification:
 * - keys are lowerCamelCase; the original snake_case names are accepted too (the specification says
 *   senders must not use them, but the proto3 JSON mapping and the reference collector accept both);
 *   when both spellings are present the lowerCamelCase one wins;
 * - traceId, spanId and parentSpanId are hex, case-insensitive (stored lowercase), not base64 (a span with
 *   a non-hex id is rejected);
 *   bytesValue attributes are base64, kept as the text received;
 * - enums (kind, status.code) are integers; enum name strings are refused as the specification requires;
 * - 64-bit integers are decimal strings or numbers; a JSON number above 2^53 has already lost precision in
 *   JSON.parse, which is why senders write strings;
 * - doubles are numbers, or the strings "NaN", "Infinity", "-Infinity" or a decimal (proto3 JSON);
 * - unknown fields are ignored, and `null` means the field's default.
 *
 * Shape errors above the span (the request, resourceSpans, scopeSpans, resource, scope) make the whole
 * body malformed (OtlpDecodeError). Shape errors inside one span (a string kind, an object where an
 * attribute value belongs) reject only that span, like the checks in span-validation.ts, so the other
 * spans of the request are kept.
 */
import { z } from 'zod'
import { int64ToAttributeValue, setAttribute } from './attribute-values.js'
import type { Attributes, AttributeValue, DecodedRequest, DecodedSpan } from './decoded-span.js'
import { OtlpDecodeError } from './errors.js'
import { isAllZeroHex, isHexDigits } from './hex.js'
import {
  ATTRIBUTE_LIMITS,
  admitSpan,
  attributesProblem,
  RejectionTally,
  type SpanCandidate,
} from './span-validation.js'

function snakeCaseOf(camelCase: string): string {
  return camelCase.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)
}

/**
 * An OTLP message as a zod object that also accepts the snake_case spelling of each field. The aliasing
 * only looks at the fields this schema declares, so it costs a few property lookups per object.
 */
function otlpMessage<Shape extends z.ZodRawShape>(shape: Shape) {
  const aliases: Array<[camelCase: string, snakeCase: string]> = []
  for (const camelCase of Object.keys(shape)) {
    const snakeCase = snakeCaseOf(camelCase)
    if (snakeCase !== camelCase) aliases.push([camelCase, snakeCase])
  }
  return z.preprocess((input) => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return input
    let withCamelCaseKeys: Record<string, unknown> | undefined
    for (const [camelCase, snakeCase] of aliases) {
      if (!Object.hasOwn(input, camelCase) && Object.hasOwn(input, snakeCase)) {
        withCamelCaseKeys ??= { ...input }
        withCamelCaseKeys[camelCase] = (input as Record<string, unknown>)[snakeCase]
      }
    }
    return withCamelCaseKeys ?? input
  }, z.object(shape))
}

/** A field that may be absent or null (both mean the proto3 default). */
function withDefault<Output>(schema: z.ZodType<Output>, fallback: Output) {
  return schema.nullish().transform((value): Output => value ?? fallback)
}

const decimalDigits = /^\d+$/
const signedDecimalDigits = /^-?\d+$/

/** fixed64 timestamps: a decimal string or a non-negative integral number. */
const uint64Schema = z
  .union([
    z.string().regex(decimalDigits, 'must be a non-negative decimal integer'),
    // Not z.number().int(): zod's int() stops at 2^53, and nanosecond timestamps are above it.
    z.number().refine((value) => Number.isInteger(value) && value >= 0, 'must be a non-negative integer'),
  ])
  .transform((value) => BigInt(value))

const int64AttributeSchema = z
  .union([
    z.string().regex(signedDecimalDigits, 'must be a decimal integer'),
    z.number().refine(Number.isInteger, 'must be an integer'),
  ])
  .transform((value) => int64ToAttributeValue(BigInt(value)))

const nonFiniteDoubles: Record<string, number> = {
  NaN: Number.NaN,
  Infinity: Infinity,
  '-Infinity': -Infinity,
}
const doubleSchema = z.union([
  z.number(),
  z.string().transform((text, context) => {
    const value = nonFiniteDoubles[text] ?? (text.trim() === '' ? Number.NaN : Number(text))
    if (Number.isNaN(value) && text !== 'NaN') {
      context.addIssue({ code: 'custom', message: 'must be a number' })
      return z.NEVER
    }
    return value
  }),
])

/** Hex ids, case-insensitive, stored lowercase; validateSpan checks their length (a bad id rejects one span). */
const hexIdSchema = withDefault(z.string().refine(isHexDigits, 'must be hex digits'), '').transform((hex) =>
  hex.toLowerCase(),
)

const integerEnumSchema = withDefault(z.number().int('must be an integer (OTLP/JSON enums are numbers)'), 0)

function toAttributes(keyValues: ReadonlyArray<{ key: string; value: AttributeValue }>): Attributes {
  const attributes: Attributes = {}
  for (const keyValue of keyValues) setAttribute(attributes, keyValue.key, keyValue.value)
  return attributes
}

// AnyValue and KeyValue refer to each other, hence z.lazy and the explicit output types.
const anyValueSchema: z.ZodType<AttributeValue> = z.lazy(() =>
  otlpMessage({
    stringValue: z.string().nullish(),
    boolValue: z.boolean().nullish(),
    intValue: int64AttributeSchema.nullish(),
    doubleValue: doubleSchema.nullish(),
    arrayValue: otlpMessage({ values: withDefault(z.array(anyValueSchema), []) }).nullish(),
    kvlistValue: otlpMessage({ values: withDefault(z.array(keyValueSchema), []) }).nullish(),
    bytesValue: z.string().nullish(),
  }).transform((anyValue): AttributeValue => {
    // A oneof: the first member present wins (a well-formed sender sets at most one).
    if (anyValue.stringValue != null) return anyValue.stringValue
    if (anyValue.boolValue != null) return anyValue.boolValue
    if (anyValue.intValue != null) return anyValue.intValue
    if (anyValue.doubleValue != null) return anyValue.doubleValue
    if (anyValue.arrayValue != null) return anyValue.arrayValue.values
    if (anyValue.kvlistValue != null) return toAttributes(anyValue.kvlistValue.values)
    if (anyValue.bytesValue != null) return anyValue.bytesValue
    return null
  }),
)

const keyValueSchema: z.ZodType<{ key: string; value: AttributeValue }> = otlpMessage({
  key: withDefault(z.string(), ''),
  value: withDefault(anyValueSchema, null),
})

const attributesSchema = withDefault(z.array(keyValueSchema), []).transform(toAttributes)

const spanSchema = otlpMessage({
  traceId: hexIdSchema,
  spanId: hexIdSchema,
  traceState: withDefault(z.string(), ''),
  parentSpanId: hexIdSchema,
  name: withDefault(z.string(), ''),
  kind: integerEnumSchema,
  startTimeUnixNano: withDefault(uint64Schema, 0n),
  endTimeUnixNano: withDefault(uint64Schema, 0n),
  attributes: attributesSchema,
  events: withDefault(
    z.array(
      otlpMessage({
        timeUnixNano: withDefault(uint64Schema, 0n),
        name: withDefault(z.string(), ''),
        attributes: attributesSchema,
      }),
    ),
    [],
  ),
  links: withDefault(
    z.array(
      otlpMessage({
        traceId: hexIdSchema,
        spanId: hexIdSchema,
        traceState: withDefault(z.string(), ''),
        attributes: attributesSchema,
      }),
    ),
    [],
  ),
  status: withDefault(otlpMessage({ code: integerEnumSchema, message: withDefault(z.string(), '') }), {
    code: 0,
    message: '',
  }),
})

// Spans stay unknown at this level: each is parsed on its own so that one bad span rejects only itself.
const requestSchema = otlpMessage({
  resourceSpans: withDefault(
    z.array(
      otlpMessage({
        resource: withDefault(otlpMessage({ attributes: attributesSchema }), { attributes: {} }),
        scopeSpans: withDefault(
          z.array(
            otlpMessage({
              scope: withDefault(
                otlpMessage({
                  name: withDefault(z.string(), ''),
                  version: withDefault(z.string(), ''),
                  attributes: attributesSchema,
                }),
                { name: '', version: '', attributes: {} },
              ),
              spans: withDefault(z.array(z.unknown()), []),
            }),
          ),
          [],
        ),
      }),
    ),
    [],
  ),
})

/** The first problem zod found, as "path: message", short enough for partial_success.error_message. */
function describeFirstIssue(error: z.ZodError): string {
  const issue = error.issues[0]
  if (issue === undefined) return 'invalid value'
  return issue.path.length === 0 ? issue.message : `${issue.path.join('.')}: ${issue.message}`
}

/** A span's name for rejection messages, when the span is at least an object with a string name. */
function nameOfUnparsedSpan(span: unknown): string {
  if (typeof span !== 'object' || span === null) return ''
  const name = (span as { name?: unknown }).name
  return typeof name === 'string' ? name : ''
}

/**
 * zod's schema for AnyValue recurses once per nesting level, so a value nested some hundreds deep
 * (still a few KB of JSON) overflows the stack. That is the sender's fault, not ours: undefined
 * here, and the caller rejects the span (or the body) with a reason. Values nested deeper than
 * ATTRIBUTE_LIMITS.maxDepth but not this deep are rejected by validateSpan.
 */
function parseNested<Output>(
  schema: z.ZodType<Output>,
  input: unknown,
): z.ZodSafeParseResult<Output> | undefined {
  try {
    return schema.safeParse(input)
  } catch (error) {
    if (error instanceof RangeError) return undefined
    throw error
  }
}

/**
 * Decodes an OTLP/JSON ExportTraceServiceRequest. Throws OtlpDecodeError when the text is not JSON or not
 * shaped like the request; spans that are malformed or fail validation are counted in `rejectedSpans`.
 */
export function decodeJsonRequest(text: string): DecodedRequest {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new OtlpDecodeError(`the body is not valid JSON (${reason})`, { cause: error })
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new OtlpDecodeError('the body is not a JSON object (an ExportTraceServiceRequest)')
  }
  const parsedRequest = parseNested(requestSchema, body)
  if (parsedRequest === undefined) {
    throw new OtlpDecodeError(
      `the body is not an OTLP/JSON ExportTraceServiceRequest: a resource or scope value is nested far deeper than ${ATTRIBUTE_LIMITS.maxDepth} levels`,
    )
  }
  if (!parsedRequest.success) {
    throw new OtlpDecodeError(
      `the body is not an OTLP/JSON ExportTraceServiceRequest: ${describeFirstIssue(parsedRequest.error)}`,
      { cause: parsedRequest.error },
    )
  }

  const spans: DecodedSpan[] = []
  const tally = new RejectionTally()
  for (const resourceSpans of parsedRequest.data.resourceSpans) {
    const resource = resourceSpans.resource.attributes
    const resourceProblem = attributesProblem(resource, 'resource attributes')
    for (const { scope, spans: unparsedSpans } of resourceSpans.scopeSpans) {
      // Checked once per resource and scope: a bad one rejects each of its spans, with its reason.
      const sharedProblem = resourceProblem ?? attributesProblem(scope.attributes, 'scope attributes')
      for (const unparsedSpan of unparsedSpans) {
        if (sharedProblem !== undefined) {
          tally.reject(sharedProblem, nameOfUnparsedSpan(unparsedSpan))
          continue
        }
        const parsedSpan = parseNested(spanSchema, unparsedSpan)
        if (parsedSpan === undefined) {
          tally.reject(
            `an attribute value is nested far deeper than ${ATTRIBUTE_LIMITS.maxDepth} levels`,
            nameOfUnparsedSpan(unparsedSpan),
          )
          continue
        }
        if (!parsedSpan.success) {
          tally.reject(describeFirstIssue(parsedSpan.error), nameOfUnparsedSpan(unparsedSpan))
          continue
        }
        const span = parsedSpan.data
        const candidate: SpanCandidate = {
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: isAllZeroHex(span.parentSpanId) ? '' : span.parentSpanId,
          traceState: span.traceState,
          name: span.name,
          kind: span.kind,
          startTimeUnixNano: span.startTimeUnixNano,
          endTimeUnixNano: span.endTimeUnixNano,
          attributes: span.attributes,
          events: span.events,
          links: span.links,
          status: span.status,
          resource,
          scope,
        }
        admitSpan(candidate, tally, spans)
      }
    }
  }
  return { spans, rejectedSpans: tally.rejectedSpans, rejectionMessages: tally.messages() }
}
