-- The `slices` CTE of the calendar-day queries, included where a saved query says
-- `-- include: calendar-slices.sql`: `npm run docs` writes it out there, so the .sql file runs as it
-- is in any client, and the collector writes it out again when it loads the query, so the API, the
-- CLI, Grafana and the page all run this text.
--
-- It splits each UTC day of a `utc_days` CTE (column utc_day) into the calendar days in {tz} it
-- overlaps, as ranges of quarter-hours, so that per-UTC-day bitmaps (agent_days) answer per calendar
-- day in any time zone. The including query defines `utc_days` and the scalars `calendar_from` and
-- `calendar_to` (the calendar days it needs, inclusive) in its WITH clause. The CTE ends with a
-- comma: include it between two CTEs.
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
