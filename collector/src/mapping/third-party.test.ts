/**
 * Spans of other instrumentations, mapped onto GenAI operations.
 *
 * - Vercel AI SDK: the real library (`ai` 6, `MockLanguageModelV3` from `ai/test`, telemetry on)
 *   records the spans, which go through the OTLP serializer and our decoder.
 * - OpenLLMetry and Mastra: spans written with the OTel SDK using the attribute names their sources
 *   document, for shapes the real packages no longer emit (the earlier Mastra AI-tracing exporter)
 *   or that need no framework. The real packages (and OpenInference with LangChain.js) run
 *   end to end, through a collector, in tests/conformance.
 */

import { context } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { generateText, simulateReadableStream, stepCountIs, streamText, tool } from 'ai'
import { MockLanguageModelV3 } from 'ai/test'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { SpanRow } from '../store/rows.js'
import { mapSpans } from './map-spans.js'
import { createPriceTable } from './prices.js'
import { createTestTracing, decodeThroughOtlp, endAt } from './test-tracing.js'

const PROJECT = 'project-third-party'
const prices = createPriceTable({ 'mock-model': { input: 2, output: 8, cacheRead: 0.5 } })

function rowsNamed(rows: readonly SpanRow[], spanName: string): SpanRow[] {
  return rows.filter((row) => row.span_name === spanName)
}

/** Usage in the AI SDK 6 provider format (LanguageModelV3Usage). */
function usage(input: number, output: number, cacheRead = 0) {
  return {
    inputTokens: { total: input, noCache: input - cacheRead, cacheRead, cacheWrite: 0 },
    outputTokens: { total: output, text: output, reasoning: 0 },
  }
}

describe('Vercel AI SDK 6 (real library, MockLanguageModelV3)', () => {
  // The AI SDK nests its spans through the active context, which needs a context manager.
  const contextManager = new AsyncLocalStorageContextManager()
  beforeAll(() => {
    context.setGlobalContextManager(contextManager.enable())
  })
  afterAll(() => {
    contextManager.disable()
    context.disable()
  })

  it('maps generateText steps to chat, its tool call to execute_tool, and keeps tokens off the wrapper', async () => {
    const tracing = createTestTracing('vercel-agent')
    const model = new MockLanguageModelV3({
      doGenerate: [
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
          usage: usage(120, 20, 100),
          warnings: [],
        },
        {
          content: [{ type: 'text', text: 'It is 4 °C in Oslo.' }],
          finishReason: { unified: 'stop', raw: 'stop' },
          usage: usage(180, 12),
          warnings: [],
        },
      ],
    })

    const result = await tracing.tracer.startActiveSpan(
      'invoke_agent weather-bot',
      { attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'weather-bot' } },
      async (agentSpan) => {
        try {
          return await generateText({
            model,
            prompt: 'Weather in Oslo?',
            tools: {
              weather: tool({
                description: 'Current temperature of a city',
                inputSchema: z.object({ city: z.string() }),
                execute: async ({ city }) => ({ city, celsius: 4 }),
              }),
            },
            stopWhen: stepCountIs(2),
            experimental_telemetry: {
              isEnabled: true,
              tracer: tracing.tracer,
              functionId: 'weather-reply',
              metadata: { userId: 'user-7', conversationId: 'conversation-3' },
            },
          })
        } finally {
          agentSpan.end()
        }
      },
    )
    expect(result.text).toBe('It is 4 °C in Oslo.')

    const spans = decodeThroughOtlp(tracing.finishedSpans())
    expect(spans.map((span) => span.name).sort()).toEqual([
      'ai.generateText',
      'ai.generateText.doGenerate',
      'ai.generateText.doGenerate',
      'ai.toolCall',
      'invoke_agent weather-bot',
    ])
    const rows = mapSpans(PROJECT, spans, prices)
    const runId = rowsNamed(rows.spans, 'invoke_agent weather-bot')[0]?.span_id
    expect(rows.spans.every((row) => row.run_id === runId)).toBe(true)
    expect(rows.runs).toHaveLength(1)

    const [wrapper] = rowsNamed(rows.spans, 'ai.generateText')
    // The wrapper repeats its steps' summed usage in ai.usage.*: counting it would double the tokens.
    expect(wrapper).toMatchObject({ operation: '', input_tokens: 0, output_tokens: 0, cost_usd: 0 })
    expect(wrapper?.span_attributes['ai.usage.inputTokens']).toBe('300')

    const calls = rowsNamed(rows.spans, 'ai.generateText.doGenerate').sort((left, right) =>
      left.timestamp.localeCompare(right.timestamp),
    )
    expect(calls.map((call) => call.operation)).toEqual(['chat', 'chat'])
    expect(calls[0]).toMatchObject({
      request_model: 'mock-model-id',
      provider: 'mock-provider',
      user_id: 'user-7',
      conversation_id: 'conversation-3',
      input_tokens: 120,
      output_tokens: 20,
      cache_read_tokens: 100,
    })
    expect(calls[1]).toMatchObject({ input_tokens: 180, output_tokens: 12, cache_read_tokens: 0 })

    const [toolCall] = rowsNamed(rows.spans, 'ai.toolCall')
    expect(toolCall).toMatchObject({
      operation: 'execute_tool',
      tool_name: 'weather',
      tool_call_id: 'call-1',
      input_tokens: 0,
    })
    expect(toolCall?.span_attributes['ai.toolCall.id']).toBe('call-1')

    // Priced by prefix: 'mock-model-id' → 'mock-model' ((20 × 2 + 100 × 0.5 + 20 × 8) and (180 × 2 + 12 × 8)).
    expect(calls[0]?.cost_usd).toBeCloseTo(250 / 1_000_000, 12)
    expect(calls[1]?.cost_usd).toBeCloseTo(456 / 1_000_000, 12)
  })

  it('maps streamText.doStream to chat with its usage, and a top-level call without a run around it to a run', async () => {
    const tracing = createTestTracing('vercel-stream')
    const model = new MockLanguageModelV3({
      provider: 'openai.responses',
      modelId: 'gpt-5-mini',
      doStream: {
        stream: simulateReadableStream({
          chunks: [
            { type: 'text-start', id: 't1' },
            { type: 'text-delta', id: 't1', delta: 'Hello' },
            { type: 'text-end', id: 't1' },
            { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: usage(40, 5, 32) },
          ],
        }),
      },
    })
    const result = streamText({
      model,
      prompt: 'Say hello',
      experimental_telemetry: { isEnabled: true, tracer: tracing.tracer },
    })
    expect(await result.text).toBe('Hello')
    // The SDK ends its outer span in the stream's flush, just after the text resolves.
    await expect.poll(() => tracing.finishedSpans().map((span) => span.name)).toContain('ai.streamText')

    const rows = mapSpans(PROJECT, decodeThroughOtlp(tracing.finishedSpans()), prices)
    // A top-level call that starts its trace is the run itself, of the service when no functionId names it.
    const [outer] = rowsNamed(rows.spans, 'ai.streamText')
    expect(outer).toMatchObject({ operation: 'invoke_agent', agent_id: 'vercel-stream' })
    expect(outer?.span_attributes['daa.convention']).toBe('vercel-ai,genai')
    expect(rows.runs).toEqual([
      expect.objectContaining({ run_id: outer?.span_id, agent_id: 'vercel-stream' }),
    ])
    expect(rowsNamed(rows.spans, 'ai.streamText.doStream')[0]).toMatchObject({
      operation: 'chat',
      request_model: 'gpt-5-mini',
      provider: 'openai',
      input_tokens: 40,
      output_tokens: 5,
      cache_read_tokens: 32,
      run_id: outer?.span_id,
    })
  })
})

describe('OpenLLMetry / Traceloop (documented attribute names)', () => {
  it('maps agent, tool and LLM spans by traceloop.span.kind and llm.request.type', () => {
    const tracing = createTestTracing('traceloop-app')
    const workflow = tracing.startSpan('support_flow.workflow', {
      attributes: {
        'traceloop.span.kind': 'workflow',
        'traceloop.workflow.name': 'support_flow',
        'traceloop.entity.name': 'support_flow',
        'traceloop.association.properties.user_id': 'user-99',
        'traceloop.association.properties.session_id': 'session-5',
      },
    })
    const agent = tracing.startSpan('triage_agent.agent', {
      parent: workflow,
      attributes: {
        'traceloop.span.kind': 'agent',
        'traceloop.entity.name': 'triage_agent',
        'traceloop.entity.version': '3',
        'traceloop.association.properties.user_id': 'user-99',
      },
    })
    const completion = tracing.startSpan('openai.chat', {
      parent: agent,
      attributes: {
        'llm.request.type': 'chat',
        'gen_ai.system': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.usage.prompt_tokens': 640,
        'gen_ai.usage.completion_tokens': 85,
        'gen_ai.usage.cache_read_input_tokens': 512,
        'llm.usage.total_tokens': 725,
      },
    })
    endAt(completion, 10)
    const legacyCompletion = tracing.startSpan('openai.completion', {
      parent: agent,
      attributes: { 'llm.request.type': 'completion', 'gen_ai.request.model': 'gpt-3.5-turbo-instruct' },
    })
    endAt(legacyCompletion, 11)
    const lookup = tracing.startSpan('lookup_ticket.tool', {
      parent: agent,
      attributes: { 'traceloop.span.kind': 'tool', 'traceloop.entity.name': 'lookup_ticket' },
    })
    endAt(lookup, 12)
    const task = tracing.startSpan('summarise.task', {
      parent: agent,
      attributes: { 'traceloop.span.kind': 'task', 'traceloop.entity.name': 'summarise' },
    })
    endAt(task, 13)
    endAt(agent, 20)
    endAt(workflow, 21)

    const rows = mapSpans(PROJECT, decodeThroughOtlp(tracing.finishedSpans()), prices)
    const row = (name: string) => rowsNamed(rows.spans, name)[0]
    const agentId = agent.spanContext().spanId
    expect(row('support_flow.workflow')).toMatchObject({
      operation: '',
      run_id: '',
      user_id: 'user-99',
      conversation_id: 'session-5',
    })
    expect(row('triage_agent.agent')).toMatchObject({
      operation: 'invoke_agent',
      agent_id: 'triage_agent',
      run_id: agentId,
    })
    expect(row('openai.chat')).toMatchObject({
      operation: 'chat',
      provider: 'openai',
      request_model: 'gpt-4o',
      response_model: 'gpt-4o-2024-08-06',
      input_tokens: 640,
      output_tokens: 85,
      cache_read_tokens: 512,
      run_id: agentId,
    })
    expect(row('openai.completion')).toMatchObject({ operation: 'text_completion', run_id: agentId })
    expect(row('lookup_ticket.tool')).toMatchObject({ operation: 'execute_tool', tool_name: 'lookup_ticket' })
    expect(row('summarise.task')).toMatchObject({ operation: '', run_id: agentId })
    expect(rows.runs).toEqual([
      expect.objectContaining({
        run_id: agentId,
        agent_id: 'triage_agent',
        agent_name: 'triage_agent',
        agent_version: '3',
        user_id: 'user-99',
      }),
    ])
  })
})

describe('Mastra (documented attribute names)', () => {
  it('maps the 1.x OtelExporter: the model_generation wrapper is no LLM call, its model_inference children are', () => {
    const tracing = createTestTracing('mastra-app')
    const agentRun = tracing.startSpan('invoke_agent Support Agent', {
      attributes: {
        'gen_ai.operation.name': 'invoke_agent',
        'mastra.span.type': 'agent_run',
        'gen_ai.agent.id': 'support-agent',
        'gen_ai.agent.name': 'Support Agent',
        'gen_ai.conversation.id': 'thread-12',
      },
    })
    const wrapper = tracing.startSpan('model_generation gpt-4o-mini', {
      parent: agentRun,
      attributes: { 'gen_ai.operation.name': 'model_generation', 'mastra.span.type': 'model_generation' },
    })
    const generation = tracing.startSpan('chat gpt-4o-mini', {
      parent: wrapper,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'mastra.span.type': 'model_inference',
        'mastra.metadata.userId': 'user-5',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.provider.name': 'openai',
        'gen_ai.usage.input_tokens': 300,
        'gen_ai.usage.output_tokens': 40,
        'gen_ai.usage.cache_read.input_tokens': 128,
        'gen_ai.usage.reasoning_tokens': 8,
        'gen_ai.agent.id': 'support-agent',
      },
    })
    endAt(generation, 5)
    // A model step inside the generation: its own operation name, and no usage of its own.
    const step = tracing.startSpan('model_step', {
      parent: wrapper,
      attributes: { 'gen_ai.operation.name': 'model_step', 'mastra.span.type': 'model_step' },
    })
    endAt(step, 4)
    endAt(wrapper, 6)
    const toolCall = tracing.startSpan('execute_tool searchDocs', {
      parent: agentRun,
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'mastra.span.type': 'tool_call',
        'gen_ai.tool.name': 'searchDocs',
        'gen_ai.tool.call.id': 'call-9',
      },
    })
    endAt(toolCall, 6)
    endAt(agentRun, 10)

    const rows = mapSpans(PROJECT, decodeThroughOtlp(tracing.finishedSpans()), prices)
    const row = (name: string) => rowsNamed(rows.spans, name)[0]
    const runId = agentRun.spanContext().spanId
    expect(row('model_generation gpt-4o-mini')).toMatchObject({
      operation: '',
      run_id: runId,
      input_tokens: 0,
    })
    expect(row('chat gpt-4o-mini')?.span_attributes['daa.convention']).toBe('mastra,genai')
    expect(row('chat gpt-4o-mini')).toMatchObject({
      operation: 'chat',
      run_id: runId,
      user_id: 'user-5',
      input_tokens: 300,
      output_tokens: 40,
      cache_read_tokens: 128,
      reasoning_tokens: 8,
    })
    expect(row('model_step')).toMatchObject({ operation: '', run_id: runId, input_tokens: 0 })
    expect(row('execute_tool searchDocs')).toMatchObject({
      operation: 'execute_tool',
      tool_name: 'searchDocs',
    })
    expect(rows.runs).toEqual([
      expect.objectContaining({ run_id: runId, agent_id: 'support-agent', conversation_id: 'thread-12' }),
    ])
  })

  it("maps the earlier AI-tracing exporter's non-standard operations by mastra.span.type", () => {
    const tracing = createTestTracing('mastra-legacy')
    const agentRun = tracing.startSpan('agent run: support', {
      attributes: {
        'gen_ai.operation.name': 'agent',
        'mastra.span.type': 'agent_run',
        'mastra.agent.id': 'support',
      },
    })
    const generation = tracing.startSpan('chat gpt-4o', {
      parent: agentRun,
      attributes: {
        'gen_ai.operation.name': 'tool_selection',
        'mastra.span.type': 'llm_generation',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.system': 'openai',
        'gen_ai.usage.input_tokens': 90,
        'gen_ai.usage.output_tokens': 9,
        'gen_ai.usage.cached_input_tokens': 64,
      },
    })
    endAt(generation, 2)
    const toolCall = tracing.startSpan('tool.execute weather', {
      parent: agentRun,
      attributes: {
        'gen_ai.operation.name': 'tool_call',
        'mastra.span.type': 'tool_call',
        'gen_ai.tool.name': 'weather',
      },
    })
    endAt(toolCall, 3)
    endAt(agentRun, 4)

    const rows = mapSpans(PROJECT, decodeThroughOtlp(tracing.finishedSpans()), prices)
    const row = (name: string) => rowsNamed(rows.spans, name)[0]
    expect(row('agent run: support')).toMatchObject({ operation: 'invoke_agent', agent_id: 'support' })
    expect(row('chat gpt-4o')).toMatchObject({
      operation: 'chat',
      provider: 'openai',
      input_tokens: 90,
      cache_read_tokens: 64,
    })
    expect(row('tool.execute weather')).toMatchObject({ operation: 'execute_tool', tool_name: 'weather' })
    expect(rows.runs.map((run) => run.agent_id)).toEqual(['support'])
  })
})
