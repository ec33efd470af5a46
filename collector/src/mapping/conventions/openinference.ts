/**
 * OpenInference (Arize: `@arizeai/openinference-instrumentation-*`, e.g. LangChain.js and LangGraph),
 * recognised by `openinference.span.kind`:
 * - AGENT → invoke_agent, the agent named by the span (or `metadata.lc_agent_name`);
 * - CHAIN → a run only where it is the agent itself: the chain LangChain's `createAgent` names after
 *   the agent (`metadata.lc_agent_name` equal to the span name), a LangGraph graph such as
 *   `createReactAgent` (`metadata.ls_integration` langgraph, without the `langgraph_node` its nodes
 *   carry) — both also under another span, such as a web request's — or a chain that starts its
 *   trace (any LCEL chain invoked on its own). Every other chain (graph nodes such as `agent`, `tools`,
 *   `model_request`, runnable sequences inside them) is a step, no operation;
 * - LLM → chat (model `llm.model_name`, provider `llm.provider` or `llm.system`, tokens
 *   `llm.token_count.prompt` / `completion` and their `prompt_details.cache_read`,
 *   `prompt_details.cache_write`, `completion_details.reasoning`);
 * - TOOL → execute_tool (`tool.name`, else the span name; `tool_call.id`);
 * - EMBEDDING → embeddings; RETRIEVER → retrieval; RERANKER, GUARDRAIL, EVALUATOR → none.
 * Conversation `session.id`; person `user.id` (the GenAI reader reads it), else `user_id` / `userId`
 * in the `metadata` JSON (what LangChain's `invoke(…, { metadata })` puts there).
 */
import { USER_ID } from '@daa/sdk/attributes'
import type { DecodedSpan } from '../../otlp/decoded-span.js'
import { readText } from '../attribute-readers.js'
import {
  type ConventionReader,
  type ConventionReading,
  OPERATION_CHAT,
  OPERATION_EMBEDDINGS,
  OPERATION_EXECUTE_TOOL,
  OPERATION_INVOKE_AGENT,
  OPERATION_RETRIEVAL,
  readTokenCounts,
  type TokenAttributes,
} from './reading.js'

const OPENINFERENCE_TOKENS: TokenAttributes = {
  inputTokens: ['llm.token_count.prompt'],
  outputTokens: ['llm.token_count.completion'],
  cacheReadTokens: ['llm.token_count.prompt_details.cache_read'],
  cacheWriteTokens: ['llm.token_count.prompt_details.cache_write'],
  reasoningTokens: ['llm.token_count.completion_details.reasoning'],
}

const SPAN_KINDS: ReadonlyMap<string, string> = new Map([
  ['AGENT', OPERATION_INVOKE_AGENT],
  ['LLM', OPERATION_CHAT],
  ['TOOL', OPERATION_EXECUTE_TOOL],
  ['EMBEDDING', OPERATION_EMBEDDINGS],
  ['RETRIEVER', OPERATION_RETRIEVAL],
  ['RERANKER', ''],
  ['GUARDRAIL', ''],
  ['EVALUATOR', ''],
])

type Metadata = Record<string, unknown>

/** The `metadata` attribute (a JSON object as text); undefined when absent or unreadable. */
function metadataOf(span: DecodedSpan): Metadata | undefined {
  const text = span.attributes.metadata
  if (typeof text !== 'string' || text.charCodeAt(0) !== 123) return undefined // '{'
  try {
    const parsed: unknown = JSON.parse(text)
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Metadata)
      : undefined
  } catch {
    return undefined
  }
}

function metadataText(metadata: Metadata | undefined, key: string): string | undefined {
  const value = metadata?.[key]
  if (typeof value === 'string') return value === '' ? undefined : value
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined
}

export const openInferenceReader: ConventionReader = {
  name: 'openinference',
  tokenAttributes: OPENINFERENCE_TOKENS,
  read(span: DecodedSpan): ConventionReading | undefined {
    const attributes = span.attributes
    const kind = readText(attributes['openinference.span.kind'])
    if (kind === undefined) return undefined
    let operation = SPAN_KINDS.get(kind.toUpperCase())
    let agentName: string | undefined
    // Only agents and chains need the metadata: chains to tell the agent from its steps.
    const metadata = kind === 'AGENT' || kind === 'CHAIN' ? metadataOf(span) : undefined
    if (kind === 'AGENT') {
      agentName = metadataText(metadata, 'lc_agent_name') ?? span.name
    } else if (kind === 'CHAIN') {
      const namedAgent = metadataText(metadata, 'lc_agent_name')
      // A LangGraph graph invoked by the app: its nodes (and whatever runs inside them, subgraphs
      // included) carry `langgraph_node`; the graph itself does not.
      const isGraph =
        metadataText(metadata, 'ls_integration') === 'langgraph' && metadata?.langgraph_node === undefined
      if (namedAgent === span.name || isGraph || span.parentSpanId === '') {
        operation = OPERATION_INVOKE_AGENT
        agentName = span.name
      } else {
        operation = ''
      }
    }
    return {
      operation,
      agentName,
      userId:
        readText(attributes[USER_ID]) ??
        metadataText(metadata, 'user_id') ??
        metadataText(metadata, 'userId'),
      conversationId: readText(attributes['session.id']),
      requestModel: readText(attributes['llm.model_name']),
      provider: readText(attributes['llm.provider']) ?? readText(attributes['llm.system']),
      toolName: kind === 'TOOL' ? (readText(attributes['tool.name']) ?? span.name) : undefined,
      toolCallId: readText(attributes['tool_call.id']),
      ...readTokenCounts(attributes, OPENINFERENCE_TOKENS),
    }
  },
}
