-- name: recent-runs
-- title: Recent runs
-- description: The latest runs started in the range, newest first, with their outcome, cost and calls.
-- definition: Runs started from midnight of `from` to midnight after `to` (in tz), sub-agent runs
--   included, newest first to the second (runs started in the same second: by run id), at most 100.
--   The outcome is the latest recorded one ('unknown' without one); cost and tokens are the run's
--   with every span inside it.
-- param: project String — the project, bound from the API key or the command line, never from the request
-- param: from Date — first calendar day, inclusive
-- param: to Date — last calendar day, inclusive
-- param: tz String — IANA time zone whose calendar days are counted
-- param: agent String — only this agent id; '' for all agents
-- column: started_at String — start time in tz, YYYY-MM-DD hh:mm:ss
-- column: run_id String — the run span's id (hex)
-- column: agent_id String — the agent
-- column: user_id String — the person served; '' when none was given
-- column: outcome String — delivered, partial, failed, abandoned or unknown
-- column: reason String — the outcome's reason; '' when none was given
-- column: value Float64 — the outcome's value (0 without one)
-- column: unit String — the value's unit; '' when none
-- column: duration_ms Float64 — the run span's duration, milliseconds
-- column: cost_usd Float64 — cost of the run, USD
-- column: total_tokens UInt64 — input + output tokens of the run
-- column: llm_calls UInt32 — LLM calls in the run
-- column: tool_calls UInt32 — tool calls in the run
-- column: tool_errors UInt32 — failed tool calls in the run
WITH
    newest_quarters AS (
        -- The range's quarter-hours, newest first, with the runs started in each and after it
        -- (agent_id '' holds the sums over all agents).
        SELECT quarter, runs, sum(runs) OVER (ORDER BY quarter DESC) - runs AS later_runs
        FROM quarter_totals FINAL
        WHERE project_id = {project:String}
          AND agent_id = {agent:String}
          AND quarter >= toDateTime({from:Date}, {tz:String})
          AND quarter < toDateTime({to:Date} + 1, {tz:String})
    ),
    cutoff AS (
        -- The oldest quarter-hour that still holds one of the 100 newest runs: run_facts is read
        -- from there on only (it is sorted by quarter-hour), not over the whole range.
        SELECT min(quarter) FROM newest_quarters WHERE runs > 0 AND later_runs < 100
    )
SELECT
    formatDateTime(start_time, '%Y-%m-%d %H:%i:%S', {tz:String}) AS started_at,
    run_id,
    CAST(agent_id AS String) AS agent_id,
    user_id,
    CAST(outcome AS String) AS outcome,
    outcome_reason AS reason,
    outcome_value AS value,
    CAST(outcome_unit AS String) AS unit,
    duration_ns / 1e6 AS duration_ms,
    cost_usd,
    input_tokens + output_tokens AS total_tokens,
    llm_calls,
    tool_calls,
    tool_errors
FROM run_facts FINAL
WHERE project_id = {project:String}
  AND ({agent:String} = '' OR agent_id = {agent:String})
  -- Midnight of `from` to midnight after `to` in tz.
  AND start_time >= toDateTime({from:Date}, {tz:String})
  AND start_time < toDateTime({to:Date} + 1, {tz:String})
  AND toStartOfFifteenMinutes(start_time) >= (SELECT * FROM cutoff)
ORDER BY start_time DESC, run_id ASC
LIMIT 100
