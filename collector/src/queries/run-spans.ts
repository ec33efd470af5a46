/**
 * Which spans count toward their run's facts (run-facts.ts) — read by the facts SELECT and by the
 * spans change feed (rollup-schema.ts), so the two cannot disagree. A leaf module: both of those
 * import each other.
 */

/** Operations that are LLM calls. */
export const LLM_OPERATIONS = ['chat', 'generate_content', 'text_completion'] as const

export const LLM_OPERATION_LIST = LLM_OPERATIONS.map((operation) => `'${operation}'`).join(', ')

/**
 * A span row that adds to its run's facts (the full recompute in run-facts.ts reads spans for
 * nothing else):
 * attributed to a run, not the run span itself (whose cost is in runs), and an LLM call, a tool
 * call or a cost. Relies on what retries guarantee: a span id names one span, re-sent unchanged.
 */
export const SPAN_ADDS_TO_RUN = `run_id != '' AND span_id != run_id
    AND (operation IN (${LLM_OPERATION_LIST}) OR operation = 'execute_tool' OR cost_usd != 0)`
