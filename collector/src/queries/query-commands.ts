/**
 * The CLI side of the saved queries, for `daa queries` and `daa query <name> …` in cli.ts.
 * Output goes to a writable stream so the commands are testable.
 */
import type { Writable } from 'node:stream'
import type { Store } from '../store/store.js'
import { toCsv, toTable } from './result-formats.js'
import { DEFAULT_RANGE_DAYS, runSavedQuery } from './run-saved-query.js'
import { savedQueries } from './saved-queries.js'

/** How `daa query` is called (the CLI's usage lines and `daa queries` show it). */
export const QUERY_USAGE =
  'daa query NAME --project ID [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--tz ZONE] [--agent ID] [--format table|json|csv]'

export interface QueryCommandOptions {
  name: string
  /** Default: the day that makes the range DEFAULT_RANGE_DAYS (30) long. */
  from?: string
  /** Default: today in `tz`. */
  to?: string
  /** Default UTC. */
  tz?: string
  /** Default '' (all agents). */
  agent?: string
  /** Default table. */
  format?: 'table' | 'json' | 'csv'
}

type Output = Pick<Writable, 'write'>

/** `daa queries`: each saved query's name and description, aligned. */
export function listQueriesCommand(out: Output): void {
  const queries = [...savedQueries().values()]
  const width = Math.max(...queries.map((query) => query.name.length))
  for (const query of queries) out.write(`${query.name.padEnd(width)}  ${query.description}\n`)
  out.write(
    `\nRun one with: ${QUERY_USAGE}\n(from and to default to the last ${DEFAULT_RANGE_DAYS} days through today; tz to UTC)\n`,
  )
}

/**
 * `daa query <name> …`: runs the saved query for `projectId`. Throws SavedQueryRequestError for an
 * unknown query or bad parameters (its message is meant for the user).
 */
export async function runQueryCommand(
  store: Store,
  projectId: string,
  options: QueryCommandOptions,
  out: Output,
): Promise<void> {
  const { name, format = 'table', ...given } = options
  // Unset options stay unset, so the defaults are the API's.
  const params = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined))
  const result = await runSavedQuery(store, projectId, name, params)
  if (format === 'json') out.write(`${JSON.stringify(result, null, 2)}\n`)
  else if (format === 'csv') out.write(toCsv(result))
  else out.write(toTable(result))
}
