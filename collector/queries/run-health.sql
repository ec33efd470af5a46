-- name: run-health
-- title: Run health
-- description: Run latency percentiles, LLM and tool calls per run, and the tool error rate, per day.
-- definition: Over runs started that day (in tz), sub-agent runs included. Latency is the run span's
--   duration, kept in log-linear buckets (64 per power of two, named by their middle: within 0.78%
--   of every duration in them); a percentile is the bucket of the duration at 0-based position
--   floor(level × n) of the day's sorted durations (ClickHouse quantileExact's rank). LLM calls
--   are spans with operation chat, generate_content or text_completion, tool calls spans with
--   execute_tool, counted toward the run they belong to; tool error rate = failed tool calls (status
--   ERROR or an error type) / tool calls. Zeros on days without runs or tool calls.
-- param: project String — the project, bound from the API key or the command line, never from the request
-- param: from Date — first calendar day, inclusive
-- param: to Date — last calendar day, inclusive
-- param: tz String — IANA time zone whose calendar days are counted
-- param: agent String — only this agent id; '' for all agents
-- column: day Date — calendar day in tz
-- column: runs UInt64 — runs started that day
-- column: error_runs UInt64 — runs whose span status is ERROR
-- column: latency_p50_ms Float64 — median run duration, milliseconds
-- column: latency_p95_ms Float64 — 95th percentile run duration, milliseconds
-- column: latency_p99_ms Float64 — 99th percentile run duration, milliseconds
-- column: llm_calls_per_run Float64 — LLM calls / runs
-- column: tool_calls_per_run Float64 — tool calls / runs
-- column: tool_calls UInt64 — tool calls
-- column: tool_errors UInt64 — failed tool calls
-- column: tool_error_rate Float64 — tool_errors / tool_calls; 0 without tool calls
SELECT
    day,
    day_runs AS runs,
    day_error_runs AS error_runs,
    latency_ns[1] / 1e6 AS latency_p50_ms,
    latency_ns[2] / 1e6 AS latency_p95_ms,
    latency_ns[3] / 1e6 AS latency_p99_ms,
    if(runs = 0, 0, llm_call_count / runs) AS llm_calls_per_run,
    if(runs = 0, 0, tool_call_count / runs) AS tool_calls_per_run,
    tool_call_count AS tool_calls,
    tool_error_count AS tool_errors,
    if(tool_call_count = 0, 0, tool_error_count / tool_call_count) AS tool_error_rate
FROM (
    SELECT
        toDate(quarter, {tz:String}) AS day,
        sum(runs) AS day_runs,
        sum(error_runs) AS day_error_runs,
        -- The day's runs per duration bucket (in bucket order), added up from its quarter-hours.
        sumMap(run_duration_buckets) AS day_buckets,
        -- The duration at 0-based position floor(level × n) is in the first bucket whose running
        -- count of runs passes that position.
        arrayMap(level -> mapKeys(day_buckets)[arrayFirstIndex(
                up_to -> up_to > floor(level * day_runs), arrayCumSum(mapValues(day_buckets)))],
            [0.5, 0.95, 0.99]) AS latency_ns,
        sum(llm_calls) AS llm_call_count,
        sum(tool_calls) AS tool_call_count,
        sum(tool_errors) AS tool_error_count
    FROM quarter_totals FINAL
    WHERE project_id = {project:String}
      -- agent_id '' holds the sums over all agents.
      AND agent_id = {agent:String}
      -- Midnight of `from` to midnight after `to` in tz: whole quarter-hours in every time zone.
      AND quarter >= toDateTime({from:Date}, {tz:String})
      AND quarter < toDateTime({to:Date} + 1, {tz:String})
    GROUP BY day
)
-- Days without runs: the filled rows have an empty latency array, hence the zeros of the outer query.
ORDER BY day WITH FILL FROM {from:Date} TO {to:Date} + 1
