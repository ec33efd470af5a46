/**
 * LangChain.js 1.x and LangGraph, traced by OpenInference (`@arizeai/openinference-instrumentation-langchain`),
 * exported to a running collector: the real packages, offline, with a scripted chat model.
 *
 * LangChain's built-in fake chat models cannot return a tool call, so `ScriptedChatModel` (a small
 * `BaseChatModel`) plays back fixed replies: a call of the `weather` tool, then the answer, each with
 * its token usage. The spans go through `@daa/sdk`'s span processor inside the app's own
 * OpenTelemetry provider, the set-up the SDK README describes; the scenarios share one project, so
 * each expects the running totals.
 */
import { LangChainInstrumentation } from '@arizeai/openinference-instrumentation-langchain'
import { DaaSpanProcessor, run } from '@daa/sdk'
import * as CallbackManagerModule from '@langchain/core/callbacks/manager'
import { BaseChatModel } from '@langchain/core/language_models/chat_models'
import { AIMessage } from '@langchain/core/messages'
import type { ChatResult } from '@langchain/core/outputs'
import { tool } from '@langchain/core/tools'
import { createReactAgent } from '@langchain/langgraph/prebuilt'
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { TracerProvider } from '@opentelemetry/sdk-trace'
import { createAgent } from 'langchain'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  conventionsOf,
  expectFigures,
  type FrameworkCollector,
  runsOf,
  startFrameworkCollector,
} from './framework-harness.js'

/** A chat model that plays back scripted replies: the only way to script a tool call in LangChain. */
class ScriptedChatModel extends BaseChatModel {
  readonly #replies: AIMessage[]

  constructor(replies: AIMessage[]) {
    super({})
    this.#replies = [...replies]
  }

  _llmType(): string {
    return 'scripted'
  }

  // OpenInference reads the model name from the invocation parameters.
  override invocationParams(): Record<string, unknown> {
    return { model: 'scripted-model-1' }
  }

  // The agents bind their tools; the script already knows which tool it calls.
  override bindTools(): this {
    return this
  }

  async _generate(): Promise<ChatResult> {
    const message = this.#replies.shift()
    if (message === undefined) throw new Error('the script has no more replies')
    return { generations: [{ text: typeof message.content === 'string' ? message.content : '', message }] }
  }
}

/** One run's script: 100 + 150 input tokens, 20 + 10 output tokens, one tool call. */
function weatherScript(): ScriptedChatModel {
  return new ScriptedChatModel([
    new AIMessage({
      content: '',
      tool_calls: [{ id: 'call-1', name: 'weather', args: { city: 'Oslo' } }],
      usage_metadata: { input_tokens: 100, output_tokens: 20, total_tokens: 120 },
    }),
    new AIMessage({
      content: 'It is 4 °C in Oslo.',
      usage_metadata: { input_tokens: 150, output_tokens: 10, total_tokens: 160 },
    }),
  ])
}

const weather = tool(async ({ city }: { city: string }) => `${city}: 4 °C`, {
  name: 'weather',
  description: 'Current temperature of a city',
  schema: z.object({ city: z.string() }),
})

const question = { messages: [{ role: 'user', content: 'Weather in Oslo?' }] }

let harness: FrameworkCollector
let processor: DaaSpanProcessor
let provider: TracerProvider
const contextManager = new AsyncLocalStorageContextManager()

beforeAll(async () => {
  harness = await startFrameworkCollector()
  // A long interval: each scenario's spans leave in one request at its flush, as a short run's do.
  processor = new DaaSpanProcessor({
    endpoint: harness.target.collector.url,
    apiKey: harness.target.apiKey,
    flushIntervalMs: 60_000,
  })
  provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'langchain-app' }),
    spanProcessors: [processor],
  })
  context.setGlobalContextManager(contextManager.enable())
  trace.setGlobalTracerProvider(provider)
  const instrumentation = new LangChainInstrumentation({ tracerProvider: provider })
  instrumentation.manuallyInstrument(CallbackManagerModule)
})
afterAll(async () => {
  await provider?.shutdown()
  trace.disable()
  context.disable()
  await harness?.close()
})

describe('LangChain.js + OpenInference (real packages)', () => {
  it('createAgent: one run of the agent, its two LLM calls, one tool call, tokens and the person from metadata', async () => {
    const agent = createAgent({ model: weatherScript(), tools: [weather], name: 'weather_bot' })
    const result = await agent.invoke(question, { metadata: { user_id: 'user-1', session_id: 'session-1' } })
    expect(result.messages.at(-1)?.content).toBe('It is 4 °C in Oslo.')
    await processor.forceFlush()

    await expectFigures(harness.target, harness.target.apiKey, {
      runs: 1,
      llmCalls: 2,
      toolCalls: 1,
      inputTokens: 250,
      outputTokens: 30,
      people: 1,
      deliveredRuns: 0,
    })
    expect(await runsOf(harness.target, harness.target.projectId)).toEqual([
      { agent_id: 'weather_bot', user_id: 'user-1' },
    ])
    const conventions = await conventionsOf(harness.target, harness.target.projectId)
    expect(conventions).toMatchObject({
      weather_bot: 'openinference,genai',
      weather: 'openinference,genai',
      ScriptedChatModel: 'openinference,genai',
    })
  })

  it('LangGraph createReactAgent: its root chain is the run, graph nodes are steps', async () => {
    const agent = createReactAgent({ llm: weatherScript(), tools: [weather], name: 'react_bot' })
    await agent.invoke(question, { metadata: { user_id: 'user-2' } })
    await processor.forceFlush()

    // Running totals: the first scenario's run plus this one.
    await expectFigures(harness.target, harness.target.apiKey, {
      runs: 2,
      llmCalls: 4,
      toolCalls: 2,
      inputTokens: 500,
      outputTokens: 60,
      people: 2,
      deliveredRuns: 0,
    })
    expect(await runsOf(harness.target, harness.target.projectId)).toEqual([
      { agent_id: 'react_bot', user_id: 'user-2' },
      { agent_id: 'weather_bot', user_id: 'user-1' },
    ])
  })

  it('an agent called as a tool by another agent: a sub-agent, a run of its own', async () => {
    const askWeather = tool(
      async ({ city }: { city: string }) => {
        const helper = createAgent({ model: weatherScript(), tools: [weather], name: 'weather_bot' })
        const answer = await helper.invoke({ messages: [{ role: 'user', content: `Weather in ${city}?` }] })
        return String(answer.messages.at(-1)?.content)
      },
      { name: 'ask_weather', description: 'Ask the weather agent', schema: z.object({ city: z.string() }) },
    )
    const planner = createAgent({
      model: new ScriptedChatModel([
        new AIMessage({
          content: '',
          tool_calls: [{ id: 'call-9', name: 'ask_weather', args: { city: 'Oslo' } }],
          usage_metadata: { input_tokens: 50, output_tokens: 5, total_tokens: 55 },
        }),
        new AIMessage({
          content: 'Pack a coat.',
          usage_metadata: { input_tokens: 70, output_tokens: 4, total_tokens: 74 },
        }),
      ]),
      tools: [askWeather],
      name: 'planner',
    })
    await planner.invoke(question, { metadata: { user_id: 'user-4' } })
    await processor.forceFlush()

    // The planner's run (2 calls, 1 tool) and the weather agent's own run inside it (2 calls, 1 tool).
    await expectFigures(harness.target, harness.target.apiKey, {
      runs: 4,
      llmCalls: 8,
      toolCalls: 4,
      inputTokens: 500 + 120 + 250,
      outputTokens: 60 + 9 + 30,
      people: 3,
      deliveredRuns: 0,
    })
    const runs = await harness.target.collector.store.query<{ agent_id: string; parent_agent: string }>(
      `SELECT r.agent_id AS agent_id, p.agent_id AS parent_agent
       FROM (SELECT agent_id, parent_run_id FROM runs FINAL WHERE project_id = {project:String}) AS r
       LEFT JOIN (SELECT run_id, agent_id FROM runs FINAL WHERE project_id = {project:String}) AS p
       ON p.run_id = r.parent_run_id
       WHERE r.agent_id IN ('planner') OR p.agent_id = 'planner'
       ORDER BY agent_id`,
      { project: harness.target.projectId },
    )
    expect(runs).toEqual([
      { agent_id: 'planner', parent_agent: '' },
      { agent_id: 'weather_bot', parent_agent: 'planner' },
    ])
  })

  it("inside @daa/sdk's run() of the same agent: one run, with the outcome the app recorded", async () => {
    await run({ agent: 'weather_bot', user: 'user-3' }, async (current) => {
      const agent = createAgent({ model: weatherScript(), tools: [weather], name: 'weather_bot' })
      const result = await agent.invoke(question)
      if (result.messages.at(-1)?.content === 'It is 4 °C in Oslo.')
        current.deliver({ value: 1, unit: 'answers' })
    })
    await processor.forceFlush()

    // createAgent's own agent chain is the same agent as the run around it: merged, not a second run.
    await expectFigures(harness.target, harness.target.apiKey, {
      runs: 5,
      llmCalls: 10,
      toolCalls: 5,
      inputTokens: 870 + 250,
      outputTokens: 99 + 30,
      people: 4,
      deliveredRuns: 1,
    })
    expect(await runsOf(harness.target, harness.target.projectId)).toContainEqual({
      agent_id: 'weather_bot',
      user_id: 'user-3',
    })
  })
})
