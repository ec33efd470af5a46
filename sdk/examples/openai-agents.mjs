// An OpenAI Agents SDK agent with a tool, traced by daa's TracingProcessor. The model is a scripted
// implementation of the SDK's Model interface, so this runs offline.
//   DAA_ENDPOINT=http://127.0.0.1:4318 DAA_API_KEY=daa_… node sdk/examples/openai-agents.mjs

import { init, run, shutdown } from '@daa/sdk'
import { DaaAgentsTracingProcessor } from '@daa/sdk/openai-agents'
import { Agent, Runner, setTraceProcessors, setTracingDisabled, tool, Usage } from '@openai/agents'
import { z } from 'zod'

init({ serviceName: 'openai-agents-example' })
setTracingDisabled(false)
// Only daa receives the traces (addTraceProcessor would keep sending them to OpenAI as well).
setTraceProcessors([new DaaAgentsTracingProcessor({ defaultModel: 'scripted-model' })])

/** First asks for the lookup_order tool, then answers; usage as a real model reports it. */
class ScriptedModel {
  calls = 0
  async getResponse() {
    this.calls++
    if (this.calls % 2 === 1) {
      return {
        usage: new Usage({ requests: 1, inputTokens: 100, outputTokens: 20, totalTokens: 120 }),
        output: [
          {
            type: 'function_call',
            callId: `call-${this.calls}`,
            name: 'lookup_order',
            arguments: JSON.stringify({ orderId: 'o-9' }),
            status: 'completed',
          },
        ],
      }
    }
    return {
      usage: new Usage({ requests: 1, inputTokens: 150, outputTokens: 30, totalTokens: 180 }),
      output: [
        {
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: 'Your order ships tomorrow.' }],
        },
      ],
    }
  }
  // biome-ignore lint/correctness/useYield: this example does not stream
  async *getStreamedResponse() {
    throw new Error('not used')
  }
}

const agent = new Agent({
  name: 'order-agent',
  instructions: 'Answer order questions.',
  model: new ScriptedModel(),
  tools: [
    tool({
      name: 'lookup_order',
      description: 'Find an order',
      parameters: z.object({ orderId: z.string() }),
      execute: async ({ orderId }) => `order ${orderId}: ships tomorrow`,
    }),
  ],
})

const answer = await run({ agent: 'openai-order-desk', user: 'u-9' }, async (current) => {
  const result = await new Runner().run(agent, 'Where is order o-9?')
  current.deliver({ value: 1, unit: 'answers' })
  return result.finalOutput
})

await shutdown()
console.log(`openai-agents: ${answer}`)
