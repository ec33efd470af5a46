/**
 * Realistic agent traces for load tests, made with the official OpenTelemetry SDK and encoded
 * as OTLP protobuf requests: each run is an invoke_agent span with planning steps, 3 LLM calls
 * and 5 tool calls (one sometimes failing), an outcome, and the attributes a real agent sends.
 */
import { context, SpanStatusCode, trace } from '@opentelemetry/api'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace'

const OUTCOMES = ['delivered', 'delivered', 'delivered', 'partial', 'failed', 'abandoned'] as const
const TOOLS = ['search_kb', 'read_ticket', 'update_crm', 'send_email', 'run_sql']

/** Encodes `requests` OTLP requests of about `spansPerRequest` spans (runs of 10 spans each). */
export function makeTraceRequests(requests: number, spansPerRequest = 100, seed = 1): Uint8Array[] {
  let state = seed
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648
    return state / 2_147_483_648
  }
  const exporter = new InMemorySpanExporter()
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'support-agents',
      'service.version': '3.2.1',
      'deployment.environment.name': 'production',
      'host.name': 'agent-host-7',
    }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  })
  const tracer = provider.getTracer('@daa/sdk', '0.1.0')
  const runsPerRequest = Math.max(1, Math.round(spansPerRequest / 10))
  const bodies: Uint8Array[] = []
  for (let request = 0; request < requests; request++) {
    for (let runIndex = 0; runIndex < runsPerRequest; runIndex++) {
      const agent = `agent-${Math.floor(random() * 2000)}`
      const run = tracer.startSpan(`invoke_agent ${agent}`, {
        attributes: {
          'gen_ai.operation.name': 'invoke_agent',
          'gen_ai.agent.name': agent,
          'gen_ai.agent.version': '1.8.0',
          'user.id': `user-${Math.floor(random() * 50_000)}`,
          'gen_ai.conversation.id': `conv-${request}-${runIndex}`,
        },
      })
      const inRun = trace.setSpan(context.active(), run)
      const runId = run.spanContext().spanId
      const step = tracer.startSpan('plan', { attributes: { 'daa.run.id': runId } }, inRun)
      step.end()
      for (let call = 0; call < 3; call++) {
        const input = 500 + Math.floor(random() * 3000)
        const chat = tracer.startSpan(
          'chat gpt-5',
          {
            attributes: {
              'gen_ai.operation.name': 'chat',
              'gen_ai.request.model': 'gpt-5',
              'gen_ai.response.model': 'gpt-5-2026-08-01',
              'gen_ai.provider.name': 'openai',
              'gen_ai.usage.input_tokens': input,
              'gen_ai.usage.output_tokens': Math.floor(input / 5),
              'gen_ai.usage.cache_read.input_tokens': Math.floor(input / 2),
              'gen_ai.response.finish_reasons': ['stop'],
              'daa.run.id': runId,
            },
          },
          inRun,
        )
        chat.end()
      }
      for (const tool of TOOLS) {
        const span = tracer.startSpan(
          `execute_tool ${tool}`,
          {
            attributes: {
              'gen_ai.operation.name': 'execute_tool',
              'gen_ai.tool.name': tool,
              'gen_ai.tool.call.id': `call-${request}-${runIndex}-${tool}`,
              'daa.run.id': runId,
            },
          },
          inRun,
        )
        if (random() < 0.05) {
          span.setAttribute('error.type', 'TimeoutError')
          span.setStatus({ code: SpanStatusCode.ERROR, message: 'tool timed out' })
        }
        span.end()
      }
      const outcome = OUTCOMES[Math.floor(random() * OUTCOMES.length)]!
      run.setAttributes({
        'daa.outcome': outcome,
        'daa.outcome.value': outcome === 'delivered' ? 12.5 : 0,
        'daa.outcome.unit': 'USD',
      })
      run.end()
    }
    bodies.push(ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!)
    exporter.reset()
  }
  return bodies
}
