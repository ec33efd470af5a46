/**
 * Real OpenTelemetry spans of one agent run, made with the official JS SDK and GenAI attributes:
 * an invoke_agent run with two chat calls and a tool call, and an inline outcome.
 */
import { context, SpanStatusCode, trace } from '@opentelemetry/api'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace'

export interface AgentRunShape {
  agent?: string
  user?: string
  outcome?: 'delivered' | 'partial' | 'failed' | 'abandoned'
  value?: number
  /** The outcome's unit when a value is given; default USD. */
  unit?: string
  /** `daa.outcome.reason`. */
  reason?: string
  failTool?: boolean
}

export function recordAgentRun(shape: AgentRunShape = {}): ReadableSpan[] {
  const exporter = new InMemorySpanExporter()
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'support-service' }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  })
  const tracer = provider.getTracer('e2e')
  const agent = shape.agent ?? 'support-bot'
  const run = tracer.startSpan(`invoke_agent ${agent}`, {
    attributes: {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': agent,
      'gen_ai.agent.version': '1.4.0',
      'user.id': shape.user ?? 'u-42',
      'gen_ai.conversation.id': 'conv-7',
    },
  })
  const inRun = trace.setSpan(context.active(), run)
  for (const [input, output] of [
    [1200, 300],
    [800, 150],
  ] as const) {
    const chat = tracer.startSpan(
      'chat gpt-5',
      {
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'gpt-5',
          'gen_ai.response.model': 'gpt-5-2026-08-01',
          'gen_ai.provider.name': 'openai',
          'gen_ai.usage.input_tokens': input,
          'gen_ai.usage.output_tokens': output,
        },
      },
      inRun,
    )
    chat.end()
  }
  const tool = tracer.startSpan(
    'execute_tool search_kb',
    {
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'search_kb',
        'gen_ai.tool.call.id': 'call-1',
      },
    },
    inRun,
  )
  if (shape.failTool) {
    tool.setAttribute('error.type', 'TimeoutError')
    tool.setStatus({ code: SpanStatusCode.ERROR, message: 'kb timed out' })
  }
  tool.end()
  if (shape.outcome) {
    run.setAttribute('daa.outcome', shape.outcome)
    if (shape.value !== undefined) {
      run.setAttribute('daa.outcome.value', shape.value)
      run.setAttribute('daa.outcome.unit', shape.unit ?? 'USD')
    }
    if (shape.reason !== undefined) run.setAttribute('daa.outcome.reason', shape.reason)
  }
  run.end()
  return exporter.getFinishedSpans()
}
