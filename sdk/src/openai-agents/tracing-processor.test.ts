import {
  Agent,
  tool as agentsTool,
  type Model,
  type ModelRequest,
  type ModelResponse,
  Runner,
  setTraceProcessors,
  setTracingDisabled,
  Usage,
  withGenerationSpan,
} from '@openai/agents'
import { SpanStatusCode } from '@opentelemetry/api'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { run } from '../index.js'
import { captureSpans, parentIdOf, spanNamed } from '../test-in-memory-tracing.js'
import { DaaAgentsTracingProcessor } from './index.js'

const capture = captureSpans()
afterAll(() => capture.stop())
beforeEach(() => capture.exporter.reset())

// The Agents SDK turns tracing off when NODE_ENV is `test`; these tests are about tracing.
setTracingDisabled(false)
setTraceProcessors([new DaaAgentsTracingProcessor({ defaultModel: 'fake-model' })])

/** A scripted model: first asks for the `lookup_order` tool, then answers. Usage as a real model reports it. */
class ScriptedModel implements Model {
  calls = 0
  constructor(private readonly traceItself: boolean) {}

  async getResponse(_request: ModelRequest): Promise<ModelResponse> {
    const respond = async (): Promise<ModelResponse> => {
      this.calls++
      if (this.calls === 1) {
        return {
          usage: new Usage({ requests: 1, inputTokens: 100, outputTokens: 20, totalTokens: 120 }),
          output: [
            {
              type: 'function_call',
              callId: 'call-1',
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
    if (!this.traceItself) return respond()
    // Like the SDK's chat-completions model: a generation span named after the model.
    return withGenerationSpan(
      async (span) => {
        span.spanData.model = 'fake-gpt'
        const response = await respond()
        span.spanData.usage = {
          input_tokens: response.usage.inputTokens,
          output_tokens: response.usage.outputTokens,
        }
        return response
      },
      {},
      undefined,
    )
  }

  // biome-ignore lint/correctness/useYield: streaming is not exercised by these tests
  async *getStreamedResponse(): AsyncIterable<never> {
    throw new Error('not used')
  }
}

function supportAgent(model: Model, failingTool = false) {
  return new Agent({
    name: 'order-agent',
    instructions: 'Answer order questions.',
    model,
    tools: [
      agentsTool({
        name: 'lookup_order',
        description: 'Find an order',
        parameters: z.object({ orderId: z.string() }),
        execute: async ({ orderId }) => {
          if (failingTool) throw new Error('order service down')
          return `order ${orderId}: ships tomorrow`
        },
      }),
    ],
  })
}

describe('DaaAgentsTracingProcessor', () => {
  it('maps an Agents SDK run inside a daa run to a step of that run, chat with usage and execute_tool spans', async () => {
    const runner = new Runner()
    const answer = await run({ agent: 'support-desk', user: 'u-5' }, async (current) => {
      const result = await runner.run(supportAgent(new ScriptedModel(false)), 'Where is order o-9?')
      current.deliver()
      return result.finalOutput
    })
    expect(answer).toBe('Your order ships tomorrow.')

    const spans = await capture.finishedSpans()
    const daaRun = spanNamed(spans, 'invoke_agent support-desk')
    const runId = daaRun.spanContext().spanId
    // The daa run is the only run: the Agents SDK's agent is a step of it (an invoke_agent span
    // would be counted as a sub-agent run of its own, with no user and no outcome).
    expect(spans.filter((span) => span.attributes['gen_ai.operation.name'] === 'invoke_agent')).toEqual([
      daaRun,
    ])
    const agentSpan = spanNamed(spans, 'agent order-agent')
    const chats = spans.filter((span) => span.name === 'chat fake-model')
    const toolSpan = spanNamed(spans, 'execute_tool lookup_order')

    expect(parentIdOf(agentSpan)).toBe(runId)
    expect(agentSpan.attributes).toMatchObject({ 'gen_ai.agent.name': 'order-agent', 'daa.run.id': runId })
    expect(
      chats.map((chat) => [
        chat.attributes['gen_ai.usage.input_tokens'],
        chat.attributes['gen_ai.usage.output_tokens'],
      ]),
    ).toEqual([
      [100, 20],
      [150, 30],
    ])
    for (const span of [...chats, toolSpan]) {
      expect(span.attributes['daa.run.id']).toBe(runId)
      expect(parentIdOf(span)).toBe(agentSpan.spanContext().spanId)
      expect(span.spanContext().traceId).toBe(daaRun.spanContext().traceId)
    }
    expect(chats[0]!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'fake-model',
    })
    expect(toolSpan.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'lookup_order',
    })
  })

  it('uses the model’s own generation span, with its usage counted once', async () => {
    await new Runner().run(supportAgent(new ScriptedModel(true)), 'Where is order o-9?')
    const spans = await capture.finishedSpans()
    const chats = spans.filter((span) => span.name.startsWith('chat'))
    expect(chats.map((chat) => chat.name)).toEqual(['chat fake-gpt', 'chat fake-gpt'])
    expect(chats.map((chat) => chat.attributes['gen_ai.usage.input_tokens'])).toEqual([100, 150])
    // Outside any daa run, the Agents SDK's agent span is the run.
    const agentSpan = spanNamed(spans, 'invoke_agent order-agent')
    expect(agentSpan.attributes['daa.run.id']).toBe(agentSpan.spanContext().spanId)
    for (const chat of chats) expect(chat.attributes['daa.run.id']).toBe(agentSpan.spanContext().spanId)
  })

  it('marks a failing tool call as an error', async () => {
    await new Runner().run(supportAgent(new ScriptedModel(false), true), 'Where is order o-9?')
    const toolSpan = spanNamed(await capture.finishedSpans(), 'execute_tool lookup_order')
    expect(toolSpan.status.code).toBe(SpanStatusCode.ERROR)
    expect(toolSpan.attributes['error.type']).toBeDefined()
  })
})
