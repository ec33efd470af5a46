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
    -- The range (midnight of `from` to midnight after `to`, in tz) is the whole UTC days inside it,
    -- read from the per-agent-day rollups, plus the quarter-hours of the partial UTC days at its
    -- ends, read from the per-quarter-hour rollups.
    totals AS (
        SELECT
            agent_id,
            cityHash64(agent_id) AS agent_hash,
            sum(runs) AS agent_runs,
            sum(delivered_runs) AS agent_delivered_runs,
            sum(known_outcome_runs) AS agent_known_outcome_runs,
            sum(cost_usd) AS agent_cost_usd
        FROM (
            SELECT agent_id, runs, delivered_runs, toInt64(known_outcome_runs) AS known_outcome_runs, cost_usd
            FROM (
                SELECT agent_id, runs, delivered_runs, known_outcome_runs, cost_usd
                FROM agent_days FINAL
                WHERE project_id = {project:String}
                  AND agent_id != ''
                  AND ({agent:String} = '' OR agent_id = {agent:String})
                  -- The UTC days wholly inside the range (all of them in UTC).
                  AND day >= toDate(toDateTime({from:Date}, {tz:String}) + 86399, 'UTC')
                  AND day <= toDate(toDateTime({to:Date} + 1, {tz:String}), 'UTC') - 1
            )
            UNION ALL
            SELECT agent_id, runs, delivered_runs, toInt64(runs) - toInt64(unknown_runs), cost_usd
            FROM (
                SELECT agent_id, runs, delivered_runs, unknown_runs, cost_usd
                FROM quarter_totals FINAL
                WHERE project_id = {project:String}
                  -- The per-agent rows (agent_id '' holds the sums over all agents).
                  AND agent_id != ''
                  AND ({agent:String} = '' OR agent_id = {agent:String})
                  -- The range's quarter-hours on the partial UTC days at either end (none in UTC).
                  AND quarter >= toDateTime({from:Date}, {tz:String})
                  AND quarter < toDateTime({to:Date} + 1, {tz:String})
                  AND (quarter < toDateTime(toDate(toDateTime({from:Date}, {tz:String}) + 86399, 'UTC'), 'UTC') OR quarter >= toDateTime(toDate(toDateTime({to:Date} + 1, {tz:String}), 'UTC') - 1 + 1, 'UTC'))
            )
        )
        GROUP BY agent_id
    ),
    unit_totals AS (
        SELECT agent_id, unit, sum(unit_runs) AS runs_in_unit, sum(unit_value) AS value_in_unit
        FROM (
            SELECT agent_id, unit, delivered_runs AS unit_runs, value AS unit_value
            FROM (
                SELECT agent_id, CAST(unit AS String) AS unit, delivered_runs, value
                FROM agent_day_units FINAL
                WHERE project_id = {project:String}
                  AND delivered_runs > 0
                  AND agent_id != ''
                  AND ({agent:String} = '' OR agent_id = {agent:String})
                  -- The UTC days wholly inside the range (all of them in UTC).
                  AND day >= toDate(toDateTime({from:Date}, {tz:String}) + 86399, 'UTC')
                  AND day <= toDate(toDateTime({to:Date} + 1, {tz:String}), 'UTC') - 1
            )
            UNION ALL
            SELECT agent_id, unit, runs, value
            FROM (
                SELECT agent_id, CAST(outcome_unit AS String) AS unit, runs, value
                FROM quarter_outcomes FINAL
                WHERE project_id = {project:String}
                  AND runs > 0
                  -- The per-agent rows (agent_id '' holds the sums over all agents).
                  AND agent_id != ''
                  AND ({agent:String} = '' OR agent_id = {agent:String})
                  -- The range's quarter-hours on the partial UTC days at either end (none in UTC).
                  AND quarter >= toDateTime({from:Date}, {tz:String})
                  AND quarter < toDateTime({to:Date} + 1, {tz:String})
                  AND (quarter < toDateTime(toDate(toDateTime({from:Date}, {tz:String}) + 86399, 'UTC'), 'UTC') OR quarter >= toDateTime(toDate(toDateTime({to:Date} + 1, {tz:String}), 'UTC') - 1 + 1, 'UTC'))
                  AND outcome = 'delivered'
                  AND outcome_unit != ''
            )
        )
        GROUP BY agent_id, unit
    ),
    main_units AS (
        -- The main unit's (unit, value): most delivered runs first, then the alphabetically first unit.
        SELECT agent_id, argMin((unit, value_in_unit), (-toInt64(runs_in_unit), unit)) AS main_unit
        FROM unit_totals
        GROUP BY agent_id
    ),
    people AS (
        -- Each person's row holds their quarter-hours and agents: the agents with one of their
        -- delivered runs in the range are made distinct inside the row, and each agent's people
        -- are then a plain count. Agents are cityHash64(agent_id).
        SELECT agent_hash, count() AS agent_people
        FROM (
            SELECT arrayDistinct(arrayFilter(
                (agent, quarter, served) -> served = 1
                    AND quarter >= toDateTime({from:Date}, {tz:String})
                    AND quarter < toDateTime({to:Date} + 1, {tz:String})
                    AND ({agent:String} = '' OR agent = cityHash64({agent:String})),
                agents, quarters, delivered)) AS served_agents
            FROM person_activity FINAL
            WHERE project_id = {project:String}
        )
        ARRAY JOIN served_agents AS agent_hash
        GROUP BY agent_hash
    )
SELECT
    row_number() OVER (ORDER BY delivered_runs DESC, agent_id ASC) AS rank,
    CAST(totals.agent_id AS String) AS agent_id,
    totals.agent_runs AS runs,
    totals.agent_delivered_runs AS delivered_runs,
    if(totals.agent_known_outcome_runs = 0, 0, delivered_runs / totals.agent_known_outcome_runs) AS delivery_rate,
    totals.agent_cost_usd AS cost_usd,
    if(delivered_runs = 0, 0, cost_usd / delivered_runs) AS cost_per_delivered_usd,
    CAST(main_units.main_unit.1 AS String) AS value_unit,
    main_units.main_unit.2 AS value,
    people.agent_people AS people_served
FROM totals
LEFT JOIN main_units ON main_units.agent_id = totals.agent_id
LEFT JOIN people ON people.agent_hash = totals.agent_hash
ORDER BY rank
