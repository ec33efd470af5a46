/**
 * The scripted model replies of one weather-agent run, for `ai/test`'s MockLanguageModelV3 (the AI
 * SDK and Mastra suites): a tool call, then the answer. 100 + 150 input tokens, 20 + 10 output
 * tokens, one tool call — the figures the suites expect per run.
 */
import type { MockLanguageModelV3 } from 'ai/test'

type GenerateResult = Awaited<ReturnType<MockLanguageModelV3['doGenerate']>>

/** Usage in the AI SDK 6 provider format (LanguageModelV3Usage). */
function usage(input: number, output: number) {
  return {
    inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: output, text: output, reasoning: 0 },
  }
}

/** A fresh copy of one run's replies (the mock consumes them in order). */
export function weatherReplies(): GenerateResult[] {
  return [
    {
      content: [
        {
          type: 'tool-call',
          toolCallId: 'call-1',
          toolName: 'weather',
          input: JSON.stringify({ city: 'Oslo' }),
        },
      ],
      finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
      usage: usage(100, 20),
      warnings: [],
    },
    {
      content: [{ type: 'text', text: 'It is 4 °C in Oslo.' }],
      finishReason: { unified: 'stop', raw: 'stop' },
      usage: usage(150, 10),
      warnings: [],
    },
  ]
}
