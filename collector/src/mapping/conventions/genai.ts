/**
 * OpenTelemetry GenAI semantic conventions (`gen_ai.*`, with the deprecated spellings still sent by
 * older instrumentations), the person (`user.id`, `enduser.id`) and daa's late `daa.outcome` span.
 * The base every other convention refines: it reads any span, and comes last in precedence.
 */
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
  inputTokens: ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens'],
  outputTokens: ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens'],
  cacheReadTokens: [
    'gen_ai.usage.cache_read.input_tokens',
    'gen_ai.usage.cache_read_input_tokens',
    'gen_ai.usage.cached_input_tokens',
  ],
  cacheWriteTokens: [
    'gen_ai.usage.cache_creation.input_tokens',
    'gen_ai.usage.cache_write.input_tokens',
    'gen_ai.usage.cache_creation_input_tokens',
  ],
  reasoningTokens: ['gen_ai.usage.reasoning.output_tokens', 'gen_ai.usage.reasoning_tokens'],
}

export const genAiReader: ConventionReader = {
  name: 'genai',
  tokenAttributes: GENAI_TOKENS,
  read(span: DecodedSpan): ConventionReading {
    const attributes = span.attributes
    const agentName = readText(attributes['gen_ai.agent.name'])
    return {
      operation:
        readText(attributes['gen_ai.operation.name']) ??
        (span.name === LATE_OUTCOME_SPAN_NAME ? OPERATION_LATE_OUTCOME : undefined),
      agentName,
      agentId: readText(attributes['gen_ai.agent.id']),
      agentVersion: readText(attributes['gen_ai.agent.version']),
      userId: readText(attributes['user.id']) ?? readText(attributes['enduser.id']),
      conversationId: readText(attributes['gen_ai.conversation.id']),
      requestModel: readText(attributes['gen_ai.request.model']),
      responseModel: readText(attributes['gen_ai.response.model']),
      provider: readText(attributes['gen_ai.provider.name']) ?? readText(attributes['gen_ai.system']),
      toolName: readText(attributes['gen_ai.tool.name']),
      toolCallId: readText(attributes['gen_ai.tool.call.id']),
      ...readTokenCounts(attributes, GENAI_TOKENS),
    }
  },
}
