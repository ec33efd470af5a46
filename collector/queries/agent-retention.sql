-- name: agent-retention
-- title: Agent retention cohorts
-- description: Agents grouped by their first delivering day; the share still delivering N days later.
-- definition: An agent's cohort is its first delivering day ever (first day, in tz, with a delivered
--   run), for cohorts from `from` to `to`. Retained on offset N = the cohort's agents that delivered
--   on exactly day cohort_day + N (N = 0 is the whole cohort). One row per cohort day and offset with
--   cohort_day + N <= `to`, zeros included; retention_rate is 0 for an empty cohort.
-- param: project String — the project, bound from the API key or the command line, never from the request
-- param: from Date — first cohort day, inclusive
-- param: to Date — last calendar day observed, inclusive
-- param: tz String — IANA time zone whose calendar days are counted
-- param: agent String — only this agent id; '' for all agents
-- column: cohort_day Date — the first delivering day of the cohort's agents
-- column: day_offset UInt32 — days after cohort_day
-- column: cohort_agents UInt64 — agents whose first delivering day is cohort_day
-- column: retained_agents UInt64 — of those, agents that delivered on cohort_day + day_offset
-- column: retention_rate Float64 — retained_agents / cohort_agents; 0 for an empty cohort
WITH
    -- include: delivering-days.sql
    agents AS (
        -- Each agent's delivering days up to `to`, over all history (the cohort is the first ever).
        SELECT agent_id, groupArray(day) AS days, arrayMin(days) AS cohort_day
        FROM delivering_days
        GROUP BY agent_id
        HAVING cohort_day >= {from:Date}
    ),
    retained AS (
        SELECT cohort_day, toUInt32(dateDiff('day', cohort_day, day)) AS day_offset, count() AS retained_agents
        FROM agents
        ARRAY JOIN days AS day
        GROUP BY cohort_day, day_offset
    ),
    grid AS (
        -- Every cohort day in range, with every offset that reaches no later than `to`.
        SELECT toDate({from:Date} + number) AS cohort_day,
               arrayJoin(range(toUInt32(dateDiff('day', {from:Date}, {to:Date}) + 1 - number))) AS day_offset
        FROM numbers(toUInt64(dateDiff('day', {from:Date}, {to:Date}) + 1))
    ),
    joined AS (
        SELECT grid.cohort_day AS cohort_day, grid.day_offset AS day_offset, retained.retained_agents AS retained_agents
        FROM grid
        LEFT JOIN retained ON retained.cohort_day = grid.cohort_day AND retained.day_offset = grid.day_offset
    )
SELECT
    cohort_day,
    day_offset,
    -- Every agent delivered on its cohort day, so the offset-0 count is the cohort's size.
    toUInt64(sumIf(retained_agents, day_offset = 0) OVER (PARTITION BY cohort_day)) AS cohort_agents,
    retained_agents,
    if(cohort_agents = 0, 0, retained_agents / cohort_agents) AS retention_rate
FROM joined
ORDER BY cohort_day, day_offset
