-- name: delivery-rate
-- title: Delivery rate
-- description: Runs per day by outcome, and the share of runs with a known outcome that delivered.
-- definition: Delivery rate = delivered runs / runs whose outcome is known (delivered, partial,
--   failed or abandoned); runs without an outcome are `unknown` and left out of the denominator.
--   0 on days without a known outcome. Runs belong to their start day (in tz); the latest recorded
--   outcome counts.
-- param: project String — the project, bound from the API key or the command line, never from the request
-- param: from Date — first calendar day, inclusive
-- param: to Date — last calendar day, inclusive
-- param: tz String — IANA time zone whose calendar days are counted
-- param: agent String — only this agent id; '' for all agents
-- column: day Date — calendar day in tz
-- column: runs UInt64 — runs started that day
-- column: delivered UInt64 — runs whose outcome is delivered
-- column: partial UInt64 — runs whose outcome is partial
-- column: failed UInt64 — runs whose outcome is failed
-- column: abandoned UInt64 — runs whose outcome is abandoned
-- column: unknown UInt64 — runs without an outcome
-- column: known_outcome_runs UInt64 — runs with an outcome (runs - unknown)
-- column: delivery_rate Float64 — delivered / known_outcome_runs; 0 when there are none
SELECT
    toDate(quarter, {tz:String}) AS day,
    sum(runs) AS runs,
    sum(delivered_runs) AS delivered,
    sum(partial_runs) AS partial,
    sum(failed_runs) AS failed,
    sum(abandoned_runs) AS abandoned,
    sum(unknown_runs) AS unknown,
    toUInt64(runs - unknown) AS known_outcome_runs,
    if(known_outcome_runs = 0, 0, delivered / known_outcome_runs) AS delivery_rate
FROM quarter_totals FINAL
WHERE project_id = {project:String}
  -- agent_id '' holds the sums over all agents.
  AND agent_id = {agent:String}
  -- Midnight of `from` to midnight after `to` in tz: whole quarter-hours in every time zone.
  AND quarter >= toDateTime({from:Date}, {tz:String})
  AND quarter < toDateTime({to:Date} + 1, {tz:String})
GROUP BY day
ORDER BY day WITH FILL FROM {from:Date} TO {to:Date} + 1
