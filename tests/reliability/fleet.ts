/**
 * A realistic fleet for the reliability suite: agents whose runs (an invoke_agent span, two chat
 * calls and a tool call, children ended before their parent as the OpenTelemetry SDK sends them)
 * are made with the official SDK and encoded as OTLP/protobuf requests. Every request knows what it
 * holds, so a test can state the exact metrics that the acknowledged requests must produce.
 */
import { context, trace } from '@opentelemetry/api'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace'

/** Spans in one run: invoke_agent, two chat calls, one tool call. */
export const SPANS_PER_RUN = 4

export interface FleetRequest {
  body: Uint8Array
  /** Runs per agent in this request. */
  runs: Map<string, number>
  /** Delivered runs per agent in this request. */
  delivered: Map<string, number>
  spans: number
}

export interface FleetOptions {
  /** Agents in the fleet. Default 20. */
  agents?: number
  /** Runs per request. Default 5. */
  runsPerRequest?: number
  /** Prefix of agent ids, so fleets of one test do not meet. Default 'agent'. */
  prefix?: string
}

export function makeFleetRequests(count: number, options: FleetOptions = {}): FleetRequest[] {
  const agents = options.agents ?? 20
  const runsPerRequest = options.runsPerRequest ?? 5
  const prefix = options.prefix ?? 'agent'
  const exporter = new InMemorySpanExporter()
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'reliability-fleet', 'host.name': 'fleet-host-1' }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  })
  const tracer = provider.getTracer('reliability')
  const requests: FleetRequest[] = []
  let runNumber = 0
  for (let index = 0; index < count; index++) {
    const runs = new Map<string, number>()
    const delivered = new Map<string, number>()
    for (let r = 0; r < runsPerRequest; r++, runNumber++) {
      const agent = `${prefix}-${String(runNumber % agents).padStart(3, '0')}`
      const outcome = runNumber % 3 === 2 ? 'failed' : 'delivered'
      const run = tracer.startSpan(`invoke_agent ${agent}`, {
        attributes: {
          'gen_ai.operation.name': 'invoke_agent',
          'gen_ai.agent.name': agent,
          'user.id': `user-${runNumber % 97}`,
          'gen_ai.conversation.id': `conv-${runNumber}`,
        },
      })
      const inRun = trace.setSpan(context.active(), run)
      for (const input of [900, 400]) {
        tracer
          .startSpan(
            'chat gpt-5',
            {
              attributes: {
                'gen_ai.operation.name': 'chat',
                'gen_ai.request.model': 'gpt-5',
                'gen_ai.provider.name': 'openai',
                'gen_ai.usage.input_tokens': input,
                'gen_ai.usage.output_tokens': input / 4,
              },
            },
            inRun,
          )
          .end()
      }
      tracer
        .startSpan(
          'execute_tool search_kb',
          { attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search_kb' } },
          inRun,
        )
        .end()
      run.setAttribute('daa.outcome', outcome)
      run.end()
      runs.set(agent, (runs.get(agent) ?? 0) + 1)
      if (outcome === 'delivered') delivered.set(agent, (delivered.get(agent) ?? 0) + 1)
    }
    const spans = exporter.getFinishedSpans()
    exporter.reset()
    requests.push({
      body: ProtobufTraceSerializer.serializeRequest(spans)!,
      runs,
      delivered,
      spans: spans.length,
    })
  }
  return requests
}

/** Adds up what a set of requests holds: runs and delivered runs per agent, and spans. */
export function expectedTotals(requests: Iterable<FleetRequest>) {
  const runs = new Map<string, number>()
  const delivered = new Map<string, number>()
  let spans = 0
  for (const request of requests) {
    for (const [agent, n] of request.runs) runs.set(agent, (runs.get(agent) ?? 0) + n)
    for (const [agent, n] of request.delivered) delivered.set(agent, (delivered.get(agent) ?? 0) + n)
    spans += request.spans
  }
  return { runs, delivered, spans }
}
