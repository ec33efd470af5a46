import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { InMemorySpanExporter, TracerProvider } from '@opentelemetry/sdk-trace'
import { describe, expect, it } from 'vitest'
import * as daa from './index.js'
import { spanNamed } from './test-in-memory-tracing.js'

describe('inside an app’s own OpenTelemetry setup', () => {
  it('importing the SDK registered nothing', () => {
    expect(Object.keys(daa).sort()).toEqual([
      'DaaSpanProcessor',
      'LlmCall',
      'OtlpHttpExporter',
      'Run',
      'ToolCall',
      'currentRun',
      'flush',
      'init',
      'llm',
      'outcome',
      'run',
      'shutdown',
      'stats',
      'tool',
    ])
    const provider = trace.getTracerProvider() as unknown as { getDelegate(): object }
    expect(provider.getDelegate().constructor.name).toBe('NoopTracerProvider')
    // With no provider at all, the API still runs the agent's code.
    expect(daa.run({ agent: 'no-telemetry' }, () => daa.tool('t', () => 'works'))).toBe('works')
  })

  it('sends daa spans and the app’s own spans through the app’s provider with DaaSpanProcessor', async () => {
    const exporter = new InMemorySpanExporter()
    const processor = new daa.DaaSpanProcessor({ exporter, flushIntervalMs: 1 })
    const provider = new TracerProvider({ spanProcessors: [processor] })
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    trace.setGlobalTracerProvider(provider)
    const appTracer = provider.getTracer('the-app')

    await appTracer.startActiveSpan('POST /chat', async (request) => {
      await daa.run({ agent: 'embedded-bot' }, async (current) => {
        await daa.llm({ model: 'm' }, async () => {
          await new Promise((resolve) => setTimeout(resolve, 1))
          appTracer.startSpan('db.query').end()
        })
        current.deliver()
      })
      request.end()
    })
    await processor.forceFlush()

    const spans = exporter.getFinishedSpans()
    const runSpan = spanNamed(spans, 'invoke_agent embedded-bot')
    const runId = runSpan.spanContext().spanId
    expect(runSpan.parentSpanContext?.spanId).toBe(spanNamed(spans, 'POST /chat').spanContext().spanId)
    expect(spanNamed(spans, 'db.query').attributes['daa.run.id']).toBe(runId)
    expect(spanNamed(spans, 'chat m').attributes['daa.run.id']).toBe(runId)
    // The request span is outside the run, so it is not stamped.
    expect(spanNamed(spans, 'POST /chat').attributes['daa.run.id']).toBeUndefined()
    expect(processor.stats()).toMatchObject({ exported: 4, dropped: 0, failed: 0 })
    await processor.shutdown()
  })
})
