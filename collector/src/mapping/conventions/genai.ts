/**
 * OpenTelemetry GenAI semantic conventions (`gen_ai.*`, with the deprecated spellings still sent by
 * older instrumentations), the person (`user.id`, `enduser.id`) and daa's late `daa.outcome` span.
 * The base every other convention refines: it reads any span, and comes last in precedence.
 */
import {
  GEN_AI_AGENT_ID,
  GEN_AI_AGENT_NAME,
  GEN_AI_AGENT_VERSION,
  GEN_AI_CONVERSATION_ID,
  GEN_AI_OPERATION_NAME,
  GEN_AI_PROVIDER_NAME,
  GEN_AI_REQUEST_MODEL,
  GEN_AI_RESPONSE_MODEL,
  GEN_AI_TOOL_CALL_ID,
  GEN_AI_TOOL_NAME,
  GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_USAGE_OUTPUT_TOKENS,
  GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  USER_ID,
} from '@daa/sdk/attributes'
import type { DecodedSpan } from '../../otlp/decoded-span.js'
import { readText } from '../attribute-readers.js'
import {
  type ConventionReader,
  type ConventionReading,
  LATE_OUTCOME_SPAN_NAME,
  OPERATION_LATE_OUTCOME,
  readTokenCounts,
  type TokenAttributes,
} from './reading.js'

/** The GenAI names first, then the deprecated spellings older instrumentations still send. */
const GENAI_TOKENS: TokenAttributes = {
  inputTokens: [GEN_AI_USAGE_INPUT_TOKENS, 'gen_ai.usage.prompt_tokens'],
  outputTokens: [GEN_AI_USAGE_OUTPUT_TOKENS, 'gen_ai.usage.completion_tokens'],
  cacheReadTokens: [
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    'gen_ai.usage.cache_read_input_tokens',
    'gen_ai.usage.cached_input_tokens',
  ],
  cacheWriteTokens: [
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    'gen_ai.usage.cache_write.input_tokens',
    'gen_ai.usage.cache_creation_input_tokens',
  ],
  reasoningTokens: [GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, 'gen_ai.usage.reasoning_tokens'],
}

export const genAiReader: ConventionReader = {
  name: 'genai',
  tokenAttributes: GENAI_TOKENS,
  read(span: DecodedSpan): ConventionReading {
    const attributes = span.attributes
    const agentName = readText(attributes[GEN_AI_AGENT_NAME])
    return {
      operation:
        readText(attributes[GEN_AI_OPERATION_NAME]) ??
        (span.name === LATE_OUTCOME_SPAN_NAME ? OPERATION_LATE_OUTCOME : undefined),
      agentName,
      agentId: readText(attributes[GEN_AI_AGENT_ID]),
      agentVersion: readText(attributes[GEN_AI_AGENT_VERSION]),
      userId: readText(attributes[USER_ID]) ?? readText(attributes['enduser.id']),
      conversationId: readText(attributes[GEN_AI_CONVERSATION_ID]),
      requestModel: readText(attributes[GEN_AI_REQUEST_MODEL]),
      responseModel: readText(attributes[GEN_AI_RESPONSE_MODEL]),
      provider: readText(attributes[GEN_AI_PROVIDER_NAME]) ?? readText(attributes['gen_ai.system']),
      toolName: readText(attributes[GEN_AI_TOOL_NAME]),
      toolCallId: readText(attributes[GEN_AI_TOOL_CALL_ID]),
      ...readTokenCounts(attributes, GENAI_TOKENS),
    }
  },
}
