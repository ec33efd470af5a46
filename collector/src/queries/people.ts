/**
 * How people are counted: the one definition of a person, of the rows of `person_quarters` and of
 * `person_activity` (tables in rollup-schema.ts; why this shape: collector/docs/metric-layer.md).
 * Its own module, without imports of the other metric-layer modules, because both the refresh
 * (through run-facts.ts) and migration 6 (in rollup-schema.ts) build these rows.
 */
import type { RollupFilter } from './run-facts.js'

/** A person: the hashed `user.id` of a run (runs without one are nobody's). */
export const PERSON = 'cityHash64(user_id)'

/** An agent inside a person's arrays: its hashed id, which the leaderboard joins on. */
export const AGENT_HASH = 'cityHash64(agent_id)'

/** The rows of `person_quarters`, from per-run facts `source` (run_facts, or the raw runs). */
export function personQuartersSelect(source: string, filter: RollupFilter = { runs: '1' }): string {
  return `
SELECT
    project_id,
    ${PERSON} AS person,
    toStartOfFifteenMinutes(start_time) AS quarter,
    agent_id,
    toUInt32(count()) AS runs,
    toUInt32(countIf(outcome = 'delivered')) AS delivered_runs
FROM ${source}
WHERE user_id != '' AND (${filter.runs})
GROUP BY project_id, person, quarter, agent_id`
}

/**
 * The rows of `person_activity`, from `person_quarters` rows (`source`: that table, or a
 * parenthesised SELECT with its columns): each person's (quarter-hour, agent) keys in time order,
 * in three parallel arrays. Sorted as tuples, so the three stay aligned.
 */
export function personActivitySelect(source: string, filter: RollupFilter = { runs: '1' }): string {
  return `
SELECT
    project_id,
    person,
    arrayMap(key -> key.1, person_keys) AS quarters,
    arrayMap(key -> key.2, person_keys) AS agents,
    arrayMap(key -> key.3, person_keys) AS delivered,
    person_keys[-1].1 AS last_quarter
FROM (
    SELECT
        project_id,
        person,
        arraySort(groupArray((quarter, ${AGENT_HASH}, toUInt8(delivered_runs > 0)))) AS person_keys
    FROM ${source}
    WHERE runs > 0 AND (${filter.runs})
    GROUP BY project_id, person
)`
}
