/**
 * What a span means in GenAI terms (operation, agent, person, model, tool, tokens): the readings of
 * every convention reader that recognises the span, combined field by field in precedence order —
 * the first reader with an answer for a field gives it. One reader per convention
 * (conventions/*.ts); the order below is the whole precedence rule:
 *
 * 1. Mastra — its `mastra.span.type` corrects the non-standard `gen_ai.operation.name` it writes;
 * 2. OpenLLMetry — `traceloop.span.kind` marks an AI SDK top-level call as an agent;
 * 3. the Vercel AI SDK — `ai.operationId`, also on spans OpenLLMetry renamed;
 * 4. OpenInference — `openinference.span.kind`;
 * 5. the GenAI semantic conventions — every span, last, so the frameworks' own marks refine it.
 *
 * `conventions` lists the readers that recognised the span, the one that decided its operation
 * first: it is stored with the span (`daa.convention`) so every mapping decision can be looked up.
 */

import type { DecodedSpan } from '../otlp/decoded-span.js'
import { LLM_OPERATIONS } from '../queries/run-spans.js'
import { genAiReader } from './conventions/genai.js'
import { mastraReader } from './conventions/mastra.js'
import { openInferenceReader } from './conventions/openinference.js'
import { openLlmetryReader } from './conventions/openllmetry.js'
import {
  type ConventionReader,
  type ConventionReading,
  OPERATION_INVOKE_AGENT,
  type SpanFields,
  TOKEN_COUNT_FIELDS,
} from './conventions/reading.js'
import { vercelAiReader } from './conventions/vercel-ai.js'

export {
  LATE_OUTCOME_SPAN_NAME,
  OPERATION_EXECUTE_TOOL,
  OPERATION_INVOKE_AGENT,
  OPERATION_LATE_OUTCOME,
  type TokenCounts,
} from './conventions/reading.js'

/** The readers in precedence order (see the module comment). */
export const CONVENTION_READERS: readonly ConventionReader[] = [
  mastraReader,
  openLlmetryReader,
  vercelAiReader,
  openInferenceReader,
  genAiReader,
]

/** Every attribute some convention reads as a token count (into a UInt64 column): span validation bounds these. */
export const TOKEN_COUNT_ATTRIBUTES: readonly string[] = CONVENTION_READERS.flatMap((reader) =>
  reader.tokenAttributes ? Object.values(reader.tokenAttributes).flat() : [],
)

/** The operations that are one call to a model, the ones priced from the price table. */
const LLM_CALL_OPERATIONS: ReadonlySet<string> = new Set(LLM_OPERATIONS)

export function isLlmCall(operation: string): boolean {
  return LLM_CALL_OPERATIONS.has(operation)
}

/**
 * Operations whose token attributes fill the token columns: LLM calls, and agent runs, whose own
 * usage (often the sum of their calls) is kept so queries can choose which level to count. Every
 * other span (an AI SDK or Mastra wrapper around its calls, a LangGraph node) carries no tokens, so
 * the tokens of one call are counted at one level only.
 */
function carriesTokens(operation: string): boolean {
  return operation === OPERATION_INVOKE_AGENT || LLM_CALL_OPERATIONS.has(operation)
}

export interface SpanSemantics extends SpanFields {
  /** The conventions that read the span, the one that decided the operation first; never empty. */
  conventions: string
}

const TEXT_FIELDS = [
  'agentId',
  'agentName',
  'agentVersion',
  'userId',
  'conversationId',
  'requestModel',
  'responseModel',
  'provider',
  'toolName',
  'toolCallId',
] as const satisfies readonly (keyof SpanFields)[]

/** Reads the GenAI meaning of one span. Never throws; absent or mistyped attributes read as ''/0. */
export function readSpanSemantics(span: DecodedSpan): SpanSemantics {
  const readings: ConventionReading[] = []
  const names: string[] = []
  let operation: string | undefined
  let decidedBy = ''
  for (const reader of CONVENTION_READERS) {
    const reading = reader.read(span)
    if (reading === undefined) continue
    readings.push(reading)
    names.push(reader.name)
    if (operation === undefined && reading.operation !== undefined) {
      operation = reading.operation
      decidedBy = reader.name
    }
  }
  operation ??= ''

  const semantics = { operation, conventions: '' } as SpanSemantics
  for (const field of TEXT_FIELDS) {
    let value: string | undefined
    for (const reading of readings) {
      value = reading[field]
      if (value !== undefined) break
    }
    semantics[field] = value ?? ''
  }
  // An agent named but not identified is identified by its name (the data contract).
  if (semantics.agentId === '') semantics.agentId = semantics.agentName
  const withTokens = carriesTokens(operation)
  for (const field of TOKEN_COUNT_FIELDS) {
    let value: number | undefined
    if (withTokens) {
      for (const reading of readings) {
        value = reading[field]
        if (value !== undefined) break
      }
    }
    semantics[field] = value ?? 0
  }
  // The genai reader reads every span, so names is never empty; the decider goes first.
  semantics.conventions =
    decidedBy === '' || decidedBy === names[0]
      ? names.join(',')
      : [decidedBy, ...names.filter((name) => name !== decidedBy)].join(',')
  return semantics
}
