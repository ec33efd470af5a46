-- name: daa
-- title: Daily Active Agents
-- description: Agents that delivered, and agents that worked, on each calendar day.
-- definition: DAA counts the agents with at least one run whose outcome is `delivered` on that
--   day; working agents counts the agents with at least one run of any outcome. A run belongs to
--   the calendar day (in tz) on which it started, and its outcome is the latest one recorded for it,
--   so a late outcome moves the run's status but never its day. Sub-agent runs are runs of their own
--   agent; a run without an agent id counts toward runs but is no agent's. Days without runs appear
--   with zeros.
-- param: project String — the project, bound from the API key or the command line, never from the request
-- param: from Date — first calendar day, inclusive
-- param: to Date — last calendar day, inclusive
-- param: tz String — IANA time zone whose calendar days are counted, e.g. UTC or Asia/Kolkata
-- param: agent String — only this agent id; '' for all agents
-- column: day Date — calendar day in tz
-- column: daa UInt64 — agents with at least one delivered run that day
-- column: working_agents UInt64 — agents with at least one run that day
-- column: runs UInt64 — runs started that day
-- column: delivered_runs UInt64 — runs started that day whose outcome is delivered
WITH
    -- The calendar days in tz whose slices (calendar-slices.sql) the query needs.
    {from:Date} AS calendar_from,
    {to:Date} AS calendar_to,
    utc_days AS (
        -- The UTC days that overlap the calendar days from … to in tz.
        SELECT toDate(toDateTime({from:Date}, {tz:String}), 'UTC') + number AS utc_day
        FROM numbers(toUInt64(dateDiff('day',
            toDate(toDateTime({from:Date}, {tz:String}), 'UTC'),
            toDate(toDateTime({to:Date} + 1, {tz:String}) - 1, 'UTC')) + 1))
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
    agent_slices AS (
        -- Per agent and (UTC day, calendar day) slice: did the agent start a run, and a delivered one,
        -- in that calendar day for the first time in this slice? A calendar day spans at most two UTC
        -- days; an agent active in both counts on the first, found in the row's `…_before` bitmaps.
        -- So each agent counts once per calendar day, without grouping by agent.
        SELECT
            s.local_day AS day,
            bitShiftRight(bitShiftLeft(a.worked, 128 - s.end_quarter), 128 - s.end_quarter + s.first_quarter) != 0
                AND NOT (s.previous_first_quarter < 96
                    AND bitShiftRight(bitShiftLeft(a.worked_before, 128 - 96), 128 - 96 + s.previous_first_quarter) != 0) AS first_run_here,
            bitShiftRight(bitShiftLeft(a.delivered, 128 - s.end_quarter), 128 - s.end_quarter + s.first_quarter) != 0
                AND NOT (s.previous_first_quarter < 96
                    AND bitShiftRight(bitShiftLeft(a.delivered_before, 128 - 96), 128 - 96 + s.previous_first_quarter) != 0) AS first_delivery_here
        FROM agent_days AS a FINAL
        INNER JOIN slices AS s ON s.utc_day = a.day
        WHERE a.project_id = {project:String}
          AND a.day >= toDate(toDateTime({from:Date}, {tz:String}), 'UTC')
          AND a.day <= toDate(toDateTime({to:Date} + 1, {tz:String}) - 1, 'UTC')
          AND ({agent:String} = '' OR a.agent_id = {agent:String})
    ),
    agents_by_day AS (
        SELECT day, countIf(first_delivery_here) AS daa, countIf(first_run_here) AS working_agents
        FROM agent_slices
        GROUP BY day
    ),
    runs_by_day AS (
        -- Midnight of `from` to midnight after `to`, both in tz (23 or 25 hours on DST days), in whole
        -- quarter-hours; agent_id '' holds the sums over all agents.
        SELECT toDate(quarter, {tz:String}) AS day, sum(runs) AS runs, sum(delivered_runs) AS delivered_runs
        FROM quarter_totals FINAL
        WHERE project_id = {project:String}
          AND agent_id = {agent:String}
          AND quarter >= toDateTime({from:Date}, {tz:String})
          AND quarter < toDateTime({to:Date} + 1, {tz:String})
        GROUP BY day
    ),
    calendar AS (
        SELECT toDate({from:Date} + number) AS day
        FROM numbers(toUInt64(dateDiff('day', {from:Date}, {to:Date}) + 1))
    )
SELECT
    calendar.day AS day,
    agents_by_day.daa AS daa,
    agents_by_day.working_agents AS working_agents,
    runs_by_day.runs AS runs,
    runs_by_day.delivered_runs AS delivered_runs
FROM calendar
LEFT JOIN agents_by_day ON agents_by_day.day = calendar.day
LEFT JOIN runs_by_day ON runs_by_day.day = calendar.day
ORDER BY day
