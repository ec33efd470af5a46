-- The agents' delivering days over all history, included where a saved query says
-- `-- include: delivering-days.sql` as the first members of its WITH clause (agent-lifecycle and
-- agent-retention; written out there as calendar-slices.sql is).
--
-- `delivering_days` has one row per agent and calendar day in {tz}, up to {to}, on which the agent
-- started a run that was delivered (optionally only {agent}). The CTE ends with a comma.
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
    -- include: calendar-slices.sql
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
