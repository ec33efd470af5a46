/**
 * Attribute names of the data contract (collector/README.md, "Data contract"): OpenTelemetry GenAI semantic conventions
 * first, `daa.*` only for what they lack. Kept in one place so the collector's mapping and the SDK
 * cannot drift apart silently: the collector imports them from `@daa/sdk/attributes`, a side-effect
 * free entry without the SDK's runtime.
 */

export const GEN_AI_OPERATION_NAME = 'gen_ai.operation.name'
export const GEN_AI_AGENT_NAME = 'gen_ai.agent.name'
export const GEN_AI_AGENT_ID = 'gen_ai.agent.id'
export const GEN_AI_AGENT_VERSION = 'gen_ai.agent.version'
export const GEN_AI_CONVERSATION_ID = 'gen_ai.conversation.id'
export const GEN_AI_REQUEST_MODEL = 'gen_ai.request.model'
export const GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model'
export const GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name'
export const GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens'
export const GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens'
export const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.cache_read.input_tokens'
export const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = 'gen_ai.usage.cache_creation.input_tokens'
export const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = 'gen_ai.usage.reasoning.output_tokens'
export const GEN_AI_TOOL_NAME = 'gen_ai.tool.name'
export const GEN_AI_TOOL_CALL_ID = 'gen_ai.tool.call.id'
export const USER_ID = 'user.id'
export const ERROR_TYPE = 'error.type'

export const DAA_RUN_ID = 'daa.run.id'
/**
 * Attributes the collector stores per span (more reject the span). The SDK's own provider allows as
 * many, where OpenTelemetry's default is 128, so a run's outcome, written last, is not dropped.
 */
export const MAX_SPAN_ATTRIBUTES = 1000
/**
 * The agent id of the run in `daa.run.id`, stamped beside it on other libraries' spans inside a run:
 * a framework's agent span of the same agent (LangChain's `createAgent` inside `run()`) is then
 * merged into the run by the collector from the span alone, in whichever export request it comes.
 */
export const DAA_RUN_AGENT = 'daa.run.agent'
/** The enclosing run of a run whose parent span is in another service (read by the collector). */
export const DAA_PARENT_RUN_ID = 'daa.parent_run.id'
export const DAA_OUTCOME = 'daa.outcome'
/** The values `daa.outcome` may take, exactly (case-sensitive); any other records no outcome. */
export const OUTCOME_STATUSES = ['delivered', 'partial', 'failed', 'abandoned'] as const
export type OutcomeStatus = (typeof OUTCOME_STATUSES)[number]
/** Whether a `daa.outcome` value is one of OUTCOME_STATUSES. */
export function isOutcomeStatus(value: unknown): value is OutcomeStatus {
  return (OUTCOME_STATUSES as readonly unknown[]).includes(value)
}
export const DAA_OUTCOME_VALUE = 'daa.outcome.value'
export const DAA_OUTCOME_UNIT = 'daa.outcome.unit'
export const DAA_OUTCOME_REASON = 'daa.outcome.reason'
export const DAA_COST_USD = 'daa.cost.usd'

/** `gen_ai.operation.name` values this SDK emits. */
export const OPERATION_INVOKE_AGENT = 'invoke_agent'
export const OPERATION_CHAT = 'chat'
export const OPERATION_EXECUTE_TOOL = 'execute_tool'

/** Name of the span that records an outcome after its run has ended. */
export const LATE_OUTCOME_SPAN_NAME = 'daa.outcome'

const spanNamesByOperation = new Map<string, Map<string, string>>()
const MAX_CACHED_SPAN_NAMES = 256

/**
 * `{operation} {target}`, the GenAI span name. Cached because the same few names repeat on every
 * run: a reused string costs nothing to build, and nothing to hash again when exported.
 */
export function genAiSpanName(operation: string, target: string): string {
  let names = spanNamesByOperation.get(operation)
  if (names === undefined) {
    names = new Map()
    spanNamesByOperation.set(operation, names)
  }
  let name = names.get(target)
  if (name === undefined) {
    name = `${operation} ${target}`
    if (names.size < MAX_CACHED_SPAN_NAMES) names.set(target, name)
  }
  return name
}
