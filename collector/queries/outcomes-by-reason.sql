-- name: outcomes-by-reason
-- title: Outcomes by status and reason
-- description: How the runs of the range ended: counts per outcome status and reason.
-- definition: Runs started in the range (calendar days in tz), grouped by their latest recorded
--   outcome status (`unknown` when none) and its `daa.outcome.reason` ('' when none given). Share is
--   of all runs in the range. Rows come in status order delivered, partial, failed, abandoned,
--   unknown, then by runs (most first), then by reason.
-- param: project String — the project, bound from the API key or the command line, never from the request
-- param: from Date — first calendar day, inclusive
-- param: to Date — last calendar day, inclusive
-- param: tz String — IANA time zone whose calendar days are counted
-- param: agent String — only this agent id; '' for all agents
-- column: status String — delivered, partial, failed, abandoned or unknown
-- column: reason String — the outcome's reason; '' when none was given
-- column: runs UInt64 — runs with this status and reason
-- column: share_of_runs Float64 — runs / all runs in the range
-- column: value Nullable(Float64) — sum of the outcome values of these runs; NULL when they are in several units (USD and tickets do not add up)
-- column: unit String — the unit of those values; several are listed (`USD, tickets`); '' when none was given
SELECT
    status,
    reason,
    status_runs AS runs,
    runs / sum(runs) OVER () AS share_of_runs,
    if(length(units) > 1, NULL, status_value) AS value,
    arrayStringConcat(arraySort(units), ', ') AS unit
FROM (
    SELECT
        CAST(outcome AS String) AS status,
        outcome_reason AS reason,
        sum(runs) AS status_runs,
        sum(value) AS status_value,
        groupUniqArrayIf(outcome_unit, outcome_unit != '') AS units
    FROM quarter_outcomes FINAL
    WHERE project_id = {project:String}
      -- A key whose runs all moved to another outcome keeps a row with 0 runs.
      AND runs > 0
      -- agent_id '' holds the sums over all agents.
      AND agent_id = {agent:String}
      -- Midnight of `from` to midnight after `to` in tz: whole quarter-hours in every time zone.
      AND quarter >= toDateTime({from:Date}, {tz:String})
      AND quarter < toDateTime({to:Date} + 1, {tz:String})
    GROUP BY status, reason
)
ORDER BY indexOf(['delivered', 'partial', 'failed', 'abandoned', 'unknown'], status), runs DESC, reason
