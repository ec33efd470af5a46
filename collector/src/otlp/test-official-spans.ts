/**
 * Test support: real ReadableSpans from the OpenTelemetry JS SDK, and the DecodedSpans they must decode to.
 * Spans cover what the SDK can express: every span kind, a remote parent with trace state, statuses,
 * events, links, and attribute values of every type a span attribute can hold.
 */
import {
  type Context,
  context,
  createTraceState,
  type HrTime,
  type Attributes as OtelAttributes,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace'
import type { Attributes, DecodedSpan, StatusCode } from './decoded-span.js'

const remoteParent = {
  traceId: '5b8efff798038103d269b633813fc60c',
  spanId: 'eee19b7ec3c1b174',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: createTraceState('vendor=value,other=1'),
}

/** Times with nanosecond digits, so that any precision loss shows. */
const runStart: HrTime = [1_767_225_600, 123_456_789]
const runEnd: HrTime = [1_767_225_612, 987_654_321]

export async function createOfficialSpans(): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter()
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'support-agent',
      'service.version': '2.0.1',
      'host.cpus': 2,
    }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  })
  const agentTracer = provider.getTracer('@daa/sdk', '0.1.0', {
    schemaUrl: 'https://opentelemetry.io/schemas/1.37.0',
  })
  const llmTracer = provider.getTracer('llm-instrumentation')

  const withParent: Context = trace.setSpanContext(ROOT_CONTEXT, remoteParent)
  const runAttributes: OtelAttributes = {
    'gen_ai.operation.name': 'invoke_agent',
    'gen_ai.agent.name': 'support',
    'daa.outcome': 'delivered',
    'daa.outcome.value': 12.5,
    'gen_ai.usage.input_tokens': 1234,
    'negative.int': -42,
    'large.int': 2 ** 52 + 1,
    'flag.enabled': true,
    tags: ['a', 'b', ''],
    scores: [1, 2, 3],
    ratios: [0.5, 1.5],
    checks: [true, false],
  }
  const run = agentTracer.startSpan(
    'invoke_agent support',
    { kind: SpanKind.SERVER, startTime: runStart, attributes: runAttributes },
    withParent,
  )
  run.addEvent(
    'gen_ai.evaluation.result',
    { 'gen_ai.evaluation.name': 'helpfulness', 'score.value': 0.9 },
    [1_767_225_605, 5],
  )
  run.addEvent('no attributes', [1_767_225_606, 0])

  const runContext = trace.setSpan(context.active(), run)
  const kinds = [SpanKind.INTERNAL, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER]
  for (const [index, kind] of kinds.entries()) {
    const child = llmTracer.startSpan(
      `chat ${index}`,
      {
        kind,
        startTime: [1_767_225_601 + index, 0],
        attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-5' },
        links: [
          { context: run.spanContext(), attributes: { 'link.reason': 'follows' } },
          { context: remoteParent },
        ],
      },
      runContext,
    )
    if (index === 1) child.setStatus({ code: SpanStatusCode.OK })
    if (index === 2) child.setStatus({ code: SpanStatusCode.ERROR, message: 'tool failed: timeout' })
    child.end([1_767_225_601 + index, 500_000_000])
  }
  run.setStatus({ code: SpanStatusCode.OK })
  run.end(runEnd)

  await provider.forceFlush()
  const spans = exporter.getFinishedSpans()
  await provider.shutdown()
  return spans
}

function hrTimeToNanos([seconds, nanos]: HrTime): bigint {
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanos)
}

/** SDK attribute values are already what DecodedSpan holds (numbers, strings, booleans, arrays). */
function expectedAttributes(attributes: OtelAttributes): Attributes {
  return { ...attributes } as Attributes
}

/** What decoding the exported span must give, derived from the ReadableSpan field by field. */
export function expectedDecodedSpan(span: ReadableSpan): DecodedSpan {
  const spanContext = span.spanContext()
  const parent = span.parentSpanContext
  return {
    traceId: spanContext.traceId,
    spanId: spanContext.spanId,
    parentSpanId: parent?.spanId ?? '',
    traceState: spanContext.traceState?.serialize() ?? '',
    name: span.name,
    kind: span.kind + 1, // the API's SpanKind starts at INTERNAL = 0; OTLP's at UNSPECIFIED = 0
    startTimeUnixNano: hrTimeToNanos(span.startTime),
    endTimeUnixNano: hrTimeToNanos(span.endTime),
    attributes: expectedAttributes(span.attributes),
    events: span.events.map((event) => ({
      timeUnixNano: hrTimeToNanos(event.time),
      name: event.name,
      attributes: expectedAttributes(event.attributes ?? {}),
    })),
    links: span.links.map((link) => ({
      traceId: link.context.traceId,
      spanId: link.context.spanId,
      traceState: link.context.traceState?.serialize() ?? '',
      attributes: expectedAttributes(link.attributes ?? {}),
    })),
    status: { code: span.status.code as StatusCode, message: span.status.message ?? '' },
    resource: expectedAttributes(span.resource.attributes as OtelAttributes),
    scope: {
      name: span.instrumentationScope.name,
      version: span.instrumentationScope.version ?? '',
      attributes: {},
    },
  }
}
