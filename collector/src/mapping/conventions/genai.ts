/**
 * OpenTelemetry GenAI semantic conventions (`gen_ai.*`, with the deprecated spellings still sent by
 * older instrumentations), the person (`user.id`, `enduser.id`) and daa's late `daa.outcome` span.
 * The base every other convention refines: it reads any span, and comes last in precedence.
 */
import type { DecodedSpan } from '../../otlp/decoded-span.js'
import { readCount, readText } from '../attribute-readers.js'
import {
  type ConventionReader,
  type ConventionReading,
  LATE_OUTCOME_SPAN_NAME,
  OPERATION_LATE_OUTCOME,
} from './reading.js'

export const genAiReader: ConventionReader = {
  name: 'genai',
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
      inputTokens:
        readCount(attributes['gen_ai.usage.input_tokens']) ??
        readCount(attributes['gen_ai.usage.prompt_tokens']),
      outputTokens:
        readCount(attributes['gen_ai.usage.output_tokens']) ??
        readCount(attributes['gen_ai.usage.completion_tokens']),
      cacheReadTokens:
        readCount(attributes['gen_ai.usage.cache_read.input_tokens']) ??
        readCount(attributes['gen_ai.usage.cache_read_input_tokens']) ??
        readCount(attributes['gen_ai.usage.cached_input_tokens']),
      cacheWriteTokens:
        readCount(attributes['gen_ai.usage.cache_creation.input_tokens']) ??
        readCount(attributes['gen_ai.usage.cache_write.input_tokens']) ??
        readCount(attributes['gen_ai.usage.cache_creation_input_tokens']),
      reasoningTokens:
        readCount(attributes['gen_ai.usage.reasoning.output_tokens']) ??
        readCount(attributes['gen_ai.usage.reasoning_tokens']),
    }
  },
}
