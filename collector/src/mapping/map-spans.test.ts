import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { describe, expect, it } from 'vitest'
import { decodeJsonRequest } from '../otlp/decode-json.js'
import type { DecodedSpan } from '../otlp/decoded-span.js'
import { OUTCOME_COLUMNS, RUN_COLUMNS, SPAN_COLUMNS, type SpanRow } from '../store/rows.js'
import { mapSpans } from './map-spans.js'
import { createPriceTable, DEFAULT_PRICES } from './prices.js'
import { createTestTracing, decodeThroughOtlp, endAt, nanosecondsAt } from './test-tracing.js'

const PROJECT = 'project-acme'

const prices = createPriceTable({
  'gpt-5': { input: 1.25, output: 10, cacheRead: 0.125 },
  'claude-sonnet-4': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
})

function rowNamed(rows: readonly SpanRow[], spanName: string): SpanRow {
  const row = rows.find((candidate) => candidate.span_name === spanName)
  if (row === undefined) throw new Error(`no span row named ${spanName}`)
  return row
}

describe('a plain GenAI agent run with LLM calls, a tool call and an inline outcome', () => {
  function recordRun() {
    const tracing = createTestTracing('support-service')
    const run = tracing.startSpan('invoke_agent support-bot', {
      attributes: {
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.agent.id': 'agent-support-7',
        'gen_ai.agent.name': 'support-bot',
        'gen_ai.agent.version': '2.1.0',
        'user.id': 'user-42',
        'gen_ai.conversation.id': 'conversation-9',
        // An agent's own usage (the sum of its calls): kept on its row, never priced again.
        'gen_ai.request.model': 'gpt-5',
        'gen_ai.usage.input_tokens': 1800,
        'gen_ai.usage.output_tokens': 360,
        'app.tags': ['vip', 'refund'],
        'app.priority': 2,
        'app.escalated': false,
      },
    })
    const firstChat = tracing.startSpan('chat gpt-5', {
      parent: run,
      startMs: 10,
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-5',
        'gen_ai.response.model': 'gpt-5-2026-08-01',
        'gen_ai.provider.name': 'openai',
        'gen_ai.usage.input_tokens': 1200,
        'gen_ai.usage.output_tokens': 300,
        'gen_ai.usage.cache_read.input_tokens': 1000,
        'gen_ai.usage.reasoning.output_tokens': 100,
      },
    })
    endAt(firstChat, 400)
    const tool = tracing.startSpan('execute_tool lookup_order', {
      parent: run,
      startMs: 410,
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'lookup_order',
        'gen_ai.tool.call.id': 'call_1',
      },
    })
    tool.addEvent(
      'cache.miss',
      { 'cache.key': 'order-77', 'cache.size': 3 },
      nanosecondsToDate(nanosecondsAt(420)),
    )
    endAt(tool, 450)
    const secondChat = tracing.startSpan('chat claude-sonnet-4', {
      parent: run,
      startMs: 460,
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'claude-sonnet-4@20250514',
        // The older spellings: gen_ai.system, prompt_tokens, completion_tokens.
        'gen_ai.system': 'anthropic',
        'gen_ai.usage.prompt_tokens': 500,
        'gen_ai.usage.completion_tokens': 50,
        'gen_ai.usage.cache_creation.input_tokens': 200,
      },
    })
    secondChat.addLink({ context: tool.spanContext(), attributes: { 'link.reason': 'follows tool' } })
    endAt(secondChat, 900)
    const pricedBySender = tracing.startSpan('chat gpt-5 (priced by sender)', {
      parent: run,
      startMs: 910,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-5',
        'gen_ai.usage.input_tokens': 100,
        'gen_ai.usage.output_tokens': 10,
        'daa.cost.usd': 0.5,
      },
    })
    endAt(pricedBySender, 950)
    run.setAttributes({
      'daa.outcome': 'delivered',
      'daa.outcome.value': 120,
      'daa.outcome.unit': 'USD',
      'daa.outcome.reason': 'refund issued',
    })
    endAt(run, 1000)
    return { spans: decodeThroughOtlp(tracing.finishedSpans()), run, tool, firstChat }
  }

  it('builds each row with its keys in the column order, which lets ingest encode it by its values', () => {
    const rows = mapSpans(PROJECT, recordRun().spans, prices)
    expect(rows.runs.length * rows.outcomes.length).toBeGreaterThan(0)
    for (const row of rows.spans) expect(Object.keys(row)).toEqual(SPAN_COLUMNS)
    for (const row of rows.runs) expect(Object.keys(row)).toEqual(RUN_COLUMNS)
    for (const row of rows.outcomes) expect(Object.keys(row)).toEqual(OUTCOME_COLUMNS)
  })

  it('maps every span to a row with the GenAI columns filled', () => {
    const { spans, run, tool } = recordRun()
    const rows = mapSpans(PROJECT, spans, prices)
    const runId = run.spanContext().spanId
    expect(rows.spans).toHaveLength(5)
    expect(rows.spans.every((row) => row.run_id === runId && row.project_id === PROJECT)).toBe(true)

    const runRow = rowNamed(rows.spans, 'invoke_agent support-bot')
    expect(runRow).toMatchObject({
      operation: 'invoke_agent',
      agent_id: 'agent-support-7',
      user_id: 'user-42',
      conversation_id: 'conversation-9',
      span_kind: 'INTERNAL',
      status_code: 'UNSET',
      service_name: 'support-service',
      scope_name: 'daa-mapping-test',
      scope_version: '1.2.3',
      timestamp: nanosecondsAt(0),
      duration_ns: 1_000_000_000,
      parent_span_id: '',
      input_tokens: 1800,
      output_tokens: 360,
      cost_usd: 0,
      error_type: '',
    })
    expect(runRow.resource_attributes).toMatchObject({
      'service.name': 'support-service',
      'deployment.environment.name': 'test',
    })
    expect(runRow.span_attributes).toMatchObject({
      'app.tags': '["vip","refund"]',
      'app.priority': '2',
      'app.escalated': 'false',
      'daa.outcome.value': '120',
      'gen_ai.agent.name': 'support-bot',
    })

    expect(rowNamed(rows.spans, 'chat gpt-5')).toMatchObject({
      operation: 'chat',
      span_kind: 'CLIENT',
      parent_span_id: runId,
      request_model: 'gpt-5',
      response_model: 'gpt-5-2026-08-01',
      provider: 'openai',
      input_tokens: 1200,
      output_tokens: 300,
      cache_read_tokens: 1000,
      cache_write_tokens: 0,
      reasoning_tokens: 100,
      duration_ns: 390_000_000,
    })
    const toolRow = rowNamed(rows.spans, 'execute_tool lookup_order')
    expect(toolRow).toMatchObject({
      operation: 'execute_tool',
      tool_name: 'lookup_order',
      tool_call_id: 'call_1',
      input_tokens: 0,
    })
    expect(toolRow['events.timestamp']).toEqual([nanosecondsAt(420)])
    expect(toolRow['events.name']).toEqual(['cache.miss'])
    expect(toolRow['events.attributes']).toEqual([{ 'cache.key': 'order-77', 'cache.size': '3' }])
    const secondChat = rowNamed(rows.spans, 'chat claude-sonnet-4')
    expect(secondChat).toMatchObject({
      provider: 'anthropic',
      request_model: 'claude-sonnet-4@20250514',
      input_tokens: 500,
      output_tokens: 50,
      cache_write_tokens: 200,
    })
    expect(secondChat['links.trace_id']).toEqual([tool.spanContext().traceId])
    expect(secondChat['links.span_id']).toEqual([tool.spanContext().spanId])
    expect(secondChat['links.trace_state']).toEqual([''])
    expect(secondChat['links.attributes']).toEqual([{ 'link.reason': 'follows tool' }])
  })

  it('prices LLM calls from the table (response model first) unless the span carries daa.cost.usd', () => {
    const { spans } = recordRun()
    const rows = mapSpans(PROJECT, spans, prices)
    // gpt-5-2026-08-01 → gpt-5: 200 uncached × 1.25 + 1000 cached × 0.125 + 300 output × 10, per million.
    expect(rowNamed(rows.spans, 'chat gpt-5').cost_usd).toBeCloseTo(0.003375, 12)
    // claude-sonnet-4@20250514 → claude-sonnet-4: 300 × 3 + 200 written × 3.75 + 50 × 15, per million.
    expect(rowNamed(rows.spans, 'chat claude-sonnet-4').cost_usd).toBeCloseTo(0.0024, 12)
    expect(rowNamed(rows.spans, 'chat gpt-5 (priced by sender)').cost_usd).toBe(0.5)
    // The run's own usage repeats its calls' usage, so it is not priced (that would count it twice).
    expect(rowNamed(rows.spans, 'invoke_agent support-bot').cost_usd).toBe(0)
    expect(rowNamed(rows.spans, 'execute_tool lookup_order').cost_usd).toBe(0)

    const unpriced = mapSpans(PROJECT, spans, DEFAULT_PRICES)
    expect(unpriced.spans.map((row) => row.cost_usd).sort()).toEqual([0, 0, 0, 0, 0.5])
  })

  it('writes one run row and its inline outcome', () => {
    const { spans, run } = recordRun()
    const rows = mapSpans(PROJECT, spans, prices)
    const runId = run.spanContext().spanId
    expect(rows.runs).toEqual([
      {
        project_id: PROJECT,
        run_id: runId,
        trace_id: run.spanContext().traceId,
        parent_run_id: '',
        agent_id: 'agent-support-7',
        agent_name: 'support-bot',
        agent_version: '2.1.0',
        user_id: 'user-42',
        conversation_id: 'conversation-9',
        service_name: 'support-service',
        start_time: nanosecondsAt(0),
        duration_ns: 1_000_000_000,
        status_code: 'UNSET',
        error_type: '',
        cost_usd: 0,
      },
    ])
    expect(rows.outcomes).toEqual([
      {
        project_id: PROJECT,
        run_id: runId,
        status: 'delivered',
        value: 120,
        unit: 'USD',
        reason: 'refund issued',
        recorded_at: nanosecondsAt(1000),
        source_span_id: runId,
      },
    ])
  })
})

/** Turns the nanosecond string back into a Date for the SDK's event time (millisecond precision suffices). */
function nanosecondsToDate(nanoseconds: string): Date {
  return new Date(Number(BigInt(nanoseconds) / 1_000_000n))
}

describe('nested runs', () => {
  it('gives a sub-agent run its parent run, and every span its nearest run, in any batch order', () => {
    const tracing = createTestTracing()
    const outer = tracing.startSpan('invoke_agent planner', {
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner' },
    })
    const delegate = tracing.startSpan('execute_tool delegate', {
      parent: outer,
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'delegate' },
    })
    const inner = tracing.startSpan('invoke_agent researcher', {
      parent: delegate,
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'researcher' },
    })
    const innerChat = tracing.startSpan('chat', {
      parent: inner,
      attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-5' },
    })
    // A span of another library inside the call: the walk passes through spans that are not runs.
    const http = tracing.startSpan('POST /v1/responses', { parent: innerChat, kind: SpanKind.CLIENT })
    for (const span of [http, innerChat, inner, delegate, outer]) endAt(span, 100)

    const spans = decodeThroughOtlp(tracing.finishedSpans())
    const outerId = outer.spanContext().spanId
    const innerId = inner.spanContext().spanId
    for (const batch of [spans, [...spans].reverse()]) {
      const rows = mapSpans(PROJECT, batch, prices)
      const runIdOf = (name: string) => rowNamed(rows.spans, name).run_id
      expect(runIdOf('invoke_agent planner')).toBe(outerId)
      expect(runIdOf('execute_tool delegate')).toBe(outerId)
      expect(runIdOf('invoke_agent researcher')).toBe(innerId)
      expect(runIdOf('chat')).toBe(innerId)
      expect(runIdOf('POST /v1/responses')).toBe(innerId)
      expect(rowNamed(rows.spans, 'POST /v1/responses').operation).toBe('')
      const runs = new Map(rows.runs.map((run) => [run.agent_id, run]))
      expect(runs.get('planner')?.parent_run_id).toBe('')
      expect(runs.get('researcher')?.parent_run_id).toBe(outerId)
      expect(runs.get('researcher')?.run_id).toBe(innerId)
    }
  })

  it('resolves a deep trace in linear time and survives a parent cycle', () => {
    const tracing = createTestTracing()
    const run = tracing.startSpan('invoke_agent deep', {
      attributes: { 'gen_ai.operation.name': 'invoke_agent' },
    })
    const chain = [run]
    for (let depth = 0; depth < 3000; depth++) {
      chain.push(tracing.startSpan(`step ${depth}`, { parent: chain[chain.length - 1]! }))
    }
    for (const span of chain.reverse()) endAt(span, 10)
    const spans = decodeThroughOtlp(tracing.finishedSpans())
    const rows = mapSpans(PROJECT, spans, prices)
    expect(new Set(rows.spans.map((row) => row.run_id))).toEqual(new Set([run.spanContext().spanId]))

    // Two spans naming each other as parent: malformed, but mapping must end and attribute nothing.
    const [first, second] = decodeThroughOtlp(createTestTracingPair())
    const cyclic: DecodedSpan[] = [
      { ...first!, parentSpanId: second!.spanId },
      { ...second!, traceId: first!.traceId, parentSpanId: first!.spanId },
    ]
    expect(mapSpans(PROJECT, cyclic, prices).spans.map((row) => row.run_id)).toEqual(['', ''])
  })
})

function createTestTracingPair() {
  const tracing = createTestTracing()
  endAt(tracing.startSpan('first', {}), 1)
  endAt(tracing.startSpan('second', {}), 1)
  return tracing.finishedSpans()
}

describe('spans whose run is not in the batch', () => {
  it("leaves run_id '' unless daa.run.id, on the span or an ancestor, names the run", () => {
    const tracing = createTestTracing()
    const run = tracing.startSpan('invoke_agent remote', {
      attributes: { 'gen_ai.operation.name': 'invoke_agent' },
    })
    const runId = run.spanContext().spanId
    const orphan = tracing.startSpan('chat orphan', {
      parent: run,
      attributes: { 'gen_ai.operation.name': 'chat' },
    })
    const stamped = tracing.startSpan('execute_tool stamped', {
      parent: run,
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'daa.run.id': runId },
    })
    const underStamped = tracing.startSpan('db query', { parent: stamped })
    const subRunWithHint = tracing.startSpan('invoke_agent sub with hint', {
      parent: run,
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'daa.parent_run.id': runId.toUpperCase() },
    })
    const subRunWithoutHint = tracing.startSpan('invoke_agent sub without hint', {
      parent: run,
      attributes: { 'gen_ai.operation.name': 'invoke_agent' },
    })
    for (const span of [orphan, underStamped, stamped, subRunWithHint, subRunWithoutHint, run]) endAt(span, 5)

    const withoutRun = decodeThroughOtlp(tracing.finishedSpans()).filter((span) => span.spanId !== runId)
    const rows = mapSpans(PROJECT, withoutRun, prices)
    expect(rowNamed(rows.spans, 'chat orphan').run_id).toBe('')
    expect(rowNamed(rows.spans, 'execute_tool stamped').run_id).toBe(runId)
    expect(rowNamed(rows.spans, 'db query').run_id).toBe(runId)
    const parentRunOf = (name: string) =>
      rows.runs.find((row) => row.run_id === rowNamed(rows.spans, name).span_id)?.parent_run_id
    expect(parentRunOf('invoke_agent sub with hint')).toBe(runId)
    expect(parentRunOf('invoke_agent sub without hint')).toBe('')
  })
})

describe('late outcomes', () => {
  it('records an outcome from a daa.outcome span for the run in daa.run.id', () => {
    const tracing = createTestTracing()
    const run = tracing.startSpan('invoke_agent triage', {
      attributes: { 'gen_ai.operation.name': 'invoke_agent' },
    })
    endAt(run, 50)
    const runId = run.spanContext().spanId
    const late = tracing.startSpan('daa.outcome', {
      startMs: 3_600_000,
      attributes: {
        'daa.run.id': runId,
        'daa.outcome': 'partial',
        'daa.outcome.value': '3',
        'daa.outcome.unit': 'tickets',
        'daa.outcome.reason': 'two of five resolved',
      },
    })
    endAt(late, 3_600_001)
    const withoutRunId = tracing.startSpan('daa.outcome', { attributes: { 'daa.outcome': 'delivered' } })
    endAt(withoutRunId, 1)
    const withBadRunId = tracing.startSpan('daa.outcome', {
      attributes: { 'daa.outcome': 'delivered', 'daa.run.id': 'not-a-span-id' },
    })
    endAt(withBadRunId, 1)
    const withUnknownStatus = tracing.startSpan('daa.outcome', {
      attributes: { 'daa.outcome': 'won', 'daa.run.id': runId },
    })
    endAt(withUnknownStatus, 1)

    const [runBatch, ...laterBatch] = decodeThroughOtlp(tracing.finishedSpans())
    expect(mapSpans(PROJECT, [runBatch!], prices).outcomes).toEqual([])
    const rows = mapSpans(PROJECT, laterBatch, prices)
    expect(rows.outcomes).toEqual([
      {
        project_id: PROJECT,
        run_id: runId,
        status: 'partial',
        value: 3,
        unit: 'tickets',
        reason: 'two of five resolved',
        recorded_at: nanosecondsAt(3_600_001),
        source_span_id: late.spanContext().spanId,
      },
    ])
    // Every late-outcome span is still stored, as a span of operation daa.outcome.
    expect(rows.spans).toHaveLength(4)
    expect(rows.spans.every((row) => row.operation === 'daa.outcome')).toBe(true)
    expect(rows.spans.find((row) => row.span_id === late.spanContext().spanId)?.run_id).toBe(runId)
    expect(rows.runs).toEqual([])
  })

  it('ignores an outcome value outside the contract on a run span, keeping the run', () => {
    const tracing = createTestTracing()
    const run = tracing.startSpan('invoke_agent', {
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'daa.outcome': 'Delivered' },
    })
    endAt(run, 1)
    const rows = mapSpans(PROJECT, decodeThroughOtlp(tracing.finishedSpans()), prices)
    expect(rows.runs).toHaveLength(1)
    expect(rows.outcomes).toEqual([])
  })
})

describe('failed spans', () => {
  it('takes error.type, else the exception type, else _OTHER, only when the span failed', () => {
    const tracing = createTestTracing()
    const run = tracing.startSpan('invoke_agent fragile', {
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'fragile' },
    })
    const timedOut = tracing.startSpan('execute_tool fetch', {
      parent: run,
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'error.type': 'timeout' },
    })
    timedOut.setStatus({ code: SpanStatusCode.ERROR, message: 'no answer in 30 s' })
    endAt(timedOut, 1)
    const threw = tracing.startSpan('execute_tool parse', {
      parent: run,
      attributes: { 'gen_ai.operation.name': 'execute_tool' },
    })
    threw.recordException(new TypeError('bad input'))
    threw.setStatus({ code: SpanStatusCode.ERROR })
    endAt(threw, 2)
    const unexplained = tracing.startSpan('chat', {
      parent: run,
      attributes: { 'gen_ai.operation.name': 'chat' },
    })
    unexplained.setStatus({ code: SpanStatusCode.ERROR })
    endAt(unexplained, 3)
    const recovered = tracing.startSpan('execute_tool retry', { parent: run })
    recovered.recordException(new RangeError('first attempt failed'))
    recovered.setStatus({ code: SpanStatusCode.OK })
    endAt(recovered, 4)
    run.setAttributes({ 'error.type': 'agent_gave_up', 'daa.outcome': 'failed' })
    run.setStatus({ code: SpanStatusCode.ERROR, message: 'too many tool failures' })
    endAt(run, 5)

    const rows = mapSpans(PROJECT, decodeThroughOtlp(tracing.finishedSpans()), prices)
    expect(rowNamed(rows.spans, 'execute_tool fetch')).toMatchObject({
      status_code: 'ERROR',
      status_message: 'no answer in 30 s',
      error_type: 'timeout',
    })
    expect(rowNamed(rows.spans, 'execute_tool parse').error_type).toBe('TypeError')
    expect(rowNamed(rows.spans, 'execute_tool parse')['events.name']).toEqual(['exception'])
    expect(rowNamed(rows.spans, 'chat').error_type).toBe('_OTHER')
    expect(rowNamed(rows.spans, 'execute_tool retry')).toMatchObject({ status_code: 'OK', error_type: '' })
    expect(rows.runs[0]).toMatchObject({ status_code: 'ERROR', error_type: 'agent_gave_up' })
    expect(rows.outcomes.map((outcome) => outcome.status)).toEqual(['failed'])
  })
})

describe('attribute values of the wrong type', () => {
  /** OTLP/JSON can carry what the JS SDK refuses to record (key-value lists, bytes, int64 beyond 2^53). */
  function decodeJsonSpan(attributes: Array<{ key: string; value: Record<string, unknown> }>, kind = 1) {
    const request = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { intValue: '7' } }] },
          scopeSpans: [
            {
              scope: { name: 'hand-written' },
              spans: [
                {
                  traceId: '0af7651916cd43dd8448eb211c80319c',
                  spanId: 'b7ad6b7169203331',
                  name: 'chat odd',
                  kind,
                  startTimeUnixNano: nanosecondsAt(0),
                  endTimeUnixNano: nanosecondsAt(1),
                  attributes,
                },
              ],
            },
          ],
        },
      ],
    }
    const decoded = decodeJsonRequest(JSON.stringify(request))
    expect(decoded.rejectedSpans).toBe(0)
    return decoded.spans
  }

  it('coerces what has one sensible reading and ignores the rest, without throwing', () => {
    const spans = decodeJsonSpan(
      [
        { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
        { key: 'gen_ai.request.model', value: { stringValue: 'GPT-5' } },
        { key: 'gen_ai.agent.name', value: { intValue: '7' } },
        { key: 'user.id', value: { kvlistValue: { values: [{ key: 'id', value: { stringValue: 'u1' } }] } } },
        { key: 'gen_ai.conversation.id', value: { boolValue: true } },
        { key: 'gen_ai.usage.input_tokens', value: { stringValue: '1200' } },
        // A whole count sent as a double is a count (a fraction or a negative is rejected at decode).
        { key: 'gen_ai.usage.output_tokens', value: { doubleValue: 30 } },
        {
          key: 'gen_ai.usage.cache_creation.input_tokens',
          value: { arrayValue: { values: [{ intValue: 1 }] } },
        },
        { key: 'gen_ai.usage.reasoning.output_tokens', value: { stringValue: 'many' } },
        { key: 'daa.cost.usd', value: { doubleValue: -1 } },
        { key: 'daa.run.id', value: { stringValue: 'B7AD6B7169203332' } },
        { key: 'app.blob', value: { bytesValue: 'AAEC' } },
        { key: 'app.big', value: { intValue: '9223372036854775807' } },
        { key: 'app.nothing', value: {} },
        { key: 'app.nan', value: { doubleValue: 'NaN' } },
      ],
      42,
    )
    const rows = mapSpans(PROJECT, spans, prices)
    expect(rows.spans[0]).toMatchObject({
      span_kind: 'UNSPECIFIED',
      service_name: '7',
      agent_id: '7',
      user_id: '',
      conversation_id: '',
      input_tokens: 1200,
      output_tokens: 30,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      run_id: 'b7ad6b7169203332',
    })
    // A negative daa.cost.usd is not a cost: the span is priced from its tokens instead (GPT-5 → gpt-5).
    expect(rows.spans[0]?.cost_usd).toBeCloseTo((1200 * 1.25 + 30 * 10) / 1_000_000, 12)
    expect(rows.spans[0]?.span_attributes).toMatchObject({
      'user.id': '{"id":"u1"}',
      'gen_ai.conversation.id': 'true',
      'gen_ai.usage.cache_creation.input_tokens': '[1]',
      'app.blob': 'AAEC',
      'app.big': '9223372036854775807',
      'app.nothing': '',
      'app.nan': 'NaN',
    })
  })

  it('maps a span whose end precedes its start with duration 0', () => {
    const [span] = decodeJsonSpan([])
    const backwards: DecodedSpan = { ...span!, endTimeUnixNano: span!.startTimeUnixNano - 5n }
    expect(mapSpans(PROJECT, [backwards], prices).spans[0]?.duration_ns).toBe(0)
  })

  it('keeps a sender-chosen __proto__ key as an ordinary entry', () => {
    const spans = decodeJsonSpan([{ key: '__proto__', value: { stringValue: 'polluted?' } }])
    const attributes = mapSpans(PROJECT, spans, prices).spans[0]?.span_attributes ?? {}
    expect(Object.getPrototypeOf(attributes)).toBe(Object.prototype)
    expect(Object.entries(attributes)).toContainEqual(['__proto__', 'polluted?'])
  })
})

describe('large batches', () => {
  it('maps a large batch of agent traces, every child to its run', () => {
    const tracing = createTestTracing()
    for (let runIndex = 0; runIndex < 200; runIndex++) {
      const run = tracing.startSpan('invoke_agent bench', {
        attributes: {
          'gen_ai.operation.name': 'invoke_agent',
          'gen_ai.agent.name': 'bench',
          'daa.outcome': 'delivered',
        },
      })
      for (let step = 0; step < 49; step++) {
        const child = tracing.startSpan(step % 2 === 0 ? 'chat' : 'execute_tool', {
          parent: run,
          attributes:
            step % 2 === 0
              ? {
                  'gen_ai.operation.name': 'chat',
                  'gen_ai.request.model': 'gpt-5',
                  'gen_ai.usage.input_tokens': 1000 + step,
                  'gen_ai.usage.output_tokens': 100,
                }
              : { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' },
        })
        endAt(child, 1)
      }
      endAt(run, 2)
    }
    const spans = decodeThroughOtlp(tracing.finishedSpans())
    expect(spans).toHaveLength(10_000)
    // Speed is measured by `npm run bench:ingest`, never asserted here: this checks the mapping of a large batch.
    const rows = mapSpans(PROJECT, spans, prices)
    expect(rows.spans).toHaveLength(10_000)
    expect(rows.runs).toHaveLength(200)
    expect(rows.outcomes).toHaveLength(200)
    expect(rows.spans.filter((row) => row.run_id === '')).toHaveLength(0)
  })
})
