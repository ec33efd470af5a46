/**
 * OpenLLMetry (`@traceloop/node-server-sdk`) with the Vercel AI SDK, exported to a running collector:
 * the real packages, offline, with `ai/test`'s MockLanguageModelV3 scripting a tool call and the answer.
 *
 * OpenLLMetry rewrites the AI SDK's spans as they end (`ai.generateText.doGenerate` becomes
 * `chat {model}`, a top-level call with an `agent` metadata key becomes `{agent}.agent`), keeping
 * `ai.operationId`. Its span processor is used inside the app's own OpenTelemetry provider
 * (`createSpanProcessor`, OpenLLMetry's way to join an existing set-up): its `initialize()` registers a
 * provider through its own copy of `@opentelemetry/api` 1.9, which the AI SDK here, on the 1.10 API of
 * this repository, does not accept. The scenarios share one project, so each expects the running totals.
 */
import { outcome } from '@daa/sdk'
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { type SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace'
import * as traceloop from '@traceloop/node-server-sdk'
import { generateText, stepCountIs, tool } from 'ai'
import { MockLanguageModelV3 } from 'ai/test'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  conventionsOf,
  expectFigures,
  type FrameworkCollector,
  runsOf,
  startFrameworkCollector,
} from './framework-harness.js'
import { weatherReplies } from './weather-script.js'

/** One run's script: 100 + 150 input tokens, 20 + 10 output tokens, one tool call. */
function weatherModel(): MockLanguageModelV3 {
  return new MockLanguageModelV3({ modelId: 'mock-model-1', doGenerate: weatherReplies() })
}

const tools = {
  weather: tool({
    description: 'Current temperature of a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => ({ city, celsius: 4 }),
  }),
}

function askWeather(metadata: Record<string, string>) {
  return generateText({
    model: weatherModel(),
    prompt: 'Weather in Oslo?',
    tools,
    stopWhen: stepCountIs(3),
    experimental_telemetry: { isEnabled: true, functionId: 'weather-reply', metadata },
  })
}

let harness: FrameworkCollector
let processor: SpanProcessor
let provider: TracerProvider
const contextManager = new AsyncLocalStorageContextManager()

beforeAll(async () => {
  harness = await startFrameworkCollector()
  processor = traceloop.createSpanProcessor({
    exporter: new OTLPTraceExporter({
      url: `${harness.target.collector.url}/v1/traces`,
      headers: { authorization: `Bearer ${harness.target.apiKey}` },
    }),
    // OpenLLMetry passes on only the spans of the libraries it knows; @daa/sdk's outcome spans too.
    allowedInstrumentationLibraries: ['@daa/sdk'],
  }) as unknown as SpanProcessor
  provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'openllmetry-app' }),
    spanProcessors: [processor],
  })
  context.setGlobalContextManager(contextManager.enable())
  trace.setGlobalTracerProvider(provider)
})
afterAll(async () => {
  await provider?.shutdown()
  trace.disable()
  context.disable()
  await harness?.close()
})

describe('OpenLLMetry + Vercel AI SDK (real packages)', () => {
  it('withAgent around an AI SDK call marked with the same agent: one run, with its outcome', async () => {
    let runRef = ''
    const result = await traceloop.withAgent(
      { name: 'weather_bot', associationProperties: { user_id: 'user-1' } },
      async () => {
        // The withAgent span is the run: its traceparent is the reference @daa/sdk's outcome() takes.
        const span = trace.getActiveSpan()!.spanContext()
        runRef = `00-${span.traceId}-${span.spanId}-01`
        return askWeather({ agent: 'weather_bot' })
      },
    )
    expect(result.text).toBe('It is 4 °C in Oslo.')
    outcome(runRef, { status: 'delivered', value: 1, unit: 'answers' })
    await processor.forceFlush()

    await expectFigures(harness.target, harness.target.apiKey, {
      runs: 1,
      llmCalls: 2,
      toolCalls: 1,
      inputTokens: 250,
      outputTokens: 30,
      people: 1,
      deliveredRuns: 1,
    })
    expect(await runsOf(harness.target, harness.target.projectId)).toEqual([
      { agent_id: 'weather_bot', user_id: 'user-1' },
    ])
    expect(await conventionsOf(harness.target, harness.target.projectId)).toMatchObject({
      // The withAgent span, and the AI SDK's top-level call it renamed (merged into the first).
      'weather_bot.agent': expect.stringMatching(/^openllmetry,/),
      'chat mock-model-1': 'vercel-ai,openllmetry,genai',
      'execute_tool weather': 'openllmetry,vercel-ai,genai',
    })
  })

  it('an agent named only in the AI SDK metadata: the top-level call is the run', async () => {
    await askWeather({ agent: 'support_bot', userId: 'user-2' })
    await processor.forceFlush()

    await expectFigures(harness.target, harness.target.apiKey, {
      runs: 2,
      llmCalls: 4,
      toolCalls: 2,
      inputTokens: 500,
      outputTokens: 60,
      people: 2,
      deliveredRuns: 1,
    })
    expect(await runsOf(harness.target, harness.target.projectId)).toContainEqual({
      agent_id: 'support_bot',
      user_id: 'user-2',
    })
  })

  it('no agent name at all: the top-level call is a run of its functionId', async () => {
    await askWeather({ userId: 'user-3' })
    await processor.forceFlush()

    await expectFigures(harness.target, harness.target.apiKey, {
      runs: 3,
      llmCalls: 6,
      toolCalls: 3,
      inputTokens: 750,
      outputTokens: 90,
      people: 3,
      deliveredRuns: 1,
    })
    expect(await runsOf(harness.target, harness.target.projectId)).toContainEqual({
      agent_id: 'weather-reply',
      user_id: 'user-3',
    })
  })
})
