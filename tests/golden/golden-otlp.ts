/**
 * The golden dataset as OpenTelemetry spans, in the order a real fleet sends them: per group of
 * runs, one OTLP request with the child spans (LLM and tool calls), then one with the run spans
 * (batch exporters export children first, since children end first); then, later, the late
 * outcomes (`daa.outcome` spans naming their run), and the run spans that arrive late. Every
 * fourth request is sent twice, as a client retrying a timed-out export would.
 *
 * Child spans carry only their parent link (no `daa.run.id`), as from a plain OpenTelemetry SDK, so
 * every child is attributed to its run by the collector, after the run arrives.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import type { ReadableSpan } from '@opentelemetry/sdk-trace'
import type { GoldenCall, GoldenDataset, GoldenRun } from './golden-dataset.js'

const resource = resourceFromAttributes({ 'service.name': 'golden' })
const scope = { name: 'golden-fleet', version: '1.0.0' }

function hrTime(ns: bigint): [number, number] {
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)]
}

function span(fields: {
  run: GoldenRun
  spanId: string
  parentSpanId: string
  name: string
  startNs: bigint
  durationNs: number
  attributes: Record<string, string | number>
  error?: boolean
}): ReadableSpan {
  const { run } = fields
  const context = (spanId: string) => ({ traceId: run.traceId, spanId, traceFlags: 1 })
  return {
    name: fields.name,
    kind: SpanKind.INTERNAL,
    spanContext: () => context(fields.spanId),
    parentSpanContext: fields.parentSpanId ? context(fields.parentSpanId) : undefined,
    startTime: hrTime(fields.startNs),
    endTime: hrTime(fields.startNs + BigInt(fields.durationNs)),
    duration: hrTime(BigInt(fields.durationNs)),
    status: { code: fields.error ? SpanStatusCode.ERROR : SpanStatusCode.OK },
    attributes: fields.attributes,
    links: [],
    events: [],
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  } as ReadableSpan
}

export function runSpan(run: GoldenRun): ReadableSpan {
  const onSpan = run.outcomes.find((outcome) => !outcome.late)
  return span({
    run,
    spanId: run.runId,
    parentSpanId: run.parentRunId,
    // A run without an agent id (an agent that does not name itself) carries no agent attributes.
    name: run.agentId ? `invoke_agent ${run.agentId}` : 'invoke_agent',
    startNs: run.startNs,
    durationNs: run.durationNs,
    error: run.statusError,
    attributes: {
      'gen_ai.operation.name': 'invoke_agent',
      ...(run.agentId ? { 'gen_ai.agent.id': run.agentId, 'gen_ai.agent.name': run.agentId } : {}),
      ...(run.userId ? { 'user.id': run.userId } : {}),
      ...(run.statusError ? { 'error.type': 'AgentError' } : {}),
      ...(run.ownCostUsd ? { 'daa.cost.usd': run.ownCostUsd } : {}),
      ...(onSpan
        ? {
            'daa.outcome': onSpan.status,
            'daa.outcome.value': onSpan.value,
            'daa.outcome.unit': onSpan.unit,
            'daa.outcome.reason': onSpan.reason,
          }
        : {}),
    },
  })
}

export function callSpan(run: GoldenRun, call: GoldenCall): ReadableSpan {
  const attributes: Record<string, string | number> = {}
  if (call.kind === 'llm') {
    Object.assign(attributes, {
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-5',
      'gen_ai.provider.name': 'openai',
      'gen_ai.usage.input_tokens': call.inputTokens,
      'gen_ai.usage.output_tokens': call.outputTokens,
      'gen_ai.usage.cache_read.input_tokens': call.cacheReadTokens,
      'gen_ai.usage.reasoning.output_tokens': call.reasoningTokens,
    })
  } else if (call.kind === 'tool') {
    Object.assign(attributes, { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' })
  }
  if (call.costUsd) attributes['daa.cost.usd'] = call.costUsd
  // Failed tool calls: half with status ERROR, half only with an error type (as the rows were).
  const statusError = call.failed && call.spanId < '8'
  if (call.failed && !statusError) attributes['error.type'] = 'ToolTimeout'
  return span({
    run,
    spanId: call.spanId,
    parentSpanId: run.runId,
    name: call.kind === 'llm' ? 'chat gpt-5' : call.kind === 'tool' ? 'execute_tool search' : 'GET /api',
    startNs: call.startNs,
    durationNs: call.durationNs,
    error: statusError,
    attributes,
  })
}

export function lateOutcomeSpans(run: GoldenRun): ReadableSpan[] {
  return run.outcomes
    .filter((outcome) => outcome.late)
    .map((outcome) =>
      span({
        run,
        spanId: outcome.sourceSpanId,
        parentSpanId: '',
        name: 'daa.outcome',
        startNs: outcome.recordedAt - 1_000_000n,
        durationNs: 1_000_000,
        attributes: {
          'daa.run.id': run.runId,
          'daa.outcome': outcome.status,
          'daa.outcome.value': outcome.value,
          'daa.outcome.unit': outcome.unit,
          'daa.outcome.reason': outcome.reason,
        },
      }),
    )
}

export interface OtlpRequest {
  project: string
  spans: ReadableSpan[]
  /** Sent twice in a row (a retried export). */
  retried: boolean
}

/** The requests, in sending order. */
export function goldenRequests(dataset: GoldenDataset, runsPerRequest = 120): OtlpRequest[] {
  const requests: Omit<OtlpRequest, 'retried'>[] = []
  const later: Omit<OtlpRequest, 'retried'>[] = []
  for (const project of new Set(dataset.runs.map((run) => run.project))) {
    const runs = dataset.runs.filter((run) => run.project === project)
    for (let first = 0; first < runs.length; first += runsPerRequest) {
      const group = runs.slice(first, first + runsPerRequest)
      requests.push({ project, spans: group.flatMap((run) => run.calls.map((call) => callSpan(run, call))) })
      requests.push({ project, spans: group.filter((run) => !run.runArrivesLate).map(runSpan) })
      later.push({
        project,
        spans: [
          ...group.filter((run) => run.runArrivesLate).map(runSpan),
          ...group.flatMap(lateOutcomeSpans),
        ],
      })
    }
  }
  return [...requests, ...later]
    .filter((request) => request.spans.length > 0)
    .map((request, index) => ({ ...request, retried: index % 4 === 3 }))
}

/**
 * Sends the golden fleet as a real sender would: each request as OTLP/protobuf, the retried ones
 * twice, to the collectors in turn, with each project's API key; returns when the last is
 * acknowledged, and throws on any answer but 200.
 */
export async function sendGoldenFleet(
  dataset: GoldenDataset,
  collectors: readonly string[],
  keys: ReadonlyMap<string, string>,
): Promise<void> {
  let turn = 0
  for (const request of goldenRequests(dataset)) {
    for (let attempt = 0; attempt < (request.retried ? 2 : 1); attempt++) {
      const collector = collectors[turn++ % collectors.length]!
      const response = await fetch(`${collector}/v1/traces`, {
        method: 'POST',
        body: ProtobufTraceSerializer.serializeRequest(request.spans)!,
        headers: {
          'content-type': 'application/x-protobuf',
          authorization: `Bearer ${keys.get(request.project)}`,
        },
      })
      if (response.status !== 200)
        throw new Error(`${collector} answered ${response.status}: ${await response.text()}`)
    }
  }
}
