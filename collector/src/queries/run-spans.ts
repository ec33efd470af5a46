/**
 * Which spans count toward their run's facts (run-facts.ts) — read by the facts SELECT, by the spans
 * change feed (rollup-schema.ts) and by mapping (which LLM calls are priced), so they cannot
 * disagree. A leaf module: run-facts.ts and rollup-schema.ts import each other.
 */
import { OPERATION_EXECUTE_TOOL, OPERATION_INVOKE_AGENT } from '@daa/sdk/attributes'

/** Operations that are one call to a model: their tokens fill the run's token columns. */
export const LLM_OPERATIONS = ['chat', 'generate_content', 'text_completion'] as const

/** SQL: the span in scope is an LLM call. */
export const IS_LLM_CALL = `operation IN (${LLM_OPERATIONS.map((operation) => `'${operation}'`).join(', ')})`

/** SQL: the span in scope is a tool call. */
export const IS_TOOL_CALL = `operation = '${OPERATION_EXECUTE_TOOL}'`

/**
 * SQL: a span row that adds to its run's facts (the full recompute in run-facts.ts reads spans for
 * nothing else): attributed to a run, not the run span itself (whose cost is in runs), and an LLM
 * call, a tool call or a cost. Relies on what retries guarantee: a span id names one span, re-sent
 * unchanged.
 */
export const SPAN_ADDS_TO_RUN = `run_id != '' AND span_id != run_id
    AND (${IS_LLM_CALL} OR ${IS_TOOL_CALL} OR cost_usd != 0)`

/**
 * SQL: a span row still waiting for its run: not attributed yet, not a run span itself, and with a
 * parent to be attributed through. Read by the run resolver (which attributes such spans) and by the
 * feed of pending_traces (which remembers the traces that hold one), so the two cannot disagree.
 */
export const SPAN_AWAITS_RUN = `run_id = '' AND parent_span_id != '' AND operation != '${OPERATION_INVOKE_AGENT}'`
