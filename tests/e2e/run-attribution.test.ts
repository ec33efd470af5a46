/**
 * Child spans count toward their nearest invoke_agent ancestor even when that ancestor arrives in
 * another request — here the children come first, as a BatchSpanProcessor often sends them — and
 * whatever their age (a backfill from weeks ago). Nobody calls a refresh: the test waits for the
 * collector to attribute them, and for the metrics API to count them.
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

/**
 * run → plan step (not a run) → chat; and run → tool. Plain OpenTelemetry, no daa.run.id stamps.
 * `startTime` sets when the run began (default: now).
 */
function recordNestedRun(startTime = Date.now()): Record<'run' | 'step' | 'chat' | 'tool', ReadableSpan> {
  const exporter = new InMemorySpanExporter()
  const tracer = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer(
    'plain',
  )
  const run = tracer.startSpan('invoke_agent planner', {
    startTime,
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner' },
  })
  const inRun = trace.setSpan(context.active(), run)
  const step = tracer.startSpan('plan step', { startTime: startTime + 1 }, inRun)
  const chat = tracer.startSpan(
    'chat claude',
    {
      startTime: startTime + 2,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.usage.input_tokens': 500,
        'gen_ai.usage.output_tokens': 50,
      },
    },
    trace.setSpan(inRun, step),
  )
  chat.end(startTime + 10)
  step.end(startTime + 11)
  const tool = tracer.startSpan(
    'execute_tool fetch',
    {
      startTime: startTime + 12,
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'fetch' },
    },
    inRun,
  )
  tool.end(startTime + 20)
  run.end(startTime + 30)
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
}

/** Polls `read` until it returns `wanted` (deep equality), as a dashboard polls; fails after a minute. */
async function eventually<T>(read: () => Promise<T>, wanted: T): Promise<void> {
  const deadline = Date.now() + 60_000
  let last = await read()
  while (JSON.stringify(last) !== JSON.stringify(wanted) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    last = await read()
  }
  expect(last).toEqual(wanted)
}

const runIdsIn = (trace: string) => async () =>
  Object.fromEntries(
    (
      await target.collector.store.query<{ span_name: string; run_id: string }>(
        'SELECT span_name, run_id FROM spans FINAL WHERE trace_id = {trace:String} ORDER BY span_name',
        { trace },
      )
    ).map((row) => [row.span_name, row.run_id]),
  )

/** The day's tool calls and LLM calls per run, from the metrics API (run-health). */
const healthOn = (day: string) => async () => {
  const response = await fetch(`${target.collector.url}/api/v1/metrics/run-health?from=${day}&to=${day}`, {
    headers: { authorization: `Bearer ${target.apiKey}` },
  })
  const [row] = ((await response.json()) as { rows: Record<string, number>[] }).rows
  return { runs: row?.runs, tool_calls: row?.tool_calls, llm_calls_per_run: row?.llm_calls_per_run }
}

describe('run attribution across requests', () => {
  for (const [label, ageDays] of [
    ['today', 0],
    ['in a backfill 30 days old', 30],
  ] as const) {
    it(`attributes a grandchild and a child that arrived before their run (${label})`, async () => {
      const started = Date.now() - ageDays * 86_400_000
      const day = new Date(started).toISOString().slice(0, 10)
      const spans = recordNestedRun(started)
      const traceId = spans.run.spanContext().traceId
      await send([spans.chat])
      await send([spans.tool])
      await send([spans.step])
      // Without their run, nothing can be attributed (the three spans are stored, unattributed).
      await eventually(runIdsIn(traceId), { 'chat claude': '', 'execute_tool fetch': '', 'plan step': '' })

      await send([spans.run])
      const runId = spans.run.spanContext().spanId
      await eventually(runIdsIn(traceId), {
        'chat claude': runId,
        'execute_tool fetch': runId,
        'invoke_agent planner': runId,
        'plan step': runId,
      })
      // …and the metrics count them toward the run, without anyone calling a refresh.
      await eventually(healthOn(day), { runs: 1, tool_calls: 1, llm_calls_per_run: 1 })
    })
  }
})

/** A late outcome for `runId`: a daa.outcome span of its own, sent after the run. */
function lateOutcome(runId: string): ReadableSpan {
  const exporter = new InMemorySpanExporter()
  const tracer = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer(
    'plain',
  )
  tracer.startSpan('daa.outcome', { attributes: { 'daa.run.id': runId, 'daa.outcome': 'delivered' } }).end()
  return exporter.getFinishedSpans()[0]!
}

/** The day's delivered runs, from the metrics API (daa). */
const deliveredOn = (day: string) => async () => {
  const response = await fetch(`${target.collector.url}/api/v1/metrics/daa?from=${day}&to=${day}`, {
    headers: { authorization: `Bearer ${target.apiKey}` },
  })
  return ((await response.json()) as { rows: { delivered_runs: number }[] }).rows[0]?.delivered_runs
}

/** The instant the metrics are fresh as of (ms), from the metrics API. */
async function freshAsOf(): Promise<number> {
  const response = await fetch(`${target.collector.url}/api/v1/metrics/daa?from=2026-01-01&to=2026-01-01`, {
    headers: { authorization: `Bearer ${target.apiKey}` },
  })
  return Date.parse(((await response.json()) as { fresh_as_of: string | null }).fresh_as_of ?? '')
}

describe('a run that changes across refreshes', () => {
  it('keeps a late tool call when a late outcome follows, with both versions of its facts on disk', async () => {
    const store = target.collector.store
    // With merges stopped, the run's facts before and after its late tool call both stay on disk,
    // as they do for a while on a busy server: the late outcome must start from the newer.
    await store.command('SYSTEM STOP MERGES run_facts')
    try {
      const started = Date.now() - 12 * 86_400_000
      const day = new Date(started).toISOString().slice(0, 10)
      const spans = recordNestedRun(started)
      await send([spans.run, spans.step, spans.chat])
      await eventually(healthOn(day), { runs: 1, tool_calls: 0, llm_calls_per_run: 1 })
      await send([spans.tool])
      await eventually(healthOn(day), { runs: 1, tool_calls: 1, llm_calls_per_run: 1 })
      // Once the answers are fresher than the moment the tool call showed, the next refresh covers
      // only what comes after it: the outcome alone, the path that starts from the stored facts.
      const toolSeen = Date.now()
      await eventually(async () => (await freshAsOf()) > toolSeen, true)

      await send([lateOutcome(spans.run.spanContext().spanId)])
      await eventually(deliveredOn(day), 1)
      expect(await healthOn(day)()).toEqual({ runs: 1, tool_calls: 1, llm_calls_per_run: 1 })
    } finally {
      await store.command('SYSTEM START MERGES run_facts')
    }
  })
})
