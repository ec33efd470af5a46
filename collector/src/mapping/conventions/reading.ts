/**
 * What one convention reader says about a span. Each telemetry convention (GenAI semantic
 * conventions, OpenInference, OpenLLMetry, Mastra, the Vercel AI SDK) is read in exactly one reader;
 * span-semantics.ts combines their readings by precedence, field by field.
 *
 * A field left `undefined` means "this convention says nothing about it"; '' is an answer ("not an
 * operation daa counts", for `operation`), so a reader can overrule the readers after it.
 */
import type { Attributes, DecodedSpan } from '../../otlp/decoded-span.js'
import { readCount } from '../attribute-readers.js'

// The data contract's names (operations the SDK emits, the late-outcome span) live in the SDK.
export {
  LATE_OUTCOME_SPAN_NAME,
  OPERATION_CHAT,
  OPERATION_EXECUTE_TOOL,
  OPERATION_INVOKE_AGENT,
} from '@daa/sdk/attributes'

export const OPERATION_TEXT_COMPLETION = 'text_completion'
export const OPERATION_EMBEDDINGS = 'embeddings'
export const OPERATION_RETRIEVAL = 'retrieval'
/** The operation of a late-outcome span: named after the span itself. */
export const OPERATION_LATE_OUTCOME = 'daa.outcome'

export interface TokenCounts {
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheWriteTokens: number
  reasoningTokens: number
}

/** The normalised meaning of a span, every field a convention can fill. */
export interface SpanFields extends TokenCounts {
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

/** The token count fields, in one list (read for every span: no Object.keys per span). */
export const TOKEN_COUNT_FIELDS = [
  'inputTokens',
  'outputTokens',
  'cacheReadTokens',
  'cacheWriteTokens',
  'reasoningTokens',
] as const satisfies readonly (keyof TokenCounts)[]

/** The attributes a convention reads as each token count, in order: the first one present wins. */
export type TokenAttributes = { readonly [Field in keyof TokenCounts]: readonly string[] }

/** Reads the token counts a convention's table names (undefined where none is present). */
export function readTokenCounts(attributes: Attributes, table: TokenAttributes): Partial<TokenCounts> {
  const counts: Partial<TokenCounts> = {}
  for (const field of TOKEN_COUNT_FIELDS) {
    for (const key of table[field]) {
      const count = readCount(attributes[key])
      if (count !== undefined) {
        counts[field] = count
        break
      }
    }
  }
  return counts
}

export type ConventionReading = { [Field in keyof SpanFields]?: SpanFields[Field] | undefined }

export interface ConventionReader {
  /** The name recorded in a span's `daa.convention` when this reader read it. */
  readonly name: string
  /**
   * Reads the span, or returns undefined when the span carries none of this convention's marks (a
   * key lookup or a name prefix: it runs for every span on the ingest path). Never throws.
   */
  read(span: DecodedSpan): ConventionReading | undefined
  /** The attributes it reads as token counts: span validation bounds every one of them. */
  readonly tokenAttributes?: TokenAttributes
}
