-- name: cost-per-outcome
-- title: Cost and tokens per delivered outcome
-- description: What each delivered outcome cost, in USD and in tokens, per day.
-- definition: The cost of ALL runs started that day (failed, abandoned and unknown ones too)
--   divided by the delivered runs of that day; the same for tokens. A run's cost is its run span's
--   own cost plus the cost of every span that counts toward it (a sub-agent's spans count toward the
--   sub-agent's run). Tokens are input + output tokens of LLM calls (input includes cached tokens,
--   output includes reasoning tokens). Per-outcome figures are 0 on days without a delivered run.
-- param: project String — the project, bound from the API key or the command line, never from the request
-- param: from Date — first calendar day, inclusive
-- param: to Date — last calendar day, inclusive
-- param: tz String — IANA time zone whose calendar days are counted
-- param: agent String — only this agent id; '' for all agents
-- column: day Date — calendar day in tz
-- column: runs UInt64 — runs started that day
-- column: delivered_runs UInt64 — runs whose outcome is delivered
-- column: cost_usd Float64 — cost of all runs of that day, USD
-- column: cost_per_delivered_usd Float64 — cost_usd / delivered_runs; 0 without delivered runs
-- column: input_tokens UInt64 — input tokens of all runs (cached included)
-- column: output_tokens UInt64 — output tokens of all runs (reasoning included)
-- column: total_tokens UInt64 — input_tokens + output_tokens
-- column: tokens_per_delivered Float64 — total_tokens / delivered_runs; 0 without delivered runs
SELECT
    toDate(quarter, {tz:String}) AS day,
    sum(runs) AS runs,
    sum(delivered_runs) AS delivered_runs,
    sum(cost_usd) AS cost_usd,
    if(delivered_runs = 0, 0, cost_usd / delivered_runs) AS cost_per_delivered_usd,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    input_tokens + output_tokens AS total_tokens,
    if(delivered_runs = 0, 0, total_tokens / delivered_runs) AS tokens_per_delivered
FROM quarter_totals FINAL
WHERE project_id = {project:String}
  -- agent_id '' holds the sums over all agents.
  AND agent_id = {agent:String}
  -- Midnight of `from` to midnight after `to` in tz: whole quarter-hours in every time zone.
  AND quarter >= toDateTime({from:Date}, {tz:String})
  AND quarter < toDateTime({to:Date} + 1, {tz:String})
GROUP BY day
ORDER BY day WITH FILL FROM {from:Date} TO {to:Date} + 1
