-- name: daa
-- title: Daily Active Agents
-- description: Agents that delivered, and agents that worked, on each calendar day.
-- definition: DAA counts the agents with at least one run whose outcome is `delivered` on that
--   day; working agents counts the agents with at least one run of any outcome. A run belongs to
--   the calendar day (in tz) on which it started, and its outcome is the latest one recorded for it,
--   so a late outcome moves the run's status but never its day. Sub-agent runs are runs of their own
--   agent. Days without runs appear with zeros.
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
SELECT
    toDate(start_time, {tz:String}) AS day,
    uniqExactIf(agent_id, outcome = 'delivered') AS daa,
    uniqExact(agent_id) AS working_agents,
    count() AS runs,
    countIf(outcome = 'delivered') AS delivered_runs
FROM run_facts FINAL
WHERE project_id = {project:String}
  -- Midnight of `from` to midnight after `to`, both in tz (23 or 25 hours on DST days).
  AND start_time >= toDateTime({from:Date}, {tz:String})
  AND start_time < toDateTime({to:Date} + 1, {tz:String})
  AND ({agent:String} = '' OR agent_id = {agent:String})
GROUP BY day
ORDER BY day WITH FILL FROM {from:Date} TO {to:Date} + 1
