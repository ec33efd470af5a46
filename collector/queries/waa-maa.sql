-- name: waa-maa
-- title: Weekly and monthly active agents, stickiness
-- description: DAA with its trailing 7-day (WAA) and 30-day (MAA) counterparts and stickiness DAA / MAA.
-- definition: WAA on day d counts the agents with at least one delivered run on any of the 7
--   calendar days d-6 … d (in tz); MAA the same over the 30 days d-29 … d. Stickiness = DAA / MAA,
--   0 when MAA is 0. Runs belong to their start day; the latest recorded outcome counts.
-- param: project String — the project, bound from the API key or the command line, never from the request
-- param: from Date — first calendar day, inclusive
-- param: to Date — last calendar day, inclusive
-- param: tz String — IANA time zone whose calendar days are counted
-- param: agent String — only this agent id; '' for all agents
-- column: day Date — calendar day in tz
-- column: daa UInt64 — agents with a delivered run that day
-- column: waa UInt64 — agents with a delivered run in the 7 days ending that day
-- column: maa UInt64 — agents with a delivered run in the 30 days ending that day
-- column: stickiness Float64 — daa / maa; 0 when maa is 0
WITH
    -- The calendar days in tz whose slices (calendar-slices.sql) the query needs.
    {from:Date} - 29 AS calendar_from,
    {to:Date} AS calendar_to,
    utc_days AS (
        -- The UTC days that overlap the calendar days from - 29 … to in tz (MAA looks back 29 days).
        SELECT toDate(toDateTime({from:Date} - 29, {tz:String}), 'UTC') + number AS utc_day
        FROM numbers(toUInt64(dateDiff('day',
            toDate(toDateTime({from:Date} - 29, {tz:String}), 'UTC'),
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
    delivering_days AS (
        -- One row per agent and calendar day in tz on which it started a run that was delivered: a
        -- bit in [first_quarter, end_quarter) of one of the UTC days' `delivered` bitmaps. A calendar
        -- day spans at most two UTC days; an agent that delivered in both is taken from the first
        -- (seen in the row's `delivered_before`), so the rows are unique without grouping by agent.
        SELECT a.agent_id AS agent_id, s.local_day AS day
        FROM agent_days AS a FINAL
        INNER JOIN slices AS s ON s.utc_day = a.day
        WHERE a.project_id = {project:String}
          AND a.day >= toDate(toDateTime({from:Date} - 29, {tz:String}), 'UTC')
          AND a.day <= toDate(toDateTime({to:Date} + 1, {tz:String}) - 1, 'UTC')
          AND ({agent:String} = '' OR a.agent_id = {agent:String})
          AND bitShiftRight(bitShiftLeft(a.delivered, 128 - s.end_quarter), 128 - s.end_quarter + s.first_quarter) != 0
              AND NOT (s.previous_first_quarter < 96
                  AND bitShiftRight(bitShiftLeft(a.delivered_before, 128 - 96), 128 - 96 + s.previous_first_quarter) != 0)
    ),
    with_next_day AS (
        -- Each agent's delivering days in order, each beside the next (1970-01-01, not after `day`,
        -- for the last). Grouped into arrays rather than a window over agents: 40 ms less at 10M runs.
        SELECT day, next_day
        FROM (
            SELECT arraySort(groupArray(day)) AS days
            FROM delivering_days
            GROUP BY agent_id
        )
        ARRAY JOIN days AS day, arrayPushBack(arrayPopFront(days), toDate(0)) AS next_day
    ),
    windows AS (
        SELECT
            day,
            if(next_day > day, least(day + 7, next_day), day + 7) AS weekly_end,
            if(next_day > day, least(day + 30, next_day), day + 30) AS monthly_end
        FROM with_next_day
    ),
    changes AS (
        -- A delivering day keeps its agent in DAA for [day, day+1), in WAA for [day, day+7) and in MAA
        -- for [day, day+30). Each window is cut at the agent's next delivering day, so one agent's
        -- windows never overlap, and a running sum of +1 at each start and -1 at each end counts it once.
        SELECT
            tupleElement(change, 1) AS change_day,
            tupleElement(change, 2) AS daa_change,
            tupleElement(change, 3) AS waa_change,
            tupleElement(change, 4) AS maa_change
        FROM windows
        ARRAY JOIN [
            (day, 1, 1, 1),
            (day + 1, -1, 0, 0),
            (weekly_end, 0, -1, 0),
            (monthly_end, 0, 0, -1)
        ] AS change
    ),
    calendar AS (
        SELECT toDate({from:Date} - 29 + number) AS day
        FROM numbers(toUInt64(dateDiff('day', {from:Date}, {to:Date}) + 30))
    ),
    running AS (
        SELECT
            calendar.day AS day,
            sum(daily.daa_delta) OVER w AS daa,
            sum(daily.waa_delta) OVER w AS waa,
            sum(daily.maa_delta) OVER w AS maa
        FROM calendar
        LEFT JOIN (
            SELECT change_day, sum(daa_change) AS daa_delta, sum(waa_change) AS waa_delta, sum(maa_change) AS maa_delta
            FROM changes
            GROUP BY change_day
        ) AS daily ON daily.change_day = calendar.day
        WINDOW w AS (ORDER BY calendar.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    )
SELECT
    day,
    toUInt64(daa) AS daa,
    toUInt64(waa) AS waa,
    toUInt64(maa) AS maa,
    if(maa = 0, 0, daa / maa) AS stickiness
FROM running
WHERE day >= {from:Date}
ORDER BY day
