import { tool as aiTool, generateText, stepCountIs } from 'ai'
import { MockLanguageModelV3 } from 'ai/test'
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { run } from './index.js'
import { captureSpans, parentIdOf, spanNamed } from './test-in-memory-tracing.js'

// The real AI SDK with a mock model: `experimental_telemetry` spans go to the global tracer
// provider init() registered, and the daa span processor puts them inside the current run.
const capture = captureSpans()
afterAll(() => capture.stop())

/** Token usage in the shape a V3 language model reports it. */
const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: output, text: output, reasoning: 0 },
})

describe('Vercel AI SDK inside a daa run', () => {
  it('nests generateText, its model calls and tool calls under the run, stamped with daa.run.id', async () => {
    const model = new MockLanguageModelV3({
      provider: 'mock-provider',
      modelId: 'mock-model',
      doGenerate: [
        {
          content: [
            { type: 'tool-call', toolCallId: 'call-1', toolName: 'weather', input: '{"city":"Paris"}' },
          ],
          finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
          usage: usage(50, 10),
          warnings: [],
        },
        {
          content: [{ type: 'text', text: 'Sunny in Paris.' }],
          finishReason: { unified: 'stop', raw: 'stop' },
          usage: usage(80, 6),
          warnings: [],
        },
      ],
    })
    const weather = aiTool({
      description: 'Current weather',
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => `sunny in ${city}`,
    })

    const text = await run({ agent: 'weather-bot', user: 'u-1' }, async (current) => {
      const result = await generateText({
        model,
        prompt: 'Weather in Paris?',
        tools: { weather },
        stopWhen: stepCountIs(3),
        experimental_telemetry: { isEnabled: true, functionId: 'answer-weather' },
      })
      current.deliver()
      return result.text
    })

    expect(text).toBe('Sunny in Paris.')
    const spans = await capture.finishedSpans()
    const runSpan = spanNamed(spans, 'invoke_agent weather-bot')
    const runId = runSpan.spanContext().spanId
    const aiSpans = spans.filter((span) => span.name.startsWith('ai.'))
    expect(aiSpans.map((span) => span.name).sort()).toEqual([
      'ai.generateText',
      'ai.generateText.doGenerate',
      'ai.generateText.doGenerate',
      'ai.toolCall',
    ])
    for (const span of aiSpans) {
      expect(span.attributes['daa.run.id']).toBe(runId)
      expect(span.spanContext().traceId).toBe(runSpan.spanContext().traceId)
    }
    expect(parentIdOf(spanNamed(spans, 'ai.generateText'))).toBe(runId)
    const modelCalls = aiSpans.filter((span) => span.name === 'ai.generateText.doGenerate')
    expect(modelCalls.map((span) => span.attributes['gen_ai.usage.input_tokens'])).toEqual([50, 80])
    expect(spanNamed(spans, 'ai.toolCall').attributes['ai.toolCall.name']).toBe('weather')
  })
})
