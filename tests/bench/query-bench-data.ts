/**
 * The query bench's data, generated inside ClickHouse with INSERT … SELECT FROM numbers(): every
 * value is a pure function of the run's index, so the data is the same on every run.
 */
import type { Store } from '../../collector/src/index.js'

export interface BenchDataOptions {
  runs: number
  agents: number
  people: number
  days: number
  project: string
  /** First day, YYYY-MM-DD (UTC). */
  firstDay: string
  /** Spans per run, the run span included (about 10 in a realistic trace). */
  spansPerRun: number
}

function statements(options: BenchDataOptions) {
  const { runs: RUNS, agents: AGENTS, people: PEOPLE, days: DAYS, project: PROJECT } = options
  const FIRST_DAY_NS = BigInt(Date.parse(`${options.firstDay}T00:00:00Z`)) * 1_000_000n
  /** Every expression below is a pure function of `number` (the run's index), so the data is repeatable. */
  const RUN_FIELDS = `
    leftPad(lower(hex(number)), 16, '0') AS run_hex,
    'agent-' || toString(cityHash64(number, 'agent') % ${AGENTS}) AS agent,
    'person-' || toString(cityHash64(number, 'person') % ${PEOPLE}) AS person,
    -- Runs spread evenly over the 30 days, each at its own nanosecond.
    toInt64(${FIRST_DAY_NS}) + toInt64(number) * ${(BigInt(DAYS) * 86_400_000_000_000n) / BigInt(RUNS)} AS start_ns,
    100000000 + cityHash64(number, 'duration') % 60000000000 AS run_duration_ns,
    cityHash64(number, 'outcome') % 100 AS outcome_roll`

  const INSERT_RUNS = `
INSERT INTO runs (project_id, run_id, trace_id, parent_run_id, agent_id, agent_name, agent_version, user_id,
                  conversation_id, service_name, start_time, duration_ns, status_code, error_type, cost_usd)
SELECT '${PROJECT}', run_hex, leftPad(run_hex, 32, '0'), '', agent, agent, '1.0.0', person, '', 'bench',
       fromUnixTimestamp64Nano(start_ns), run_duration_ns,
       if(cityHash64(number, 'error') % 50 = 0, 'ERROR', 'OK'), '', (cityHash64(number, 'cost') % 100) / 10000
FROM (SELECT number, ${RUN_FIELDS} FROM numbers({first:UInt64}, {count:UInt64}))`

  /**
   * Per run: its invoke_agent span, then LLM calls and tool calls in turn (a tenth of the tool calls
   * failing): `spansPerRun` spans in all (10 by default: the agent, 5 LLM calls, 4 tool calls).
   */
  const INSERT_SPANS = `
INSERT INTO spans (project_id, timestamp, trace_id, span_id, parent_span_id, span_name, span_kind, service_name,
                   duration_ns, status_code, operation, run_id, agent_id, user_id, request_model, tool_name,
                   input_tokens, output_tokens, cost_usd, error_type)
SELECT '${PROJECT}', fromUnixTimestamp64Nano(start_ns + span_index * 1000000), leftPad(run_hex, 32, '0'),
       if(role = 0, run_hex, leftPad(lower(hex(number * 16 + span_index)), 16, '1')),
       if(role = 0, '', run_hex),
       ['invoke_agent bench', 'chat gpt-5', 'execute_tool search'][role + 1], 'INTERNAL', 'bench',
       if(role = 0, run_duration_ns, 50000000),
       if(role = 2 AND cityHash64(number, span_index, 'tool') % 10 = 0, 'ERROR', 'OK'),
       ['invoke_agent', 'chat', 'execute_tool'][role + 1], run_hex, agent, person,
       if(role = 1, 'gpt-5', ''), if(role = 2, 'search', ''),
       if(role = 1, 500 + cityHash64(number, span_index, 'in') % 4000, 0),
       if(role = 1, 50 + cityHash64(number, span_index, 'out') % 800, 0),
       if(role = 1, (cityHash64(number, span_index, 'llm') % 1000) / 100000, 0), ''
FROM (SELECT number, ${RUN_FIELDS} FROM numbers({first:UInt64}, {count:UInt64}))
-- Span 0 is the run; odd spans are LLM calls, even ones tool calls.
ARRAY JOIN range(${options.spansPerRun}) AS span_index
ARRAY JOIN [if(span_index = 0, 0, if(span_index % 2 = 1, 1, 2))] AS role`

  /** 80% of runs get an outcome on the run span; 5% a late outcome an hour later that may change it. */
  const INSERT_OUTCOMES = `
INSERT INTO outcomes (project_id, run_id, status, value, unit, reason, recorded_at, source_span_id)
SELECT '${PROJECT}', run_hex, status, if(status = 'delivered', (cityHash64(number, 'value') % 10000) / 100, 0),
       if(status = 'delivered', if(cityHash64(number, 'unit') % 10 < 7, 'USD', 'tickets'), ''),
       if(status IN ('failed', 'abandoned'), ['timeout', 'tool error', 'user left'][cityHash64(number, 'why') % 3 + 1], ''),
       fromUnixTimestamp64Nano(start_ns + run_duration_ns + late * 3600000000000), if(late = 0, run_hex, 'late' || run_hex)
FROM (
    SELECT number, run_hex, start_ns, run_duration_ns, late,
           if(late = 1, if(cityHash64(number, 'late') % 2 = 0, 'delivered', 'failed'),
              multiIf(outcome_roll < 50, 'delivered', outcome_roll < 60, 'partial', outcome_roll < 72, 'failed', 'abandoned')) AS status
    FROM (SELECT number, ${RUN_FIELDS} FROM numbers({first:UInt64}, {count:UInt64}))
    ARRAY JOIN [0, 1] AS late
    WHERE (late = 0 AND outcome_roll < 80) OR (late = 1 AND cityHash64(number, 'late?') % 20 = 0)
)`

  return { INSERT_RUNS, INSERT_SPANS, INSERT_OUTCOMES }
}

/** Loads runs, spans and outcomes (2 million runs per statement), then retries 1% of the runs. */
export async function loadBenchData(store: Store, options: BenchDataOptions): Promise<void> {
  const { INSERT_RUNS, INSERT_SPANS, INSERT_OUTCOMES } = statements(options)
  const RUNS = options.runs

  const chunk = 2_000_000
  for (let first = 0; first < RUNS; first += chunk) {
    const params = { first, count: Math.min(chunk, RUNS - first) }
    await store.command(INSERT_RUNS, params)
    await store.command(INSERT_SPANS, params)
    await store.command(INSERT_OUTCOMES, params)
  }
  // A retried batch: 1% of runs and their outcomes inserted a second time.
  await store.command(`${INSERT_RUNS.replace('{count:UInt64})', '{count:UInt64}) WHERE number % 100 = 0')}`, {
    first: 0,
    count: RUNS,
  })
}
