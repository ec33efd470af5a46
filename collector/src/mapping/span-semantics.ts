/**
 * What a span means in GenAI terms (operation, agent, model, tool, tokens), read from the
 * OpenTelemetry GenAI semantic conventions first and, for spans of other instrumentations, from their
 * own attribute names:
 *
 * - Vercel AI SDK (`ai` 6, spans named `ai.*`; names as emitted by its telemetry code):
 *   `ai.generateText.doGenerate`, `ai.streamText.doStream`, `ai.generateObject.doGenerate`,
 *   `ai.streamObject.doStream` are the provider calls → chat; `ai.embed.doEmbed`,
 *   `ai.embedMany.doEmbed` → embeddings; `ai.toolCall` → execute_tool (`ai.toolCall.name`). The
 *   wrappers (`ai.generateText`, `ai.streamText`, …) repeat their steps' summed usage, so they map to
 *   '' and carry no tokens: counting both would double every token. Model `ai.model.id`, provider
 *   `ai.model.provider` (its first segment: `openai.chat` → `openai`), tokens `ai.usage.*` when the
 *   `gen_ai.usage.*` ones are absent, user and conversation from `experimental_telemetry.metadata`
 *   (`ai.telemetry.metadata.userId` / `.user.id`, `.conversationId` / `.conversation.id`).
 * - OpenLLMetry / Traceloop: `traceloop.span.kind` agent → invoke_agent, tool → execute_tool (both
 *   named by `traceloop.entity.name`), workflow and task → ''; LLM spans by `llm.request.type`
 *   (chat → chat, completion → text_completion, embedding → embeddings) with `gen_ai.*` attributes,
 *   including the older `gen_ai.usage.prompt_tokens`, `completion_tokens`,
 *   `cache_read_input_tokens`, `cache_creation_input_tokens`; user and conversation from
 *   `traceloop.association.properties.user_id` / `.session_id`.
 * - Mastra: its current OtelExporter already emits `gen_ai.operation.name` and GenAI attributes. The
 *   earlier AI-tracing exporter wrote non-standard operations (`agent`, `tool_call`,
 *   `tool_selection`), so `mastra.span.type` decides when present: agent_run → invoke_agent,
 *   llm_generation / model_generation → chat, tool_call / mcp_tool_call / provider_tool_call →
 *   execute_tool, rag_embedding → embeddings; agent id `mastra.agent.id`; tokens
 *   `gen_ai.usage.cached_input_tokens`, `gen_ai.usage.reasoning_tokens`.
 */
import type { Attributes, DecodedSpan } from '../otlp/decoded-span.js'
import { readCount, readText } from './attribute-readers.js'

export const OPERATION_INVOKE_AGENT = 'invoke_agent'
export const OPERATION_EXECUTE_TOOL = 'execute_tool'
export const OPERATION_LATE_OUTCOME = 'daa.outcome'
export const LATE_OUTCOME_SPAN_NAME = 'daa.outcome'

/** The operations that are one call to a model, the ones priced from the price table. */
const LLM_CALL_OPERATIONS: ReadonlySet<string> = new Set(['chat', 'generate_content', 'text_completion'])

export function isLlmCall(operation: string): boolean {
  return LLM_CALL_OPERATIONS.has(operation)
}

/**
 * Operations whose token attributes fill the token columns: LLM calls, and agent runs, whose own
 * usage (often the sum of their calls) is kept so queries can choose which level to count.
 */
function carriesTokens(operation: string): boolean {
  return operation === OPERATION_INVOKE_AGENT || LLM_CALL_OPERATIONS.has(operation)
}

export interface TokenCounts {
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheWriteTokens: number
  reasoningTokens: number
}

export interface SpanSemantics extends TokenCounts {
  operation: string
  agentId: string
  agentName: string
  agentVersion: string
  userId: string
  conversationId: string
  requestModel: string
  responseModel: string
  provider: string
  toolName: string
  toolCallId: string
}

type Instrumentation = 'vercel' | 'openllmetry' | 'mastra' | 'other'

/** Vercel AI SDK span names (equal to their `ai.operationId`) → GenAI operation. */
const VERCEL_OPERATIONS: ReadonlyMap<string, string> = new Map([
  ['ai.generateText.doGenerate', 'chat'],
  ['ai.streamText.doStream', 'chat'],
  ['ai.generateObject.doGenerate', 'chat'],
  ['ai.streamObject.doStream', 'chat'],
  ['ai.embed.doEmbed', 'embeddings'],
  ['ai.embedMany.doEmbed', 'embeddings'],
  ['ai.toolCall', OPERATION_EXECUTE_TOOL],
])

const TRACELOOP_SPAN_KINDS: ReadonlyMap<string, string> = new Map([
  ['agent', OPERATION_INVOKE_AGENT],
  ['tool', OPERATION_EXECUTE_TOOL],
  ['workflow', ''],
  ['task', ''],
])

const OPENLLMETRY_REQUEST_TYPES: ReadonlyMap<string, string> = new Map([
  ['chat', 'chat'],
  ['completion', 'text_completion'],
  ['embedding', 'embeddings'],
])

const MASTRA_SPAN_TYPES: ReadonlyMap<string, string> = new Map([
  ['agent_run', OPERATION_INVOKE_AGENT],
  ['llm_generation', 'chat'],
  ['model_generation', 'chat'],
  ['tool_call', OPERATION_EXECUTE_TOOL],
  ['mcp_tool_call', OPERATION_EXECUTE_TOOL],
  ['provider_tool_call', OPERATION_EXECUTE_TOOL],
  ['rag_embedding', 'embeddings'],
])

/** Which instrumentation wrote the span, by cheap checks (a name prefix, a key lookup), no regex. */
function instrumentationOf(span: DecodedSpan): Instrumentation {
  const name = span.name
  // 'a', 'i', '.': the Vercel AI SDK names every span `ai.<operation>`.
  if (name.charCodeAt(0) === 97 && name.charCodeAt(1) === 105 && name.charCodeAt(2) === 46) return 'vercel'
  const attributes = span.attributes
  if (attributes['traceloop.span.kind'] !== undefined || attributes['llm.request.type'] !== undefined) {
    return 'openllmetry'
  }
  if (attributes['mastra.span.type'] !== undefined) return 'mastra'
  return 'other'
}

function mappedOperation(map: ReadonlyMap<string, string>, value: string | undefined): string | undefined {
  return value === undefined ? undefined : map.get(value)
}

function operationOf(span: DecodedSpan, instrumentation: Instrumentation): string {
  const attributes = span.attributes
  // Mastra's span type outranks its own gen_ai.operation.name, which older exporters filled with
  // non-standard values ('agent', 'tool_call').
  if (instrumentation === 'mastra') {
    const mastra = mappedOperation(MASTRA_SPAN_TYPES, readText(attributes['mastra.span.type']))
    if (mastra !== undefined) return mastra
  }
  const declared = readText(attributes['gen_ai.operation.name'])
  if (declared !== undefined) return declared
  if (span.name === LATE_OUTCOME_SPAN_NAME) return OPERATION_LATE_OUTCOME
  if (instrumentation === 'vercel') {
    return (
      VERCEL_OPERATIONS.get(span.name) ??
      mappedOperation(VERCEL_OPERATIONS, readText(attributes['ai.operationId'])) ??
      ''
    )
  }
  if (instrumentation === 'openllmetry') {
    return (
      mappedOperation(TRACELOOP_SPAN_KINDS, readText(attributes['traceloop.span.kind'])) ??
      mappedOperation(OPENLLMETRY_REQUEST_TYPES, readText(attributes['llm.request.type'])) ??
      ''
    )
  }
  return ''
}

/** `openai.chat` → `openai`: the AI SDK's provider ids name the provider, then its API. */
function vercelProviderName(providerId: string | undefined): string | undefined {
  if (providerId === undefined) return undefined
  const dot = providerId.indexOf('.')
  return dot > 0 ? providerId.slice(0, dot) : providerId
}

const NO_TOKENS: TokenCounts = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
}

type TokenKind = 'input' | 'output' | 'cacheRead' | 'cacheWrite' | 'reasoning'

/** Token count attributes per kind: the GenAI names first, then their deprecated spellings. */
const GENAI_TOKEN_KEYS: Record<TokenKind, readonly string[]> = {
  input: ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens'],
  output: ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens'],
  cacheRead: [
    'gen_ai.usage.cache_read.input_tokens',
    'gen_ai.usage.cache_read_input_tokens',
    'gen_ai.usage.cached_input_tokens',
  ],
  cacheWrite: [
    'gen_ai.usage.cache_creation.input_tokens',
    'gen_ai.usage.cache_write.input_tokens',
    'gen_ai.usage.cache_creation_input_tokens',
  ],
  reasoning: ['gen_ai.usage.reasoning.output_tokens', 'gen_ai.usage.reasoning_tokens'],
}

/** The Vercel AI SDK's own token count attributes, read when the GenAI ones are absent. */
const VERCEL_TOKEN_KEYS: Record<TokenKind, readonly string[]> = {
  input: ['ai.usage.inputTokens', 'ai.usage.promptTokens'],
  output: ['ai.usage.outputTokens', 'ai.usage.completionTokens'],
  cacheRead: ['ai.usage.inputTokenDetails.cacheReadTokens', 'ai.usage.cachedInputTokens'],
  cacheWrite: ['ai.usage.inputTokenDetails.cacheWriteTokens'],
  reasoning: ['ai.usage.outputTokenDetails.reasoningTokens', 'ai.usage.reasoningTokens'],
}

/** Every attribute read as a token count (into a UInt64 column): span validation bounds these. */
export const TOKEN_COUNT_ATTRIBUTES: readonly string[] = [
  ...Object.values(GENAI_TOKEN_KEYS).flat(),
  ...Object.values(VERCEL_TOKEN_KEYS).flat(),
]

function firstCount(attributes: Attributes, keys: readonly string[]): number | undefined {
  for (const key of keys) {
    const count = readCount(attributes[key])
    if (count !== undefined) return count
  }
  return undefined
}

function countOf(attributes: Attributes, instrumentation: Instrumentation, kind: TokenKind): number {
  const count = firstCount(attributes, GENAI_TOKEN_KEYS[kind])
  if (count !== undefined || instrumentation !== 'vercel') return count ?? 0
  return firstCount(attributes, VERCEL_TOKEN_KEYS[kind]) ?? 0
}

/** Token counts under the GenAI names, their deprecated spellings, then the instrumentation's own. */
function tokenCountsOf(attributes: Attributes, instrumentation: Instrumentation): TokenCounts {
  return {
    inputTokens: countOf(attributes, instrumentation, 'input'),
    outputTokens: countOf(attributes, instrumentation, 'output'),
    cacheReadTokens: countOf(attributes, instrumentation, 'cacheRead'),
    cacheWriteTokens: countOf(attributes, instrumentation, 'cacheWrite'),
    reasoningTokens: countOf(attributes, instrumentation, 'reasoning'),
  }
}

/** Reads the GenAI meaning of one span. Never throws; absent or mistyped attributes read as ''/0. */
export function readSpanSemantics(span: DecodedSpan): SpanSemantics {
  const attributes = span.attributes
  const instrumentation = instrumentationOf(span)
  const operation = operationOf(span, instrumentation)

  let agentName = readText(attributes['gen_ai.agent.name'])
  let agentId = readText(attributes['gen_ai.agent.id'])
  let agentVersion = readText(attributes['gen_ai.agent.version'])
  let userId = readText(attributes['user.id']) ?? readText(attributes['enduser.id'])
  let conversationId = readText(attributes['gen_ai.conversation.id'])
  let requestModel = readText(attributes['gen_ai.request.model'])
  let responseModel = readText(attributes['gen_ai.response.model'])
  let provider = readText(attributes['gen_ai.provider.name']) ?? readText(attributes['gen_ai.system'])
  let toolName = readText(attributes['gen_ai.tool.name'])
  let toolCallId = readText(attributes['gen_ai.tool.call.id'])

  switch (instrumentation) {
    case 'vercel':
      requestModel ??= readText(attributes['ai.model.id'])
      responseModel ??= readText(attributes['ai.response.model'])
      provider = vercelProviderName(provider ?? readText(attributes['ai.model.provider']))
      toolName ??= readText(attributes['ai.toolCall.name'])
      toolCallId ??= readText(attributes['ai.toolCall.id'])
      userId ??=
        readText(attributes['ai.telemetry.metadata.userId']) ??
        readText(attributes['ai.telemetry.metadata.user.id'])
      conversationId ??=
        readText(attributes['ai.telemetry.metadata.conversationId']) ??
        readText(attributes['ai.telemetry.metadata.conversation.id'])
      break
    case 'openllmetry': {
      const entityName = readText(attributes['traceloop.entity.name'])
      if (operation === OPERATION_INVOKE_AGENT) {
        agentName ??= entityName
        agentVersion ??= readText(attributes['traceloop.entity.version'])
      } else if (operation === OPERATION_EXECUTE_TOOL) {
        toolName ??= entityName
      }
      userId ??= readText(attributes['traceloop.association.properties.user_id'])
      conversationId ??= readText(attributes['traceloop.association.properties.session_id'])
      break
    }
    case 'mastra':
      agentId ??= readText(attributes['mastra.agent.id'])
      break
    case 'other':
      break
  }
  agentId ??= agentName

  const tokens = carriesTokens(operation) ? tokenCountsOf(attributes, instrumentation) : NO_TOKENS
  return {
    operation,
    agentId: agentId ?? '',
    agentName: agentName ?? '',
    agentVersion: agentVersion ?? '',
    userId: userId ?? '',
    conversationId: conversationId ?? '',
    requestModel: requestModel ?? '',
    responseModel: responseModel ?? '',
    provider: provider ?? '',
    toolName: toolName ?? '',
    toolCallId: toolCallId ?? '',
    inputTokens: tokens.inputTokens,
    outputTokens: tokens.outputTokens,
    cacheReadTokens: tokens.cacheReadTokens,
    cacheWriteTokens: tokens.cacheWriteTokens,
    reasoningTokens: tokens.reasoningTokens,
  }
}
