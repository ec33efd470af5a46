import {
  type Attributes,
  context,
  INVALID_SPAN_CONTEXT,
  type Span,
  SpanKind,
  trace,
} from '@opentelemetry/api'
import {
  DAA_COST_USD,
  DAA_RUN_ID,
  GEN_AI_OPERATION_NAME,
  GEN_AI_PROVIDER_NAME,
  GEN_AI_REQUEST_MODEL,
  GEN_AI_RESPONSE_MODEL,
  GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_USAGE_OUTPUT_TOKENS,
  GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  genAiSpanName,
  OPERATION_CHAT,
} from './attributes.js'
import { debugLog } from './diagnostics.js'
import { nonEmptyString } from './run.js'
import { activeRunIn } from './run-context.js'
import { executeInSpan, recordError, type SpanOwner } from './span-lifecycle.js'
import { daaTracer } from './tracer.js'

export interface LlmOptions {
  /** The model asked for, e.g. `gpt-5-mini` (`gen_ai.request.model`). */
  model: string
  /** Who serves it, e.g. `openai`, `anthropic`, `aws.bedrock` (`gen_ai.provider.name`). */
  provider?: string
  /** The GenAI operation; `chat` unless the call is a plain completion or a Gemini-style call. */
  operation?: 'chat' | 'text_completion' | 'generate_content'
  attributes?: Attributes
}

/** Token counts as the provider reported them. Report totals for the call; the last report wins. */
export interface TokenUsage {
  input?: number
  output?: number
  /** Input tokens served from the provider's prompt cache. */
  cacheRead?: number
  /** Input tokens written to the provider's prompt cache. */
  cacheWrite?: number
  /** Output tokens spent on reasoning. */
  reasoning?: number
}

const USAGE_ATTRIBUTES: ReadonlyArray<readonly [keyof TokenUsage, string]> = [
  ['input', GEN_AI_USAGE_INPUT_TOKENS],
  ['output', GEN_AI_USAGE_OUTPUT_TOKENS],
  ['cacheRead', GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS],
  ['cacheWrite', GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS],
  ['reasoning', GEN_AI_USAGE_REASONING_OUTPUT_TOKENS],
]

/** One LLM call, handed to the function given to `llm()`. */
export class LlmCall implements SpanOwner {
  readonly span: Span
  readonly #requestModel: string
  #responseModelSet = false

  constructor(span: Span, requestModel: string) {
    this.span = span
    this.#requestModel = requestModel
  }

  /** Records the tokens the call used. Negative or non-numeric counts are ignored. */
  usage(tokens: TokenUsage): void {
    try {
      for (const [field, attribute] of USAGE_ATTRIBUTES) {
        const count = tokens?.[field]
        if (typeof count === 'number' && Number.isFinite(count) && count >= 0) {
          this.span.setAttribute(attribute, Math.round(count))
        }
      }
    } catch (error) {
      debugLog('could not record token usage', error)
    }
  }

  /** The model that actually answered, when the provider says (e.g. a dated snapshot). */
  responseModel(model: string): void {
    const name = nonEmptyString(model)
    if (!name) return
    this.#responseModelSet = true
    this.span.setAttribute(GEN_AI_RESPONSE_MODEL, name)
  }

  /** What the call cost in US dollars, when known; otherwise the collector prices the tokens. */
  cost(usd: number): void {
    if (typeof usd === 'number' && Number.isFinite(usd) && usd >= 0) this.span.setAttribute(DAA_COST_USD, usd)
  }

  finish(error: unknown, failed: boolean, droppedAt?: number): void {
    try {
      if (failed) recordError(this.span, error)
      if (!this.#responseModelSet) this.span.setAttribute(GEN_AI_RESPONSE_MODEL, this.#requestModel)
      this.span.end(droppedAt)
    } catch (telemetryError) {
      debugLog('could not end an LLM span', telemetryError)
    }
  }
}

/**
 * Runs `work` as one LLM call: a `chat {model}` span (or the operation given) that belongs to the
 * current run. Returns and throws what `work` does; a stream it returns or resolves to (an async
 * iterator or iterable) keeps the span open until it is consumed.
 */
export function llm<T>(options: LlmOptions, work: (call: LlmCall) => T): T {
  let call: LlmCall
  let callContext: ReturnType<typeof context.active>
  try {
    const parent = context.active()
    const model = nonEmptyString(options?.model) ?? 'unknown'
    const operation = nonEmptyString(options?.operation) ?? OPERATION_CHAT
    const attributes: Attributes = {
      [GEN_AI_OPERATION_NAME]: operation,
      [GEN_AI_REQUEST_MODEL]: model,
    }
    const provider = nonEmptyString(options?.provider)
    if (provider) attributes[GEN_AI_PROVIDER_NAME] = provider
    const activeRun = activeRunIn(parent)
    if (activeRun) attributes[DAA_RUN_ID] = activeRun.id
    if (options?.attributes) Object.assign(attributes, options.attributes)
    const span = daaTracer().startSpan(
      genAiSpanName(operation, model),
      { kind: SpanKind.CLIENT, attributes },
      parent,
    )
    call = new LlmCall(span, model)
    callContext = trace.setSpan(parent, span)
  } catch (error) {
    debugLog('could not start an LLM span; calling uninstrumented', error)
    return work(new LlmCall(trace.wrapSpanContext(INVALID_SPAN_CONTEXT), 'unknown'))
  }
  return executeInSpan(call, callContext, work, call)
}
