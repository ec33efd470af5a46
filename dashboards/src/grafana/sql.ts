/**
 * A saved query's SQL for Grafana: the ClickHouse query parameters it declares become the
 * ClickHouse plugin's macros and the dashboard's variables. The SQL is otherwise the saved file's,
 * byte for byte; nothing here knows what any one query computes.
 *
 *   {project:String}  ->  ${project:sqlstring}                    a dashboard variable
 *   {tz:String}       ->  ${tz:sqlstring}                         a dashboard variable
 *   {from:Date}       ->  toDate($__fromTime, ${tz:sqlstring})    the time picker's first day, in tz
 *   {to:Date}         ->  toDate($__toTime, ${tz:sqlstring})      the time picker's last day, in tz
 *   {agent:String}    ->  ${agent:sqlstring}                      '' when "All" (the variable's allValue)
 *   ({agent:String} = '' OR col = {agent:String})
 *                     ->  $__conditionalAll(col = ${agent:sqlstring}, $agent)
 *
 * The last form is the saved queries' "this agent, or every agent when empty" filter: with "All"
 * selected the plugin replaces it by 1=1. Queries that read the rollups' all-agents rows
 * (`agent_id = {agent:String}`) need the empty string itself, which the agent variable's allValue gives.
 */
import type { SavedQuery } from '@daa/collector'

/** The dashboard variables the SQL refers to. */
export const VARIABLES = { project: 'project', tz: 'tz', agent: 'agent' } as const

/** What stands for each parameter; `alert` has no dashboard variables, so fixed values stand in. */
export interface ParameterBinding {
  project: string
  tz: string
  agent: string
  /** The agent filter, given the column it compares (`a.agent_id`, `agent_id`). */
  agentFilter: (column: string) => string
  from: string
  to: string
}

export const DASHBOARD_BINDING: ParameterBinding = {
  project: `\${${VARIABLES.project}:sqlstring}`,
  tz: `\${${VARIABLES.tz}:sqlstring}`,
  agent: `\${${VARIABLES.agent}:sqlstring}`,
  agentFilter: (column) =>
    `$__conditionalAll(${column} = \${${VARIABLES.agent}:sqlstring}, $${VARIABLES.agent})`,
  from: `toDate($__fromTime, \${${VARIABLES.tz}:sqlstring})`,
  to: `toDate($__toTime, \${${VARIABLES.tz}:sqlstring})`,
}

/** A ClickHouse string literal. */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/**
 * For alert rules, which run without a dashboard: one project (from the environment of Grafana's
 * provisioning, see the README), UTC days, all agents.
 */
export function alertBinding(projectExpression: string): ParameterBinding {
  return {
    project: projectExpression,
    tz: sqlString('UTC'),
    agent: "''",
    agentFilter: () => '1=1',
    from: `toDate($__fromTime, 'UTC')`,
    to: `toDate($__toTime, 'UTC')`,
  }
}

/**
 * One pass over the SQL: the saved queries' agent filter `({agent:String} = '' OR <column> = {agent:String})`,
 * or any other `{name:Type}` placeholder (one pass, so a replacement is never read again).
 */
const PARAMETERS = /\(\{agent:String\}\s*=\s*''\s+OR\s+([\w.]+)\s*=\s*\{agent:String\}\)|\{(\w+):([^}]+)\}/g

/** Thrown when a saved query uses a parameter this mapping does not know. */
export class UnmappedParameterError extends Error {
  override readonly name = 'UnmappedParameterError'
}

/** The saved query's SQL with its parameters bound as `binding` says. */
export function bindSavedQuery(query: SavedQuery, binding: ParameterBinding = DASHBOARD_BINDING): string {
  return query.sql.replace(PARAMETERS, (placeholder, column?: string, name?: string, type?: string) => {
    if (column) return binding.agentFilter(column)
    const declared = query.params.find((param) => param.name === name)
    if (!declared || declared.type !== type) {
      throw new UnmappedParameterError(`${query.name}: ${placeholder} is not a declared parameter`)
    }
    switch (name) {
      case 'project':
        return binding.project
      case 'tz':
        return binding.tz
      case 'agent':
        return binding.agent
      case 'from':
        return binding.from
      case 'to':
        return binding.to
      default:
        throw new UnmappedParameterError(
          `${query.name}: no Grafana mapping for the parameter ${placeholder}; add one in dashboards/src/grafana/sql.ts`,
        )
    }
  })
}
