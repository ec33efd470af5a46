import { context, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api'
import { TraceState } from '@opentelemetry/core'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace'
import { describe, expect, it } from 'vitest'
import { decodePartialSuccess, encodeTraceRequest } from './otlp-protobuf.js'

/** Finished spans of every shape: two resources, two scopes, every attribute type, events, links, statuses. */
function finishedSpans() {
  const exporter = new InMemorySpanExporter()
  const spans = []
  for (const service of ['checkout', 'refunds ✓']) {
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': service, 'host.cores': 2, 'deploy.canary': false }),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    })
    const tracer = provider.getTracer('daa-test', '1.2.3')
    const other = provider.getTracer('other-scope')
    const remote = trace.setSpanContext(context.active(), {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: new TraceState('vendor=a1,other=b2'),
    })
    const run = tracer.startSpan(
      'invoke_agent refund-bot',
      {
        kind: SpanKind.SERVER,
        attributes: {
          'gen_ai.operation.name': 'invoke_agent',
          'daa.outcome.value': 12.5,
          'gen_ai.usage.input_tokens': 1_234_567,
          'negative.int': -42,
          'big.int': 2 ** 40,
          ratio: 0.1,
          flags: [true, false],
          names: ['a', 'ü', ''],
          numbers: [1, 2.5, -3],
          empty: '',
          long: 'x'.repeat(300),
        },
        links: [
          {
            context: {
              traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
              spanId: '00f067aa0ba902b7',
              traceFlags: TraceFlags.NONE,
            },
            attributes: { 'link.reason': 'retry' },
          },
        ],
      },
      remote,
    )
    run.addEvent('gen_ai.choice', { index: 0, text: 'done' })
    run.addEvent('bare')
    const inRun = trace.setSpan(context.active(), run)
    const chat = other.startSpan('chat gpt-5', { kind: SpanKind.CLIENT }, inRun)
    chat.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited' })
    chat.end()
    const ok = tracer.startSpan('execute_tool search', {}, inRun)
    ok.setStatus({ code: SpanStatusCode.OK })
    ok.end()
    // Times far from now, where nanoseconds since the epoch need all 64 bits' worth of care.
    const future = tracer.startSpan('far future', { startTime: [4_102_444_800, 999_999_999] }, inRun)
    future.end([4_102_444_801, 5])
    const early = tracer.startSpan('early', { startTime: [1, 0] }, inRun)
    early.end([65_537, 123_456_789])
    run.end()
    spans.push(...exporter.getFinishedSpans())
    exporter.reset()
  }
  return spans
}

describe('OTLP/protobuf encoding of traces', () => {
  it("writes the same bytes as OpenTelemetry's own serializer, for spans of every shape", () => {
    const spans = finishedSpans()
    expect(Buffer.from(encodeTraceRequest(spans))).toEqual(
      Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!),
    )
  })

  it('grows past its first buffer, and writes long lengths in full', () => {
    const spans = Array.from({ length: 40 }, () => finishedSpans()).flat()
    const encoded = encodeTraceRequest(spans)
    expect(encoded.length).toBeGreaterThan(64 * 1024)
    expect(Buffer.from(encoded)).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!))
  })

  it("reads an answer's partial_success, and an empty answer as none", () => {
    // partial_success { rejected_spans: 300, error_message: "2 spans rejected" }
    const message = Buffer.from('2 spans rejected')
    const partial = Buffer.concat([Buffer.from([0x08, 0xac, 0x02, 0x12, message.length]), message])
    const answer = Buffer.concat([Buffer.from([0x0a, partial.length]), partial])
    expect(decodePartialSuccess(answer)).toEqual({ rejectedSpans: 300, errorMessage: '2 spans rejected' })
    expect(decodePartialSuccess(new Uint8Array())).toEqual({ rejectedSpans: 0, errorMessage: '' })
    expect(() => decodePartialSuccess(Buffer.from([0x0a, 0x05, 0x08]))).toThrow(RangeError)
  })
})
