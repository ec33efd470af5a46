import {
  type Attributes,
  context,
  INVALID_SPAN_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api'
import {
  DAA_RUN_ID,
  ERROR_TYPE,
  GEN_AI_OPERATION_NAME,
  GEN_AI_TOOL_CALL_ID,
  GEN_AI_TOOL_NAME,
  genAiSpanName,
  OPERATION_EXECUTE_TOOL,
} from './attributes.js'
import { debugLog } from './diagnostics.js'
import { nonEmptyString } from './run.js'
import { activeRunIn } from './run-context.js'
import { executeInSpan, recordError, type SpanOwner } from './span-lifecycle.js'
import { daaTracer } from './tracer.js'

export interface ToolOptions {
  /** The tool's name as the model sees it (`gen_ai.tool.name`). */
  name: string
  /** The id the model gave this call, to match it with the request (`gen_ai.tool.call.id`). */
  callId?: string
  attributes?: Attributes
}

/** One tool call, handed to the function given to `tool()`. */
export class ToolCall implements SpanOwner {
  readonly span: Span
  #failure: { type: string } | undefined

  constructor(span: Span) {
    this.span = span
  }

  /**
   * Marks the call failed without throwing, for tools that report errors as results (the model
   * sees the error and may retry). `errorType` should be low-cardinality, e.g. `timeout`.
   */
  fail(errorType: string): void {
    this.#failure = { type: nonEmptyString(errorType) ?? 'tool_error' }
  }

  finish(error: unknown, failed: boolean, droppedAt?: number): void {
    try {
      if (failed) recordError(this.span, error)
      else if (this.#failure) {
        this.span.setStatus({ code: SpanStatusCode.ERROR, message: this.#failure.type })
        this.span.setAttribute(ERROR_TYPE, this.#failure.type)
      }
      this.span.end(droppedAt)
    } catch (telemetryError) {
      debugLog('could not end a tool span', telemetryError)
    }
  }
}

/** Runs `work` as one tool call: an `execute_tool {name}` span that belongs to the current run. */
export function tool<T>(nameOrOptions: string | ToolOptions, work: (call: ToolCall) => T): T {
  let call: ToolCall
  let callContext: ReturnType<typeof context.active>
  try {
    const parent = context.active()
    const options = typeof nameOrOptions === 'string' ? { name: nameOrOptions } : nameOrOptions
    const name = nonEmptyString(options?.name) ?? 'unknown_tool'
    const attributes: Attributes = {
      [GEN_AI_OPERATION_NAME]: OPERATION_EXECUTE_TOOL,
      [GEN_AI_TOOL_NAME]: name,
    }
    const callId = nonEmptyString(options?.callId)
    if (callId) attributes[GEN_AI_TOOL_CALL_ID] = callId
    const activeRun = activeRunIn(parent)
    if (activeRun) attributes[DAA_RUN_ID] = activeRun.id
    if (options?.attributes) Object.assign(attributes, options.attributes)
    const span = daaTracer().startSpan(
      genAiSpanName(OPERATION_EXECUTE_TOOL, name),
      { kind: SpanKind.INTERNAL, attributes },
      parent,
    )
    call = new ToolCall(span)
    callContext = trace.setSpan(parent, span)
  } catch (error) {
    debugLog('could not start a tool span; calling uninstrumented', error)
    return work(new ToolCall(trace.wrapSpanContext(INVALID_SPAN_CONTEXT)))
  }
  return executeInSpan(call, callContext, work, call)
}
