import type { Attributes } from '@opentelemetry/api'
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace'
import { flush, init, shutdown } from './standalone.js'

/**
 * Test support: the standalone setup with spans captured in memory instead of sent, so a test sees
 * exactly what a collector would receive.
 */
export function captureSpans(): {
  exporter: InMemorySpanExporter
  finishedSpans(): Promise<ReadableSpan[]>
  stop(): Promise<void>
} {
  const exporter = new InMemorySpanExporter()
  init({ serviceName: 'test-agent', exporter, flushIntervalMs: 1 })
  return {
    exporter,
    async finishedSpans() {
      await flush()
      return exporter.getFinishedSpans()
    },
    async stop() {
      await shutdown()
    },
  }
}

export function spanNamed(spans: ReadableSpan[], name: string): ReadableSpan {
  const found = spans.find((span) => span.name === name)
  if (!found) throw new Error(`no span named ${name} among ${spans.map((span) => span.name).join(', ')}`)
  return found
}

export function attributesOf(spans: ReadableSpan[], name: string): Attributes {
  return spanNamed(spans, name).attributes
}

export function parentIdOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId
}
