-- name: agent-lifecycle
-- title: Agent lifecycle
-- description: Per day, how many delivering agents are new, returning or resurrecting, and how many went dormant.
-- definition: Growth accounting on delivering days (days with at least one delivered run, in tz,
--   the DAA definition), over the whole retained history:
--   new = the agent's first delivering day ever is d;
--   returning = it delivers on d and also delivered on d-1;
--   resurrecting = it delivers on d, not on d-1, and delivered on some day before d-1;
--   dormant = it delivered on d-1 but not on d (counted positive on d; chart it negative).
--   new + returning + resurrecting = DAA. An agent is in exactly one of the first three on a day it
--   delivers, and dormant on the first day of each gap.
-- param: project String — the project, bound from the API key or the command line, never from the request
-- param: from Date — first calendar day, inclusive
-- param: to Date — last calendar day, inclusive
-- param: tz String — IANA time zone whose calendar days are counted
-- param: agent String — only this agent id; '' for all agents
-- column: day Date — calendar day in tz
-- column: new_agents UInt64 — agents delivering for the first time
-- column: returning_agents UInt64 — agents delivering that day and the day before
-- column: resurrecting_agents UInt64 — agents delivering again after at least one day without
-- column: dormant_agents UInt64 — agents that delivered the day before but not that day
-- column: daa UInt64 — new + returning + resurrecting
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
    neighbours AS (
        -- Each agent's delivering days in order, each beside the one before and the one after
        -- (1970-01-01 when there is none: they are compared to day ± 1 only, and no real day is 1970).
        -- Grouped into arrays rather than windows over agents: 60 ms less at 10M runs.
        SELECT day, previous_day, next_day, position = 1 AS is_first
        FROM (
            SELECT arraySort(groupArray(day)) AS days
            FROM delivering_days
            GROUP BY agent_id
        )
        ARRAY JOIN
            days AS day,
            arrayPushFront(arrayPopBack(days), toDate(0)) AS previous_day,
            arrayPushBack(arrayPopFront(days), toDate(0)) AS next_day,
            arrayEnumerate(days) AS position
    ),
    states AS (
        -- Each delivering day gives the agent's state that day, and the day after a delivering
        -- day without a delivery the next day gives a dormant agent.
        SELECT tupleElement(event, 1) AS event_day, tupleElement(event, 2) AS state
        FROM neighbours
        ARRAY JOIN arrayConcat(
            [(day, multiIf(is_first, 'new', previous_day = day - 1, 'returning', 'resurrecting'))],
            if(next_day = day + 1, [], [(day + 1, 'dormant')])
        ) AS event
    )
SELECT
    event_day AS day,
    countIf(state = 'new') AS new_agents,
    countIf(state = 'returning') AS returning_agents,
    countIf(state = 'resurrecting') AS resurrecting_agents,
    countIf(state = 'dormant') AS dormant_agents,
    new_agents + returning_agents + resurrecting_agents AS daa
FROM states
WHERE event_day >= {from:Date} AND event_day <= {to:Date}
GROUP BY day
ORDER BY day WITH FILL FROM {from:Date} TO {to:Date} + 1
