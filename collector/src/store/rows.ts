/**
 * The rows daa writes, one interface per table in schema.ts, with the same column names.
 * Timestamps are nanoseconds since the epoch as decimal strings (exact, and what ClickHouse
 * parses into DateTime64(9)); maps hold attribute values rendered as strings.
 */

import type { OutcomeStatus } from '@daa/sdk/attributes'

export type { OutcomeStatus }

export type AttributeMap = Record<string, string>

export interface SpanRow {
  project_id: string
  /** Span start, nanoseconds since the epoch. */
  timestamp: string
  trace_id: string
  span_id: string
  parent_span_id: string
  trace_state: string
  span_name: string
  /** OpenTelemetry's names: UNSPECIFIED, INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER. */
  span_kind: string
  service_name: string
  resource_attributes: AttributeMap
  scope_name: string
  scope_version: string
  span_attributes: AttributeMap
  duration_ns: number
  /** UNSET, OK or ERROR. */
  status_code: string
  status_message: string
  'events.timestamp': string[]
  'events.name': string[]
  'events.attributes': AttributeMap[]
  'links.trace_id': string[]
  'links.span_id': string[]
  'links.trace_state': string[]
  'links.attributes': AttributeMap[]
  /**
   * The GenAI operation: invoke_agent, chat, generate_content, text_completion, embeddings,
   * execute_tool, create_agent…; `daa.outcome` for a late outcome; '' for anything else.
   * Spans of other instrumentations (Vercel AI SDK, OpenLLMetry, Mastra) are mapped onto these.
   */
  operation: string
  /** The run this span counts toward (the nearest invoke_agent ancestor's span id); its own id for a run; '' while unknown. */
  run_id: string
  agent_id: string
  user_id: string
  conversation_id: string
  request_model: string
  response_model: string
  provider: string
  tool_name: string
  /** `gen_ai.tool.call.id` (Vercel: `ai.toolCall.id`): matches a tool call to the model's request. */
  tool_call_id: string
  input_tokens: number
  output_tokens: number
  cache_read_tokens: number
  cache_write_tokens: number
  reasoning_tokens: number
  /** This span's own cost: `daa.cost.usd` when sent, else priced from the model's token counts, else 0. */
  cost_usd: number
  /** `error.type`, or the exception type, when the span failed; ''. */
  error_type: string
}

export interface RunRow {
  project_id: string
  /** The run span's span id (hex). */
  run_id: string
  trace_id: string
  /** The enclosing run, for a sub-agent run; ''. */
  parent_run_id: string
  /** `gen_ai.agent.id`, else `gen_ai.agent.name`. */
  agent_id: string
  agent_name: string
  agent_version: string
  user_id: string
  conversation_id: string
  service_name: string
  /** Nanoseconds since the epoch. */
  start_time: string
  duration_ns: number
  status_code: string
  error_type: string
  /** The run span's own `daa.cost.usd`; child spans' costs are summed at query time. */
  cost_usd: number
}

export interface OutcomeRow {
  project_id: string
  run_id: string
  status: OutcomeStatus
  value: number
  unit: string
  reason: string
  /** When this outcome was recorded (the carrying span's end), nanoseconds since the epoch. The latest wins. */
  recorded_at: string
  /** The span that carried it: the run span itself, or a late `daa.outcome` span. */
  source_span_id: string
}

/** Rows mapped from one batch of spans, ready to insert. */
export interface MappedRows {
  spans: SpanRow[]
  runs: RunRow[]
  outcomes: OutcomeRow[]
}

/**
 * Column lists for encoded inserts, in table order. The checks below fail to compile when a row
 * type gains a field that a list lacks.
 */
export const SPAN_COLUMNS = [
  'project_id',
  'timestamp',
  'trace_id',
  'span_id',
  'parent_span_id',
  'trace_state',
  'span_name',
  'span_kind',
  'service_name',
  'resource_attributes',
  'scope_name',
  'scope_version',
  'span_attributes',
  'duration_ns',
  'status_code',
  'status_message',
  'events.timestamp',
  'events.name',
  'events.attributes',
  'links.trace_id',
  'links.span_id',
  'links.trace_state',
  'links.attributes',
  'operation',
  'run_id',
  'agent_id',
  'user_id',
  'conversation_id',
  'request_model',
  'response_model',
  'provider',
  'tool_name',
  'tool_call_id',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'cost_usd',
  'error_type',
] as const satisfies readonly (keyof SpanRow)[]

export const RUN_COLUMNS = [
  'project_id',
  'run_id',
  'trace_id',
  'parent_run_id',
  'agent_id',
  'agent_name',
  'agent_version',
  'user_id',
  'conversation_id',
  'service_name',
  'start_time',
  'duration_ns',
  'status_code',
  'error_type',
  'cost_usd',
] as const satisfies readonly (keyof RunRow)[]

export const OUTCOME_COLUMNS = [
  'project_id',
  'run_id',
  'status',
  'value',
  'unit',
  'reason',
  'recorded_at',
  'source_span_id',
] as const satisfies readonly (keyof OutcomeRow)[]

/**
 * Appended to every insert (spans, runs, outcomes): when the collector first took the request, so
 * a row replayed from the write-ahead log keeps the version it had, and a newer version (a run
 * attribution made since) still wins in the ReplacingMergeTree.
 */
export const INGESTED_AT_COLUMN = 'ingested_at'

type Exhaustive<Row, Listed> = Exclude<keyof Row, Listed> extends never ? true : never
const columnListsAreComplete: [
  Exhaustive<SpanRow, (typeof SPAN_COLUMNS)[number]>,
  Exhaustive<RunRow, (typeof RUN_COLUMNS)[number]>,
  Exhaustive<OutcomeRow, (typeof OUTCOME_COLUMNS)[number]>,
] = [true, true, true]
void columnListsAreComplete
