/**
 * Mastra (`@mastra/observability` with `@mastra/otel-exporter`), recognised by `mastra.span.type`.
 *
 * Mastra 1.x writes `gen_ai.operation.name` itself, but also non-standard values there
 * (`model_generation`, `agent_step`, `model_chunk`; the earlier AI-tracing exporter: `agent`,
 * `tool_call`, `tool_selection`), so the span type decides:
 * - `agent_run` → invoke_agent;
 * - `model_inference` (one call to the model) and `llm_generation` (the earlier exporter's only LLM
 *   span) → chat;
 * - `model_generation` → not an LLM call: in Mastra 1.x it wraps one `model_step` and one
 *   `model_inference` per step, which are the calls; counting it too would add a call per run;
 * - `model_step`, `model_chunk` → not calls;
 * - `tool_call`, `mcp_tool_call`, `provider_tool_call` → execute_tool; `rag_embedding` → embeddings.
 * Unknown span types say nothing, so the GenAI reading applies. The person is
 * `mastra.metadata.userId` (`tracingOptions.metadata.userId`), the agent `mastra.agent.id` when the
 * GenAI `gen_ai.agent.id` is absent.
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
} from './reading.js'

const MASTRA_SPAN_TYPES: ReadonlyMap<string, string> = new Map([
  ['agent_run', OPERATION_INVOKE_AGENT],
  ['model_inference', OPERATION_CHAT],
  ['llm_generation', OPERATION_CHAT],
  ['model_generation', ''],
  ['model_step', ''],
  ['model_chunk', ''],
  ['tool_call', OPERATION_EXECUTE_TOOL],
  ['mcp_tool_call', OPERATION_EXECUTE_TOOL],
  ['provider_tool_call', OPERATION_EXECUTE_TOOL],
  ['rag_embedding', OPERATION_EMBEDDINGS],
])

export const mastraReader: ConventionReader = {
  name: 'mastra',
  read(span: DecodedSpan): ConventionReading | undefined {
    const attributes = span.attributes
    const spanType = readText(attributes['mastra.span.type'])
    if (spanType === undefined) return undefined
    return {
      operation: MASTRA_SPAN_TYPES.get(spanType),
      agentId: readText(attributes['mastra.agent.id']),
      userId:
        readText(attributes['mastra.metadata.userId']) ?? readText(attributes['mastra.metadata.user_id']),
      conversationId: readText(attributes['mastra.metadata.threadId']),
    }
  },
}
