/**
 * The Vercel AI SDK (`ai` 5–6 with `experimental_telemetry`), recognised by `ai.operationId` (or,
 * without it, a span name starting `ai.`). The operation comes from `ai.operationId`, not the span
 * name, because OpenLLMetry renames these spans (`chat {model}`, `{agent}.agent`) and keeps the id:
 * - `ai.generateText.doGenerate`, `ai.streamText.doStream`, `ai.generateObject.doGenerate`,
 *   `ai.streamObject.doStream` are the provider calls → chat; `ai.embed.doEmbed`,
 *   `ai.embedMany.doEmbed` → embeddings; `ai.toolCall` → execute_tool (`ai.toolCall.name`);
 * - the top-level calls (`ai.generateText`, `ai.streamText`, `ai.generateObject`,
 *   `ai.streamObject`) repeat their steps' summed usage in `ai.usage.*`, so they are never LLM calls.
 *   A top-level call that starts its trace (no parent: nothing else of the app was traced around it)
 *   is the run itself, of the agent named by `ai.telemetry.functionId`, else the service; inside
 *   anything else (a `@daa/sdk` run, an OpenLLMetry agent, a web request) it is no operation.
 * Model `ai.model.id`, provider `ai.model.provider` (its first segment: `openai.chat` → `openai`),
 * tokens `ai.usage.*`, person and conversation from `experimental_telemetry.metadata`
 * (`ai.telemetry.metadata.userId` / `.user.id`, `.conversationId` / `.conversation.id`).
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
  readTokenCounts,
  type TokenAttributes,
} from './reading.js'

const VERCEL_AI_TOKENS: TokenAttributes = {
  inputTokens: ['ai.usage.inputTokens', 'ai.usage.promptTokens'],
  outputTokens: ['ai.usage.outputTokens', 'ai.usage.completionTokens'],
  cacheReadTokens: ['ai.usage.inputTokenDetails.cacheReadTokens', 'ai.usage.cachedInputTokens'],
  cacheWriteTokens: ['ai.usage.inputTokenDetails.cacheWriteTokens'],
  reasoningTokens: ['ai.usage.outputTokenDetails.reasoningTokens', 'ai.usage.reasoningTokens'],
}

const OPERATIONS: ReadonlyMap<string, string> = new Map([
  ['ai.generateText.doGenerate', OPERATION_CHAT],
  ['ai.streamText.doStream', OPERATION_CHAT],
  ['ai.generateObject.doGenerate', OPERATION_CHAT],
  ['ai.streamObject.doStream', OPERATION_CHAT],
  ['ai.embed.doEmbed', OPERATION_EMBEDDINGS],
  ['ai.embedMany.doEmbed', OPERATION_EMBEDDINGS],
  ['ai.toolCall', OPERATION_EXECUTE_TOOL],
])

/** The AI SDK's top-level calls, whose spans wrap the provider calls. */
export const TOP_LEVEL_CALLS: ReadonlySet<string> = new Set([
  'ai.generateText',
  'ai.streamText',
  'ai.generateObject',
  'ai.streamObject',
])

/** `openai.chat` → `openai`: the AI SDK's provider ids name the provider, then its API. */
function providerName(providerId: string | undefined): string | undefined {
  if (providerId === undefined) return undefined
  const dot = providerId.indexOf('.')
  return dot > 0 ? providerId.slice(0, dot) : providerId
}

function hasAiPrefix(name: string): boolean {
  // 'a', 'i', '.': a character check, not a regex; it runs for every span.
  return name.charCodeAt(0) === 97 && name.charCodeAt(1) === 105 && name.charCodeAt(2) === 46
}

export const vercelAiReader: ConventionReader = {
  name: 'vercel-ai',
  tokenAttributes: VERCEL_AI_TOKENS,
  read(span: DecodedSpan): ConventionReading | undefined {
    const attributes = span.attributes
    const operationId = readText(attributes['ai.operationId'])
    if (operationId === undefined && !hasAiPrefix(span.name)) return undefined
    const id = operationId ?? span.name
    let operation = OPERATIONS.get(id)
    let agentName: string | undefined
    if (TOP_LEVEL_CALLS.has(id)) {
      if (span.parentSpanId === '') {
        operation = OPERATION_INVOKE_AGENT
        agentName = readText(attributes['ai.telemetry.functionId']) ?? readText(span.resource['service.name'])
      } else {
        operation = ''
      }
    }
    return {
      operation,
      agentName,
      requestModel: readText(attributes['ai.model.id']),
      responseModel: readText(attributes['ai.response.model']),
      provider: providerName(readText(attributes['ai.model.provider'])),
      toolName: readText(attributes['ai.toolCall.name']),
      toolCallId: readText(attributes['ai.toolCall.id']),
      userId:
        readText(attributes['ai.telemetry.metadata.userId']) ??
        readText(attributes['ai.telemetry.metadata.user.id']),
      conversationId:
        readText(attributes['ai.telemetry.metadata.conversationId']) ??
        readText(attributes['ai.telemetry.metadata.conversation.id']),
      ...readTokenCounts(attributes, VERCEL_AI_TOKENS),
    }
  },
}
