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
    -- include: delivering-days.sql (copied from fragments/ by `npm run docs`: edit it there)
    -- The calendar days in tz whose slices (calendar-slices.sql) the query needs.
    toDate(0) AS calendar_from,
    {to:Date} AS calendar_to,
    utc_days AS (
        -- Every UTC day of the project's history up to the one that holds the end of `to` in tz:
        -- the days of the all-agents quarter-hour rows (96 a day, the front of quarter_totals' key),
        -- a superset of the agents' days. Read from agent_days, FINAL would merge every agent's row
        -- of every day for 30 distinct values (80–90 ms of each query at 10M runs; metric-layer.md).
        SELECT DISTINCT toDate(quarter) AS utc_day
        FROM quarter_totals FINAL
        WHERE project_id = {project:String} AND agent_id = ''
          AND quarter < toDateTime(toDate(toDateTime({to:Date} + 1, {tz:String}) - 1, 'UTC') + 1, 'UTC')
    ),
    -- include: calendar-slices.sql (copied from fragments/ by `npm run docs`: edit it there)
    slices AS (
        -- Each UTC day with each calendar day in tz it overlaps, and the quarter-hours
        -- [first_quarter, end_quarter) of the UTC day that belong to that calendar day. Every offset
        -- in use is a multiple of 15 minutes, so a calendar day (23, 24 or 25 hours) is whole quarters.
        SELECT
            utc_day,
            local_day,
            toUInt8(greatest(0, intDiv(dateDiff('minute', toDateTime(utc_day, 'UTC'), toDateTime(local_day, {tz:String})), 15))) AS first_quarter,
            toUInt8(least(96, intDiv(dateDiff('minute', toDateTime(utc_day, 'UTC'), toDateTime(local_day + 1, {tz:String})), 15))) AS end_quarter,
            -- When the calendar day began on the previous UTC day: its first quarter-hour there
            -- (the day's quarters on that UTC day are [previous_first_quarter, 96)); else 96.
            toUInt8(if(toDateTime(local_day, {tz:String}) < toDateTime(utc_day, 'UTC'),
                intDiv(dateDiff('minute', toDateTime(utc_day - 1, 'UTC'), toDateTime(local_day, {tz:String})), 15),
                96)) AS previous_first_quarter
        FROM (
            SELECT
                utc_day,
                toDate(toDateTime(utc_day, 'UTC'), {tz:String}) AS first_local_day,
                first_local_day + arrayJoin(range(toUInt64(dateDiff('day', first_local_day,
                    toDate(toDateTime(utc_day, 'UTC') + 86399, {tz:String})) + 1))) AS local_day
            FROM utc_days
        )
        WHERE local_day >= calendar_from AND local_day <= calendar_to
    ),
    -- end include: calendar-slices.sql
    delivering_days AS (
        -- One row per agent and calendar day in tz on which it started a run that was delivered: a
        -- bit in [first_quarter, end_quarter) of one of the UTC days' `delivered` bitmaps. A calendar
        -- day spans at most two UTC days; an agent that delivered in both is taken from the first
        -- (seen in the row's `delivered_before`), so the rows are unique without grouping by agent.
        SELECT a.agent_id AS agent_id, s.local_day AS day
        FROM agent_days AS a FINAL
        INNER JOIN slices AS s ON s.utc_day = a.day
        WHERE a.project_id = {project:String}
          AND a.day <= toDate(toDateTime({to:Date} + 1, {tz:String}) - 1, 'UTC')
          AND ({agent:String} = '' OR a.agent_id = {agent:String})
          AND bitShiftRight(bitShiftLeft(a.delivered, 128 - s.end_quarter), 128 - s.end_quarter + s.first_quarter) != 0
              AND NOT (s.previous_first_quarter < 96
                  AND bitShiftRight(bitShiftLeft(a.delivered_before, 128 - 96), 128 - 96 + s.previous_first_quarter) != 0)
    ),
    -- end include: delivering-days.sql
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
