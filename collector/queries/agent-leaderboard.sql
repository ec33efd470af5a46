-- name: agent-leaderboard
-- title: Agent leaderboard
-- description: Each agent's runs, deliveries, delivery rate, cost per outcome and value over the range.
-- definition: Over runs started in the range (calendar days in tz). delivery_rate = delivered /
--   runs with a known outcome; cost_per_delivered_usd = cost of all the agent's runs / delivered
--   runs (0 without deliveries); value is the sum of delivered values in the agent's main unit: the
--   unit with the most delivered runs (ties: alphabetically first), '' when it reported none.
--   Ranked by delivered runs (most first), then agent id. Agents without runs in the range are absent.
-- param: project String — the project, bound from the API key or the command line, never from the request
-- param: from Date — first calendar day, inclusive
-- param: to Date — last calendar day, inclusive
-- param: tz String — IANA time zone whose calendar days are counted
-- param: agent String — only this agent id; '' for all agents
-- column: rank UInt64 — 1 for the agent with the most delivered runs
-- column: agent_id String — the agent
-- column: runs UInt64 — its runs
-- column: delivered_runs UInt64 — its delivered runs
-- column: delivery_rate Float64 — delivered_runs / runs with a known outcome; 0 without any
-- column: cost_usd Float64 — cost of all its runs, USD
-- column: cost_per_delivered_usd Float64 — cost_usd / delivered_runs; 0 without deliveries
-- column: value_unit String — its main value unit; '' when none
-- column: value Float64 — delivered value in value_unit
-- column: people_served UInt64 — distinct user ids with one of its delivered runs
WITH
    by_agent_and_unit AS (
        -- Delivered runs with a unit group by that unit; every other run falls under ''.
        SELECT
            agent_id,
            if(outcome = 'delivered', outcome_unit, '') AS unit,
            count() AS runs,
            countIf(outcome = 'delivered') AS delivered_runs,
            countIf(outcome != 'unknown') AS known_outcome_runs,
            countIf(outcome = 'delivered' AND outcome_unit != '') AS delivered_with_unit,
            sum(cost_usd) AS cost_usd,
            sumIf(outcome_value, outcome = 'delivered') AS delivered_value,
            uniqExactStateIf(user_id, outcome = 'delivered' AND user_id != '') AS people_state
        FROM run_facts FINAL
        WHERE project_id = {project:String}
          AND start_time >= toDateTime({from:Date}, {tz:String})
          AND start_time < toDateTime({to:Date} + 1, {tz:String})
          AND ({agent:String} = '' OR agent_id = {agent:String})
        GROUP BY agent_id, unit
    ),
    by_agent AS (
        SELECT
            agent_id,
            sum(runs) AS runs,
            sum(delivered_runs) AS delivered_runs,
            sum(known_outcome_runs) AS known_outcome_runs,
            sum(cost_usd) AS cost_usd,
            -- Most delivered runs first, then the alphabetically first unit.
            -- The main unit's (unit, value): most delivered runs first, then the alphabetically first unit.
            argMinIf((unit, delivered_value), (-toInt64(delivered_with_unit), unit), unit != '') AS main_unit,
            uniqExactMerge(people_state) AS people_served
        FROM by_agent_and_unit
        GROUP BY agent_id
    )
SELECT
    row_number() OVER (ORDER BY delivered_runs DESC, agent_id ASC) AS rank,
    CAST(agent_id AS String) AS agent_id,
    runs,
    delivered_runs,
    if(known_outcome_runs = 0, 0, delivered_runs / known_outcome_runs) AS delivery_rate,
    cost_usd,
    if(delivered_runs = 0, 0, cost_usd / delivered_runs) AS cost_per_delivered_usd,
    CAST(main_unit.1 AS String) AS value_unit,
    main_unit.2 AS value,
    people_served
FROM by_agent
ORDER BY rank
