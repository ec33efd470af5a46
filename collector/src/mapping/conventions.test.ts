/**
 * The mapping decisions the framework conformance suite (tests/conformance) cannot isolate: which
 * nested agent spans are one run, and the OpenInference shapes LangChain does not emit there.
 */
import { describe, expect, it } from 'vitest'
import type { SpanRow } from '../store/rows.js'
import { mapSpans } from './map-spans.js'
import { createPriceTable } from './prices.js'
import { createTestTracing, decodeThroughOtlp, endAt } from './test-tracing.js'

const PROJECT = 'project-conventions'
const prices = createPriceTable({})

function rowNamed(rows: readonly SpanRow[], name: string): SpanRow {
  const row = rows.find((candidate) => candidate.span_name === name)
  if (row === undefined) throw new Error(`no span named ${name}`)
  return row
}

describe('nested agent spans', () => {
  it('merges a framework agent span into the run of the same agent around it, in any batch order', () => {
    const tracing = createTestTracing()
    const outer = tracing.startSpan('invoke_agent planner', {
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner' },
    })
    const inner = tracing.startSpan('planner.agent', {
      parent: outer,
      attributes: { 'traceloop.span.kind': 'agent', 'traceloop.entity.name': 'planner' },
    })
    const chat = tracing.startSpan('chat gpt-5', {
      parent: inner,
      attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 10 },
    })
    const helper = tracing.startSpan('researcher.agent', {
      parent: inner,
      attributes: { 'traceloop.span.kind': 'agent', 'traceloop.entity.name': 'researcher' },
    })
    for (const span of [chat, helper, inner, outer]) endAt(span, 10)
    const spans = decodeThroughOtlp(tracing.finishedSpans())
    const outerId = outer.spanContext().spanId
    for (const batch of [spans, [...spans].reverse()]) {
      const rows = mapSpans(PROJECT, batch, prices)
      expect(rows.runs.map((run) => [run.agent_id, run.parent_run_id]).sort()).toEqual([
        ['planner', ''],
        // A different agent inside is a sub-agent: a run of its own.
        ['researcher', outerId],
      ])
      const merged = rowNamed(rows.spans, 'planner.agent')
      expect(merged).toMatchObject({ operation: '', run_id: outerId })
      expect(merged.span_attributes['daa.run.merged_into']).toBe(outerId)
      expect(merged.span_attributes['daa.convention']).toBe('openllmetry,genai')
      expect(rowNamed(rows.spans, 'chat gpt-5')).toMatchObject({ run_id: outerId, input_tokens: 10 })
    }
  })

  it('keeps a @daa/sdk run nested in a run of the same agent: the application declared it', () => {
    const tracing = createTestTracing()
    const outer = tracing.startSpan('invoke_agent planner', {
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner' },
    })
    const inner = tracing.startSpan('invoke_agent planner', {
      parent: outer,
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner' },
    })
    inner.setAttribute('daa.run.id', inner.spanContext().spanId)
    endAt(inner, 5)
    endAt(outer, 10)
    const rows = mapSpans(PROJECT, decodeThroughOtlp(tracing.finishedSpans()), prices)
    expect(rows.runs).toHaveLength(2)
  })
})

describe('OpenLLMetry with the AI SDK', () => {
  it("an AI SDK call marked as the agent inside that agent's withAgent span is no run, even alone in its request", () => {
    const tracing = createTestTracing()
    const withAgent = tracing.startSpan('weather_bot.agent', {
      attributes: {
        'traceloop.span.kind': 'agent',
        'traceloop.entity.name': 'weather_bot',
        'traceloop.workflow.name': 'weather_bot',
      },
    })
    const call = tracing.startSpan('weather_bot.agent', {
      parent: withAgent,
      attributes: {
        'ai.operationId': 'ai.generateText',
        'traceloop.span.kind': 'agent',
        'traceloop.entity.name': 'weather_bot',
        'traceloop.workflow.name': 'weather_bot',
        'ai.usage.inputTokens': 250,
      },
    })
    endAt(call, 5)
    endAt(withAgent, 6)
    const [callSpan, agentSpan] = decodeThroughOtlp(tracing.finishedSpans())
    // The call first, in a request of its own, as a batch processor sends a long run.
    const early = mapSpans(PROJECT, [callSpan!], prices)
    expect(early.runs).toEqual([])
    expect(early.spans[0]).toMatchObject({ operation: '', input_tokens: 0 })
    expect(mapSpans(PROJECT, [agentSpan!], prices).runs).toEqual([
      expect.objectContaining({ run_id: withAgent.spanContext().spanId, agent_id: 'weather_bot' }),
    ])
  })
})

describe('OpenInference', () => {
  it('reads agents, nested chains as steps, LLM token details, tools and the person in metadata', () => {
    const tracing = createTestTracing()
    const agent = tracing.startSpan('support', {
      attributes: {
        'openinference.span.kind': 'AGENT',
        'session.id': 'session-4',
        metadata: JSON.stringify({ userId: 'user-8' }),
      },
    })
    const step = tracing.startSpan('RunnableSequence', {
      parent: agent,
      attributes: { 'openinference.span.kind': 'CHAIN', metadata: '{"langgraph_node":"agent"}' },
    })
    const llm = tracing.startSpan('ChatOpenAI', {
      parent: step,
      attributes: {
        'openinference.span.kind': 'LLM',
        'llm.model_name': 'gpt-5-mini',
        'llm.provider': 'openai',
        'llm.token_count.prompt': 300,
        'llm.token_count.completion': 40,
        'llm.token_count.total': 340,
        'llm.token_count.prompt_details.cache_read': 256,
        'llm.token_count.completion_details.reasoning': 12,
      },
    })
    const lookup = tracing.startSpan('lookup', {
      parent: agent,
      attributes: { 'openinference.span.kind': 'TOOL', 'tool.name': 'lookup_order' },
    })
    const search = tracing.startSpan('search', {
      parent: agent,
      attributes: { 'openinference.span.kind': 'RETRIEVER' },
    })
    for (const span of [llm, step, lookup, search, agent]) endAt(span, 10)

    const rows = mapSpans(PROJECT, decodeThroughOtlp(tracing.finishedSpans()), prices)
    const runId = agent.spanContext().spanId
    expect(rows.runs).toEqual([
      expect.objectContaining({
        run_id: runId,
        agent_id: 'support',
        user_id: 'user-8',
        conversation_id: 'session-4',
      }),
    ])
    expect(rowNamed(rows.spans, 'RunnableSequence')).toMatchObject({ operation: '', run_id: runId })
    expect(rowNamed(rows.spans, 'ChatOpenAI')).toMatchObject({
      operation: 'chat',
      request_model: 'gpt-5-mini',
      provider: 'openai',
      input_tokens: 300,
      output_tokens: 40,
      cache_read_tokens: 256,
      reasoning_tokens: 12,
      run_id: runId,
    })
    expect(rowNamed(rows.spans, 'lookup')).toMatchObject({
      operation: 'execute_tool',
      tool_name: 'lookup_order',
    })
    expect(rowNamed(rows.spans, 'search')).toMatchObject({ operation: 'retrieval', run_id: runId })
  })

  it('a LangGraph graph under a web request is the run; its nodes are steps', () => {
    const tracing = createTestTracing()
    const request = tracing.startSpan('POST /chat', {})
    const graph = tracing.startSpan('react_bot', {
      parent: request,
      attributes: {
        'openinference.span.kind': 'CHAIN',
        metadata: '{"ls_integration":"langgraph","user_id":"u-9"}',
      },
    })
    const node = tracing.startSpan('agent', {
      parent: graph,
      attributes: {
        'openinference.span.kind': 'CHAIN',
        metadata: '{"ls_integration":"langgraph","langgraph_node":"agent","langgraph_step":1}',
      },
    })
    for (const span of [node, graph, request]) endAt(span, 5)
    const rows = mapSpans(PROJECT, decodeThroughOtlp(tracing.finishedSpans()), prices)
    expect(rows.runs).toEqual([expect.objectContaining({ agent_id: 'react_bot', user_id: 'u-9' })])
    expect(rowNamed(rows.spans, 'agent')).toMatchObject({ operation: '', run_id: graph.spanContext().spanId })
  })

  it('never fails on a malformed metadata attribute', () => {
    const tracing = createTestTracing()
    endAt(
      tracing.startSpan('root chain', {
        attributes: { 'openinference.span.kind': 'CHAIN', metadata: '{not json' },
      }),
      1,
    )
    const rows = mapSpans(PROJECT, decodeThroughOtlp(tracing.finishedSpans()), prices)
    expect(rows.runs).toEqual([expect.objectContaining({ agent_id: 'root chain', user_id: '' })])
  })
})
