/**
 * Test support: spans recorded by the real OpenTelemetry JS SDK, sent through the real ingest path
 * (the OTLP/protobuf serializer the official exporters use, then our protobuf decoder), so mapping
 * tests see exactly the DecodedSpans the collector would.
 */
import {
  type Attributes as OtelAttributes,
  ROOT_CONTEXT,
  type Span,
  type SpanKind,
  type Tracer,
  trace,
} from '@opentelemetry/api'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace'
import { decodeProtobufRequest } from '../otlp/decode-protobuf.js'
import type { DecodedSpan } from '../otlp/decoded-span.js'

/** 2026-01-01T00:00:00Z in milliseconds: test spans start at fixed times so rows are predictable. */
export const BASE_TIME_MS = 1_767_225_600_000

/** Milliseconds after BASE_TIME_MS as the nanosecond decimal string the rows hold. */
export function nanosecondsAt(offsetMs: number): string {
  return (BigInt(BASE_TIME_MS + offsetMs) * 1_000_000n).toString()
}

export interface TestTracing {
  tracer: Tracer
  /** Every span ended so far. */
  finishedSpans(): ReadableSpan[]
  /** Starts a span at BASE_TIME_MS + `startMs`, as a child of `parent` when given. */
  startSpan(
    name: string,
    options: { attributes?: OtelAttributes; parent?: Span; startMs?: number; kind?: SpanKind },
  ): Span
}

export function createTestTracing(serviceName = 'mapping-test-agent'): TestTracing {
  const exporter = new InMemorySpanExporter()
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'deployment.environment.name': 'test' }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  })
  const tracer = provider.getTracer('daa-mapping-test', '1.2.3')
  return {
    tracer,
    finishedSpans: () => exporter.getFinishedSpans(),
    startSpan(name, { attributes, parent, startMs = 0, kind }) {
      // An explicit context, so a test's active context (or global context manager) never adopts the span.
      const parentContext = parent === undefined ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, parent)
      return tracer.startSpan(name, { attributes, kind, startTime: BASE_TIME_MS + startMs }, parentContext)
    },
  }
}

/** Ends `span` at BASE_TIME_MS + `endMs`. */
export function endAt(span: Span, endMs: number): void {
  span.end(BASE_TIME_MS + endMs)
}

/** Serializes spans as the OTLP/protobuf exporters do and decodes them with the collector's decoder. */
export function decodeThroughOtlp(spans: readonly ReadableSpan[]): DecodedSpan[] {
  const body = ProtobufTraceSerializer.serializeRequest([...spans])
  if (body === undefined) throw new Error('the OTLP serializer produced no body')
  const decoded = decodeProtobufRequest(body)
  if (decoded.rejectedSpans !== 0) {
    throw new Error(
      `the decoder rejected ${decoded.rejectedSpans} span(s): ${decoded.rejectionMessages.join('; ')}`,
    )
  }
  return decoded.spans
}
