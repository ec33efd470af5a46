/**
 * OpenLLMetry / Traceloop (`@traceloop/node-server-sdk`), recognised by `traceloop.span.kind`,
 * `llm.request.type` or a person or session among its association properties:
 * - `traceloop.span.kind` agent → invoke_agent named by `traceloop.entity.name`, except an AI SDK
 *   top-level call inside `withAgent` of the same agent (it carries that agent as
 *   `traceloop.workflow.name`): that is no second run; tool →
 *   execute_tool named by it; workflow and task → not an operation daa counts;
 * - its own LLM instrumentations' spans by `llm.request.type` (chat → chat, completion →
 *   text_completion, embedding → embeddings), with `gen_ai.*` attributes the GenAI reader reads;
 * - the person and conversation from the association properties, as set by `withAgent`'s
 *   `associationProperties` (`user_id`, `session_id`) or copied by its AI SDK transform from
 *   `experimental_telemetry.metadata` (`userId`, `sessionId`, `conversationId`).
 * Spans of the Vercel AI SDK that OpenLLMetry renamed keep `ai.operationId`: the AI SDK reader reads
 * those, and this reader only says what `traceloop.span.kind` adds (the top-level call of an agent).
 */
import type { DecodedSpan } from '../../otlp/decoded-span.js'
import { readText } from '../attribute-readers.js'
import {
  type ConventionReader,
  type ConventionReading,
  OPERATION_CHAT,
  OPERATION_EMBEDDINGS,
  OPERATION_EXECUTE_TOOL,
  OPERATION_INVOKE_AGENT,
  OPERATION_TEXT_COMPLETION,
} from './reading.js'
import { TOP_LEVEL_CALLS } from './vercel-ai.js'

const SPAN_KINDS: ReadonlyMap<string, string> = new Map([
  ['agent', OPERATION_INVOKE_AGENT],
  ['tool', OPERATION_EXECUTE_TOOL],
  ['workflow', ''],
  ['task', ''],
])

const REQUEST_TYPES: ReadonlyMap<string, string> = new Map([
  ['chat', OPERATION_CHAT],
  ['completion', OPERATION_TEXT_COMPLETION],
  ['embedding', OPERATION_EMBEDDINGS],
])

const ASSOCIATION = 'traceloop.association.properties.'

export const openLlmetryReader: ConventionReader = {
  name: 'openllmetry',
  read(span: DecodedSpan): ConventionReading | undefined {
    const attributes = span.attributes
    const spanKind = readText(attributes['traceloop.span.kind'])
    const requestType = readText(attributes['llm.request.type'])
    const userId =
      readText(attributes[`${ASSOCIATION}user_id`]) ?? readText(attributes[`${ASSOCIATION}userId`])
    const conversationId =
      readText(attributes[`${ASSOCIATION}session_id`]) ??
      readText(attributes[`${ASSOCIATION}sessionId`]) ??
      readText(attributes[`${ASSOCIATION}conversationId`])
    // An AI SDK call without an agent carries only the association properties.
    if (
      spanKind === undefined &&
      requestType === undefined &&
      userId === undefined &&
      conversationId === undefined
    ) {
      return undefined
    }
    let operation =
      (spanKind === undefined ? undefined : SPAN_KINDS.get(spanKind)) ??
      (requestType === undefined ? undefined : REQUEST_TYPES.get(requestType))
    const entityName = readText(attributes['traceloop.entity.name'])
    if (
      operation === OPERATION_INVOKE_AGENT &&
      span.parentSpanId !== '' &&
      entityName !== undefined &&
      readText(attributes['traceloop.workflow.name']) === entityName &&
      TOP_LEVEL_CALLS.has(readText(attributes['ai.operationId']) ?? '')
    ) {
      // An AI SDK call OpenLLMetry marked as the agent, inside that agent's own `withAgent` span
      // (which set the workflow name): the `withAgent` span is the run. Decided from the span
      // alone, so it holds when the two arrive in different requests.
      operation = ''
    }
    const isAgent = operation === OPERATION_INVOKE_AGENT
    return {
      operation,
      agentName: isAgent ? entityName : undefined,
      agentVersion: isAgent ? readText(attributes['traceloop.entity.version']) : undefined,
      toolName: operation === OPERATION_EXECUTE_TOOL ? entityName : undefined,
      userId,
      conversationId,
    }
  },
}
