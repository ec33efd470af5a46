import {
  type Attributes,
  context,
  INVALID_SPAN_CONTEXT,
  type Span,
  SpanKind,
  trace,
} from '@opentelemetry/api'
import {
  DAA_RUN_ID,
  GEN_AI_AGENT_ID,
  GEN_AI_AGENT_NAME,
  GEN_AI_AGENT_VERSION,
  GEN_AI_CONVERSATION_ID,
  GEN_AI_OPERATION_NAME,
  genAiSpanName,
  MAX_SPAN_ATTRIBUTES,
  OPERATION_INVOKE_AGENT,
  USER_ID,
} from './attributes.js'
import { debugLog, errorTypeOf } from './diagnostics.js'
import {
  formatRunRef,
  type Outcome,
  type OutcomeValue,
  outcomeAttributes,
  type RunRef,
  outcome as recordLateOutcome,
} from './outcome.js'
import { type ActiveRun, activeRunIn, withActiveRun } from './run-context.js'
import { executeInSpan, recordError, type SpanOwner } from './span-lifecycle.js'
import { daaTracer } from './tracer.js'

export interface RunOptions {
  /** The agent's name, e.g. `support-bot`. Becomes `gen_ai.agent.name` and the span name. */
  agent: string
  /** A stable id for the agent when its name is not unique (`gen_ai.agent.id`). */
  agentId?: string
  /** The agent's version (`gen_ai.agent.version`), to compare releases. */
  version?: string
  /** The person this run works for (`user.id`). */
  user?: string
  /** The conversation or thread the run belongs to (`gen_ai.conversation.id`). */
  conversation?: string
  /** Extra span attributes, e.g. a tenant's plan. */
  attributes?: Attributes
}

/** The outcome reason of a run whose stream was garbage-collected before its end. */
const STREAM_DROPPED = 'stream_dropped'

/**
 * One agent run, handed to the function given to `run()`. Record what it achieved with `deliver`,
 * `partial`, `fail` or `abandon`; the last call wins. Called after the run has ended, these record
 * a late outcome instead, so a handle can be kept until a person accepts the result.
 */
export class Run implements ActiveRun, SpanOwner {
  /** The run span's id (hex), the `daa.run.id` every span of the run carries. */
  readonly id: string
  /** The run's OpenTelemetry span, for attributes this API does not cover. */
  readonly span: Span
  /** The run's agent id: `agentId` when given, else `agent` ('' for a run that is not recorded). */
  readonly agent: string
  #outcome: Outcome | undefined
  #ended = false

  constructor(span: Span, agent = '') {
    this.span = span
    this.id = span.spanContext().spanId
    this.agent = agent
  }

  /** A string another process can pass to `outcome()` to record this run's result later. */
  get ref(): RunRef {
    const spanContext = this.span.spanContext()
    return formatRunRef(spanContext.traceId, spanContext.spanId)
  }

  /** The run produced what it was for. `value` and `unit` say what that was worth. */
  deliver(worth?: OutcomeValue): void {
    this.record({ status: 'delivered', value: worth?.value, unit: worth?.unit })
  }

  /** The run produced part of what it was for. */
  partial(worth?: OutcomeValue & { reason?: string }): void {
    this.record({ status: 'partial', value: worth?.value, unit: worth?.unit, reason: worth?.reason })
  }

  /** The run did not produce what it was for. */
  fail(reason?: string): void {
    this.record({ status: 'failed', reason })
  }

  /** The person gave up on the run (left, cancelled, stopped answering). */
  abandon(reason?: string): void {
    this.record({ status: 'abandoned', reason })
  }

  /** Records any outcome; the named methods above are shorthands for this. */
  record(result: Outcome): void {
    if (this.#ended) {
      recordLateOutcome(this.ref, result)
      return
    }
    this.#outcome = result
  }

  finish(error: unknown, failed: boolean, droppedAt?: number): void {
    if (this.#ended) return
    this.#ended = true
    try {
      if (failed) {
        recordError(this.span, error)
        // An exception means the run failed, unless the agent already said what it achieved.
        this.#outcome ??= { status: 'failed', reason: errorTypeOf(error) }
      }
      // Its stream was dropped before its end: whoever it was for never got all of it.
      if (droppedAt !== undefined) this.#outcome ??= { status: 'abandoned', reason: STREAM_DROPPED }
      if (this.#outcome) {
        const attributes = outcomeAttributes(this.#outcome)
        if (attributes) this.span.setAttributes(attributes)
      }
      this.span.end(droppedAt)
    } catch (telemetryError) {
      debugLog('could not end a run span', telemetryError)
    }
  }
}

/**
 * Runs `work` as one agent run: an `invoke_agent {agent}` span that every LLM call, tool call and
 * sub-agent run inside it (including other libraries' spans) belongs to. Returns what `work`
 * returns (sync value, promise or stream) and rethrows what it throws, unchanged; an
 * exception marks the run failed.
 */
export function run<T>(options: RunOptions, work: (run: Run) => T): T {
  let handle: Run
  let runContext: ReturnType<typeof context.active>
  try {
    const parent = context.active()
    const agent = nonEmptyString(options?.agent) ?? 'unknown_agent'
    const attributes: Attributes = {
      [GEN_AI_OPERATION_NAME]: OPERATION_INVOKE_AGENT,
      [GEN_AI_AGENT_NAME]: agent,
    }
    const agentId = nonEmptyString(options?.agentId)
    if (agentId) attributes[GEN_AI_AGENT_ID] = agentId
    const version = nonEmptyString(options?.version)
    if (version) attributes[GEN_AI_AGENT_VERSION] = version
    const user = nonEmptyString(options?.user)
    if (user) attributes[USER_ID] = user
    const conversation = nonEmptyString(options?.conversation)
    if (conversation) attributes[GEN_AI_CONVERSATION_ID] = conversation
    if (options?.attributes) addOwnAttributes(attributes, options.attributes)
    const span = daaTracer().startSpan(
      genAiSpanName(OPERATION_INVOKE_AGENT, agent),
      { kind: SpanKind.INTERNAL, attributes },
      parent,
    )
    handle = new Run(span, agentId ?? agent)
    // A run span belongs to itself: a nested sub-agent run is a run of its own.
    span.setAttribute(DAA_RUN_ID, handle.id)
    runContext = withActiveRun(trace.setSpan(parent, span), handle)
  } catch (error) {
    debugLog('could not start a run span; running the agent uninstrumented', error)
    const detached = new Run(trace.wrapSpanContext(INVALID_SPAN_CONTEXT))
    return work(detached)
  }
  return executeInSpan(handle, runContext, work, handle)
}

/** Room kept for what the SDK writes on a run span after the caller's attributes (the outcome). */
const RESERVED_ATTRIBUTES = 16

/**
 * Adds the caller's extra attributes to a run span's, as many as leave room for the outcome: past
 * the span's attribute limit OpenTelemetry drops new attributes silently, and the outcome is set
 * last. Those left out are said with `debug: true`.
 */
function addOwnAttributes(attributes: Attributes, extra: Attributes): void {
  const room = MAX_SPAN_ATTRIBUTES - RESERVED_ATTRIBUTES - Object.keys(attributes).length
  const entries = Object.entries(extra)
  for (const [key, value] of entries.slice(0, room)) attributes[key] = value
  if (entries.length > room) {
    debugLog(
      `a run's attributes beyond ${room} were left out (${entries.length - room}), to keep room for its outcome`,
    )
  }
}

/** The run the calling code is part of, so deep code can record an outcome without a handle. */
export function currentRun(): Run | undefined {
  const active = activeRunIn(context.active())
  return active instanceof Run ? active : undefined
}

export function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}
