import type {
  Span as AgentsSpan,
  Trace as AgentsTrace,
  GenerationSpanData,
  ResponseSpanData,
  SpanData,
  TracingProcessor,
  TurnSpanData,
} from '@openai/agents'
import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api'
import {
  DAA_RUN_ID,
  ERROR_TYPE,
  GEN_AI_AGENT_NAME,
  GEN_AI_OPERATION_NAME,
  GEN_AI_PROVIDER_NAME,
  GEN_AI_REQUEST_MODEL,
  GEN_AI_RESPONSE_MODEL,
  GEN_AI_TOOL_NAME,
  GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_USAGE_OUTPUT_TOKENS,
  GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  OPERATION_CHAT,
  OPERATION_EXECUTE_TOOL,
  OPERATION_INVOKE_AGENT,
} from '../attributes.js'
import { debugLog } from '../diagnostics.js'
import { activeRunIn, withActiveRun } from '../run-context.js'
import { daaTracer } from '../tracer.js'

export interface DaaAgentsTracingProcessorOptions {
  /** `gen_ai.provider.name` for model calls. Default `openai`. */
  provider?: string
  /**
   * The model to name when the Agents SDK reports a turn's token usage but no model call span (a
   * custom `Model` that does not trace itself). The collector prices tokens by model.
   */
  defaultModel?: string
}

/** Token counts gathered from whichever shape the Agents SDK reported them in. */
interface Tokens {
  input?: number
  output?: number
  cacheRead?: number
  cacheWrite?: number
  reasoning?: number
}

/** A model call span held open until its turn says how many tokens it used. */
interface HeldModelCall {
  span: Span
  endTime: Date
}

/**
 * Turns report the usage of their model calls; the model call spans themselves often do not (the
 * chat-completions model only records usage on failure, the responses model only with sensitive
 * data enabled). The turn is where the two meet.
 */
interface TurnState {
  usageReported: boolean
  heldModelCalls: HeldModelCall[]
  parentContext: Context
  startTime: Date | undefined
}

interface Mapped {
  /** The OpenTelemetry span made for this Agents SDK span; absent for spans daa does not map. */
  span?: Span
  /** The context that children of this span start in. */
  childContext: Context
  turn: TurnState | undefined
}

/**
 * An OpenAI Agents SDK `TracingProcessor` that re-emits its agent, model and tool spans as
 * OpenTelemetry GenAI spans (`invoke_agent`, `chat` with token usage, `execute_tool`) through daa's
 * tracer. An Agents SDK run that happens inside `daa.run()` lands inside that run; one outside any
 * daa run is a run of its own. Register it with `addTraceProcessor(new DaaAgentsTracingProcessor())`
 * (or `setTraceProcessors([...])` to stop sending traces to OpenAI). Never throws.
 */
export class DaaAgentsTracingProcessor implements TracingProcessor {
  readonly #provider: string
  readonly #defaultModel: string | undefined
  readonly #traceContexts = new Map<string, Context>()
  readonly #mapped = new Map<string, Mapped>()

  constructor(options: DaaAgentsTracingProcessorOptions = {}) {
    this.#provider = options.provider || 'openai'
    this.#defaultModel = options.defaultModel || undefined
  }

  async onTraceStart(agentsTrace: AgentsTrace): Promise<void> {
    // The processor is called from inside the code that started the Agents SDK run, so the active
    // context is the daa run (if any) the Agents SDK run belongs to.
    this.#traceContexts.set(agentsTrace.traceId, context.active())
  }

  async onTraceEnd(agentsTrace: AgentsTrace): Promise<void> {
    this.#traceContexts.delete(agentsTrace.traceId)
  }

  async onSpanStart(agentsSpan: AgentsSpan<SpanData>): Promise<void> {
    try {
      this.#start(agentsSpan)
    } catch (error) {
      debugLog('could not map an Agents SDK span', error)
    }
  }

  async onSpanEnd(agentsSpan: AgentsSpan<SpanData>): Promise<void> {
    try {
      this.#end(agentsSpan)
    } catch (error) {
      debugLog('could not end an Agents SDK span', error)
    }
  }

  async shutdown(): Promise<void> {
    this.#mapped.clear()
    this.#traceContexts.clear()
  }

  async forceFlush(): Promise<void> {}

  #start(agentsSpan: AgentsSpan<SpanData>): void {
    const parent = agentsSpan.parentId ? this.#mapped.get(agentsSpan.parentId) : undefined
    const parentContext =
      parent?.childContext ?? this.#traceContexts.get(agentsSpan.traceId) ?? context.active()
    const inheritedTurn = parent?.turn
    const startTime = toDate(agentsSpan.startedAt)
    const data = agentsSpan.spanData
    let mapped: Mapped
    switch (data.type) {
      case 'agent': {
        // Inside a daa run, the Agents SDK's agents (and the agents they hand off to) are how that
        // run does its work: their spans are steps of it, not `invoke_agent` spans, which the
        // collector would count as sub-agent runs of their own (with no user and no outcome).
        // Outside any daa run, this agent's span is the run, like a daa.run() of its own.
        const insideRun = activeRunIn(parentContext) !== undefined
        const span = this.#startSpan(
          insideRun ? `agent ${data.name}` : `${OPERATION_INVOKE_AGENT} ${data.name}`,
          SpanKind.INTERNAL,
          parentContext,
          startTime,
          insideRun
            ? { [GEN_AI_AGENT_NAME]: data.name }
            : { [GEN_AI_OPERATION_NAME]: OPERATION_INVOKE_AGENT, [GEN_AI_AGENT_NAME]: data.name },
        )
        let childContext = trace.setSpan(parentContext, span)
        if (!insideRun) {
          const runId = span.spanContext().spanId
          span.setAttribute(DAA_RUN_ID, runId)
          childContext = withActiveRun(childContext, { id: runId, agent: data.name })
        }
        mapped = { span, childContext, turn: undefined }
        break
      }
      case 'generation':
      case 'response': {
        const span = this.#startSpan(OPERATION_CHAT, SpanKind.CLIENT, parentContext, startTime, {
          [GEN_AI_OPERATION_NAME]: OPERATION_CHAT,
          [GEN_AI_PROVIDER_NAME]: this.#provider,
        })
        mapped = { span, childContext: trace.setSpan(parentContext, span), turn: inheritedTurn }
        break
      }
      case 'function': {
        const span = this.#startSpan(
          `${OPERATION_EXECUTE_TOOL} ${data.name}`,
          SpanKind.INTERNAL,
          parentContext,
          startTime,
          {
            [GEN_AI_OPERATION_NAME]: OPERATION_EXECUTE_TOOL,
            [GEN_AI_TOOL_NAME]: data.name,
          },
        )
        mapped = { span, childContext: trace.setSpan(parentContext, span), turn: inheritedTurn }
        break
      }
      case 'turn':
        mapped = {
          childContext: parentContext,
          turn: { usageReported: false, heldModelCalls: [], parentContext, startTime },
        }
        break
      default:
        // Tasks, handoffs, guardrails and custom spans carry nothing the data contract uses; their
        // children attach to the nearest mapped ancestor.
        mapped = { childContext: parentContext, turn: inheritedTurn }
    }
    this.#mapped.set(agentsSpan.spanId, mapped)
  }

  #end(agentsSpan: AgentsSpan<SpanData>): void {
    const mapped = this.#mapped.get(agentsSpan.spanId)
    if (!mapped) return
    this.#mapped.delete(agentsSpan.spanId)
    const endTime = toDate(agentsSpan.endedAt) ?? new Date()
    const data = agentsSpan.spanData
    if (data.type === 'turn') {
      this.#settleTurn(mapped.turn!, data, endTime)
      return
    }
    const span = mapped.span
    if (!span) return
    if (agentsSpan.error) {
      const detail = agentsSpan.error.data?.error
      span.setStatus({ code: SpanStatusCode.ERROR, message: agentsSpan.error.message })
      span.setAttribute(
        ERROR_TYPE,
        typeof detail === 'string' && /^[A-Za-z_][\w.]{0,63}$/.test(detail) ? detail : '_OTHER',
      )
    }
    if (data.type === 'generation' || data.type === 'response') {
      const model = modelOf(data)
      if (model) {
        span.updateName(`${OPERATION_CHAT} ${model}`)
        span.setAttribute(GEN_AI_REQUEST_MODEL, model)
        span.setAttribute(GEN_AI_RESPONSE_MODEL, responseModelOf(data) ?? model)
      }
      const tokens = tokensOf(data)
      if (tokens) {
        setTokens(span, tokens)
        if (mapped.turn) mapped.turn.usageReported = true
      } else if (mapped.turn) {
        mapped.turn.heldModelCalls.push({ span, endTime })
        return
      }
    }
    span.end(endTime)
  }

  /** Gives the turn's usage to the model call that lacked it, or to a `chat` span standing in for it. */
  #settleTurn(turn: TurnState, data: TurnSpanData, endTime: Date): void {
    const tokens = data.usage
      ? {
          input: data.usage.input_tokens,
          output: data.usage.output_tokens,
          cacheRead: data.usage.cached_input_tokens,
          cacheWrite: data.usage.cache_write_input_tokens,
        }
      : undefined
    const lastHeld = turn.heldModelCalls.at(-1)
    if (tokens && !turn.usageReported) {
      if (lastHeld) setTokens(lastHeld.span, tokens)
      else {
        const model = this.#defaultModel
        const attributes: Attributes = {
          [GEN_AI_OPERATION_NAME]: OPERATION_CHAT,
          [GEN_AI_PROVIDER_NAME]: this.#provider,
        }
        if (model) attributes[GEN_AI_REQUEST_MODEL] = attributes[GEN_AI_RESPONSE_MODEL] = model
        const span = this.#startSpan(
          model ? `${OPERATION_CHAT} ${model}` : OPERATION_CHAT,
          SpanKind.CLIENT,
          turn.parentContext,
          turn.startTime,
          attributes,
        )
        setTokens(span, tokens)
        span.end(endTime)
      }
    }
    for (const held of turn.heldModelCalls) held.span.end(held.endTime)
  }

  #startSpan(
    name: string,
    kind: SpanKind,
    parentContext: Context,
    startTime: Date | undefined,
    attributes: Attributes,
  ): Span {
    return daaTracer().startSpan(
      name,
      { kind, attributes, ...(startTime ? { startTime } : {}) },
      parentContext,
    )
  }
}

function toDate(iso: string | null | undefined): Date | undefined {
  if (!iso) return undefined
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? undefined : date
}

function modelOf(data: GenerationSpanData | ResponseSpanData): string | undefined {
  if (data.type === 'generation') return stringOr(data.model)
  return stringOr(data._response?.model)
}

function responseModelOf(data: GenerationSpanData | ResponseSpanData): string | undefined {
  if (data.type === 'generation') return stringOr(data.output?.[0]?.model)
  return stringOr(data._response?.model)
}

/**
 * Usage as the generation or response span carries it: Responses-API shape (`input_tokens`, with
 * `*_details`) or, inside a traced chat completion, Chat-Completions shape (`prompt_tokens`).
 */
function tokensOf(data: GenerationSpanData | ResponseSpanData): Tokens | undefined {
  const usage: Record<string, unknown> | undefined =
    data.type === 'generation' ? (data.usage ?? data.output?.[0]?.usage) : data._response?.usage
  if (!usage || typeof usage !== 'object') return undefined
  const inputDetails = (usage.input_tokens_details ?? usage.prompt_tokens_details ?? usage.details) as
    | Record<string, unknown>
    | undefined
  const outputDetails = (usage.output_tokens_details ?? usage.completion_tokens_details ?? usage.details) as
    | Record<string, unknown>
    | undefined
  const tokens: Tokens = {
    input: numberOr(usage.input_tokens ?? usage.prompt_tokens),
    output: numberOr(usage.output_tokens ?? usage.completion_tokens),
    cacheRead: numberOr(inputDetails?.cached_tokens),
    reasoning: numberOr(outputDetails?.reasoning_tokens),
  }
  return tokens.input === undefined && tokens.output === undefined ? undefined : tokens
}

const TOKEN_ATTRIBUTES: ReadonlyArray<readonly [keyof Tokens, string]> = [
  ['input', GEN_AI_USAGE_INPUT_TOKENS],
  ['output', GEN_AI_USAGE_OUTPUT_TOKENS],
  ['cacheRead', GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS],
  ['cacheWrite', GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS],
  ['reasoning', GEN_AI_USAGE_REASONING_OUTPUT_TOKENS],
]

function setTokens(span: Span, tokens: Tokens): void {
  for (const [field, attribute] of TOKEN_ATTRIBUTES) {
    const count = numberOr(tokens[field])
    if (count !== undefined) span.setAttribute(attribute, count)
  }
}

function numberOr(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}
