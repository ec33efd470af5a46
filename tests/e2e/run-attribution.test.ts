/**
 * Child spans count toward their nearest invoke_agent ancestor even when that ancestor arrives in
 * another request — here the children come first, as a BatchSpanProcessor often sends them.
 */
import { context, trace } from '@opentelemetry/api'
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, postSpans, startTestCollector } from '../support/collector-harness.js'

let clickhouse: RunningClickHouse
let target: CollectorUnderTest
beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  target = await startTestCollector(clickhouse.url)
})
afterAll(async () => {
  await target?.close()
  await clickhouse?.stop()
})

/** run → plan step (not a run) → chat; and run → tool. Plain OpenTelemetry, no daa.run.id stamps. */
function recordNestedRun(): Record<'run' | 'step' | 'chat' | 'tool', ReadableSpan> {
  const exporter = new InMemorySpanExporter()
  const tracer = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer(
    'plain',
  )
  const run = tracer.startSpan('invoke_agent planner', {
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner' },
  })
  const inRun = trace.setSpan(context.active(), run)
  const step = tracer.startSpan('plan step', {}, inRun)
  const chat = tracer.startSpan(
    'chat claude',
    {
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.usage.input_tokens': 500,
        'gen_ai.usage.output_tokens': 50,
      },
    },
    trace.setSpan(inRun, step),
  )
  chat.end()
  step.end()
  const tool = tracer.startSpan(
    'execute_tool fetch',
    { attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'fetch' } },
    inRun,
  )
  tool.end()
  run.end()
  const byName = (name: string) => exporter.getFinishedSpans().find((span) => span.name === name)!
  return {
    run: byName('invoke_agent planner'),
    step: byName('plan step'),
    chat: byName('chat claude'),
    tool: byName('execute_tool fetch'),
  }
}

async function send(spans: ReadableSpan[]): Promise<void> {
  expect((await postSpans(target, spans)).status).toBe(200)
  await target.collector.settle()
}

describe('run attribution across requests', () => {
  it('attributes a grandchild and a child that arrived before their run', async () => {
    const spans = recordNestedRun()
    await send([spans.chat])
    await send([spans.tool])
    await send([spans.step])
    const runIdOf = async () =>
      Object.fromEntries(
        (
          await target.collector.store.query<{ span_name: string; run_id: string }>(
            'SELECT span_name, run_id FROM spans FINAL WHERE trace_id = {trace:String}',
            { trace: spans.run.spanContext().traceId },
          )
        ).map((row) => [row.span_name, row.run_id]),
      )
    // Without their run, nothing can be attributed yet.
    expect(await runIdOf()).toEqual({ 'chat claude': '', 'execute_tool fetch': '', 'plan step': '' })

    await send([spans.run])
    const runId = spans.run.spanContext().spanId
    expect(await runIdOf()).toEqual({
      'invoke_agent planner': runId,
      'plan step': runId,
      'chat claude': runId,
      'execute_tool fetch': runId,
    })
    const [usage] = await target.collector.store.query<{ input: number; tools: number }>(
      "SELECT sum(input_tokens) AS input, countIf(operation = 'execute_tool') AS tools FROM spans FINAL WHERE run_id = {runId:String} AND operation != 'invoke_agent'",
      { runId },
    )
    expect(usage).toEqual({ input: 500, tools: 1 })
  })
})
