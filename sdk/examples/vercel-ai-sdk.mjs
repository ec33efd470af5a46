// A Vercel AI SDK agent (generateText with a tool) inside a daa run. The model is the AI SDK's own
// MockLanguageModelV3, so this runs offline; swap in any provider's model and nothing else changes.
//   DAA_ENDPOINT=http://127.0.0.1:4318 DAA_API_KEY=daa_… node sdk/examples/vercel-ai-sdk.mjs
import { init, run, shutdown } from '@daa/sdk'
import { generateText, stepCountIs, tool } from 'ai'
import { MockLanguageModelV3 } from 'ai/test'
import { z } from 'zod'

// init() registers the tracer provider globally: the AI SDK's spans join the run.
init({ serviceName: 'vercel-ai-sdk-example' })

const usage = (input, output) => ({
  inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: output, text: output, reasoning: 0 },
})

const model = new MockLanguageModelV3({
  provider: 'mock-provider',
  modelId: 'mock-model',
  doGenerate: [
    {
      content: [{ type: 'tool-call', toolCallId: 'call-1', toolName: 'weather', input: '{"city":"Paris"}' }],
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

const weather = tool({
  description: 'Current weather',
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => `sunny in ${city}`,
})

const text = await run({ agent: 'vercel-weather-agent', user: 'u-7' }, async (current) => {
  const result = await generateText({
    model,
    prompt: 'Weather in Paris?',
    tools: { weather },
    stopWhen: stepCountIs(3),
    experimental_telemetry: { isEnabled: true, functionId: 'answer-weather' },
  })
  current.deliver({ value: 1, unit: 'answers' })
  return result.text
})

await shutdown()
console.log(`vercel-ai-sdk: ${text}`)
