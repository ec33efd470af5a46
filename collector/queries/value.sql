-- name: value
-- title: Value delivered, value per 1k tokens, ROI
-- description: Value reported by delivered runs, per day and unit, against the day's tokens and cost.
-- definition: Value = sum of `daa.outcome.value` over runs started that day (in tz) whose outcome is
--   delivered, per `daa.outcome.unit`; delivered runs that report no unit are left out. The value is
--   set against everything spent that day, like cost per outcome: value per 1k tokens = value /
--   (input + output tokens of all runs that day) × 1000, and ROI = value / cost of all runs that day
--   in USD. ROI is given only for currency units (three capital letters, ISO 4217 style: USD, EUR…)
--   and is NULL for other units; for a currency other than USD it is value in that currency per USD
--   spent. Ratios are 0 when their denominator is 0. Every unit seen in the range gets a row for
--   every day.
-- param: project String — the project, bound from the API key or the command line, never from the request
-- param: from Date — first calendar day, inclusive
-- param: to Date — last calendar day, inclusive
-- param: tz String — IANA time zone whose calendar days are counted
-- param: agent String — only this agent id; '' for all agents
-- column: day Date — calendar day in tz
-- column: unit String — the unit the value is reported in
-- column: delivered_runs UInt64 — delivered runs that reported value in this unit
-- column: value Float64 — sum of their values
-- column: total_tokens UInt64 — input + output tokens of all runs that day
-- column: cost_usd Float64 — cost of all runs that day, USD
-- column: value_per_1k_tokens Float64 — value / total_tokens × 1000; 0 without tokens
-- column: roi Nullable(Float64) — value / cost_usd for currency units; 0 without cost; NULL for other units
WITH
    spend_by_day AS (
        SELECT toDate(quarter, {tz:String}) AS day, sum(input_tokens + output_tokens) AS total_tokens, sum(cost_usd) AS day_cost_usd
        FROM quarter_totals FINAL
        WHERE project_id = {project:String}
          -- agent_id '' holds the sums over all agents.
          AND agent_id = {agent:String}
          -- Midnight of `from` to midnight after `to` in tz: whole quarter-hours in every time zone.
          AND quarter >= toDateTime({from:Date}, {tz:String})
          AND quarter < toDateTime({to:Date} + 1, {tz:String})
        GROUP BY day
    ),
    value_by_day AS (
        SELECT toDate(quarter, {tz:String}) AS day, outcome_unit AS unit, sum(runs) AS delivered_runs, sum(value) AS unit_value
        FROM quarter_outcomes FINAL
        WHERE project_id = {project:String}
          AND runs > 0
          -- agent_id '' holds the sums over all agents.
          AND agent_id = {agent:String}
          -- Midnight of `from` to midnight after `to` in tz: whole quarter-hours in every time zone.
          AND quarter >= toDateTime({from:Date}, {tz:String})
          AND quarter < toDateTime({to:Date} + 1, {tz:String})
          AND outcome = 'delivered'
          AND outcome_unit != ''
        GROUP BY day, unit
    ),
    -- Every (day, unit) pair, so days without value appear as zeros.
    grid AS (
        SELECT toDate({from:Date} + number) AS day, unit
        FROM numbers(toUInt64(dateDiff('day', {from:Date}, {to:Date}) + 1)) AS calendar
        CROSS JOIN (SELECT DISTINCT unit FROM value_by_day) AS units
    )
SELECT
    grid.day AS day,
    CAST(grid.unit AS String) AS unit,
    value_by_day.delivered_runs AS delivered_runs,
    value_by_day.unit_value AS value,
    spend_by_day.total_tokens AS total_tokens,
    spend_by_day.day_cost_usd AS cost_usd,
    if(total_tokens = 0, 0, value / total_tokens * 1000) AS value_per_1k_tokens,
    if(match(unit, '^[A-Z]{3}$'), toNullable(if(cost_usd = 0, 0, value / cost_usd)), NULL) AS roi
FROM grid
LEFT JOIN value_by_day ON value_by_day.day = grid.day AND value_by_day.unit = grid.unit
LEFT JOIN spend_by_day ON spend_by_day.day = grid.day
ORDER BY unit, day
