-- name: people-served
-- title: People served
-- description: Distinct people with a delivered run, per day.
-- definition: People served counts the distinct non-empty `user.id` values of runs started that
--   day (in tz) whose outcome is delivered. People with runs counts them over runs of any outcome.
--   Runs without a user id are not people.
-- param: project String — the project, bound from the API key or the command line, never from the request
-- param: from Date — first calendar day, inclusive
-- param: to Date — last calendar day, inclusive
-- param: tz String — IANA time zone whose calendar days are counted
-- param: agent String — only this agent id; '' for all agents
-- column: day Date — calendar day in tz
-- column: people_served UInt64 — distinct user ids with a delivered run that day
-- column: people_with_runs UInt64 — distinct user ids with any run that day
-- column: delivered_runs UInt64 — delivered runs that day (with or without a user id)
SELECT
    toDate(start_time, {tz:String}) AS day,
    uniqExactIf(user_id, outcome = 'delivered' AND user_id != '') AS people_served,
    uniqExactIf(user_id, user_id != '') AS people_with_runs,
    countIf(outcome = 'delivered') AS delivered_runs
FROM run_facts FINAL
WHERE project_id = {project:String}
  AND start_time >= toDateTime({from:Date}, {tz:String})
  AND start_time < toDateTime({to:Date} + 1, {tz:String})
  AND ({agent:String} = '' OR agent_id = {agent:String})
GROUP BY day
ORDER BY day WITH FILL FROM {from:Date} TO {to:Date} + 1
