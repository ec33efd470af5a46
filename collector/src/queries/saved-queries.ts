/**
 * The saved queries: one `.sql` file per question in collector/queries/, each opening with a header
 * that says what it answers. The API, the CLI and the dashboards all run these files.
 *
 * Header format (leading `--` comment lines, before the first line of SQL):
 *
 *     -- name: daa                          must equal the file name without `.sql`
 *     -- title: Daily Active Agents         one line
 *     -- description: …                     one sentence: what it answers
 *     -- definition: …                      the exact definition; may continue on lines `--   …`
 *     -- param: from Date — first day       repeatable: name, ClickHouse type, description
 *     -- column: day Date — calendar day    repeatable: output column name, type, description
 *
 * Any field may continue on following lines that start with `--` and more spaces.
 *
 * SQL shared by several queries lives once, in collector/queries/fragments/: a line
 * `-- include: calendar-slices.sql` is followed by that file of fragments/ (without its leading
 * comment), written out by `npm run docs` up to `-- end include: calendar-slices.sql`, so each
 * .sql file runs as it is in any client; the collector writes the fragment out again when it loads
 * the query (expandIncludes), so every consumer runs the fragment as it is now.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface SavedQueryField {
  name: string
  /** ClickHouse type, e.g. `Date`, `UInt64`, `Nullable(Float64)`. */
  type: string
  description: string
}

export interface SavedQuery {
  name: string
  title: string
  description: string
  definition: string
  /** The query parameters the SQL uses, `project` first. */
  params: SavedQueryField[]
  /** The output columns, in order. */
  columns: SavedQueryField[]
  /** The SQL text, header included (ClickHouse ignores comments). */
  sql: string
}

/** Where the .sql files live: the same relative depth from src/queries and dist/queries. */
export const SAVED_QUERIES_DIR = fileURLToPath(new URL('../../queries/', import.meta.url))

/** Every saved query takes exactly these parameters; `project` is never taken from a request. */
export const STANDARD_PARAMS = ['project', 'from', 'to', 'tz', 'agent'] as const

/**
 * The rollups a saved query may read. Each is a ReplacingMergeTree (a refresh re-inserts the rows of
 * the keys it touched), so a query reads it as `FROM <table> [AS alias] FINAL`. The raw path swaps
 * each for the same rows computed from the raw tables (run-facts.ts, RAW_SOURCES).
 */
export const ROLLUP_SOURCES = [
  'run_facts',
  'agent_days',
  'quarter_totals',
  'quarter_outcomes',
  'agent_day_units',
  'person_activity',
] as const

const SOURCE_PATTERN = new RegExp(
  // Only a table right after FROM or JOIN: `agent_days.day` or `agent_local_days` are not sources.
  `(?<=\\b(?:FROM|JOIN)\\s+)(${ROLLUP_SOURCES.join('|')})\\b(\\s+AS\\s+\\w+)?(\\s+FINAL\\b)?`,
  'g',
)

/** A rollup read without FINAL (found by rollupSourcesOf): its unmerged older rows would count too. */
const NOT_FINAL = '<not final>'

/**
 * Replaces every rollup a query reads with `replacement(table)` (then its alias, without FINAL), in
 * the SQL but not in comments (a multi-line replacement inside a `--` comment would turn the rest
 * of it into SQL). A replacement that returns the table name leaves the text as it was.
 */
export function replaceRollupSources(sql: string, replacement: (source: string) => string): string {
  return sql
    .split('\n')
    .map((line) => {
      const comment = line.indexOf('--')
      const code = comment === -1 ? line : line.slice(0, comment)
      const rest = comment === -1 ? '' : line.slice(comment)
      return (
        code.replace(SOURCE_PATTERN, (whole, table: string, alias: string | undefined, final?: string) => {
          const replaced = replacement(final ? table : `${table} ${NOT_FINAL}`)
          return replaced === table || replaced === `${table} ${NOT_FINAL}`
            ? whole
            : `${replaced}${alias ?? ''}`
        }) + rest
      )
    })
    .join('\n')
}

/** The rollups the query's SQL reads (outside comments). */
export function rollupSourcesOf(sql: string): string[] {
  const found = new Set<string>()
  replaceRollupSources(sql, (source) => {
    found.add(source)
    return source
  })
  return [...found]
}

const HEADER_LINE = /^--\s?(\w+):\s*(.*)$/
const CONTINUATION = /^--\s{2,}(.*)$/
const FIELD = /^(\w+)\s+(.+?)\s+—\s+(.+)$/s
const PLACEHOLDER = /\{(\w+):([^}]+)\}/g

/** A .sql file whose header is missing, malformed or inconsistent with its SQL. */
export class SavedQueryDefinitionError extends Error {
  override readonly name = 'SavedQueryDefinitionError'
}

function parseField(file: string, kind: string, text: string): SavedQueryField {
  const match = FIELD.exec(text)
  if (!match)
    throw new SavedQueryDefinitionError(`${file}: ${kind} "${text}" is not "name Type — description"`)
  return { name: match[1]!, type: match[2]!, description: match[3]!.replace(/\s+/g, ' ') }
}

/** Parses one .sql file's text; throws SavedQueryDefinitionError when its header and SQL disagree. */
export function parseSavedQuery(file: string, sql: string): SavedQuery {
  const entries: { key: string; value: string }[] = []
  for (const line of sql.split('\n')) {
    if (!line.startsWith('--')) break
    const continued = CONTINUATION.exec(line)
    const last = entries.at(-1)
    if (continued && last) {
      last.value += ` ${continued[1]!.trim()}`
      continue
    }
    const entry = HEADER_LINE.exec(line)
    if (!entry) throw new SavedQueryDefinitionError(`${file}: header line "${line}" is not "-- key: value"`)
    entries.push({ key: entry[1]!, value: entry[2]!.trim() })
  }
  const single = (key: string): string => {
    const values = entries.filter((entry) => entry.key === key)
    if (values.length !== 1)
      throw new SavedQueryDefinitionError(`${file}: needs exactly one "-- ${key}:" line`)
    return values[0]!.value
  }
  const many = (key: string) =>
    entries.filter((entry) => entry.key === key).map((entry) => parseField(file, key, entry.value))
  const query: SavedQuery = {
    name: single('name'),
    title: single('title'),
    description: single('description'),
    definition: single('definition'),
    params: many('param'),
    columns: many('column'),
    sql,
  }
  checkConsistency(file, query)
  return query
}

function checkConsistency(file: string, query: SavedQuery): void {
  const fail = (why: string) => {
    throw new SavedQueryDefinitionError(`${file}: ${why}`)
  }
  if (`${query.name}.sql` !== file) fail(`its name "${query.name}" must match the file name`)
  if (query.columns.length === 0) fail('declares no columns')
  const declared = query.params.map((param) => param.name)
  if (declared.join() !== STANDARD_PARAMS.join()) {
    fail(
      `must declare the parameters ${STANDARD_PARAMS.join(', ')} in that order, not ${declared.join(', ')}`,
    )
  }
  for (const [, name, type] of query.sql.matchAll(PLACEHOLDER)) {
    const param = query.params.find((candidate) => candidate.name === name)
    if (!param) fail(`uses {${name}:${type}} without a "-- param: ${name}" line`)
    else if (param.type !== type) fail(`declares ${name} as ${param.type} but uses it as ${type}`)
  }
  for (const param of query.params) {
    if (!query.sql.includes(`{${param.name}:`)) fail(`declares ${param.name} but never uses it`)
  }
  const sources = rollupSourcesOf(query.sql)
  if (sources.length === 0) fail(`must read its runs from one of ${ROLLUP_SOURCES.join(', ')}`)
  const unmerged = sources.find((source) => source.endsWith(NOT_FINAL))
  if (unmerged) fail(`reads ${unmerged.split(' ')[0]} without FINAL (its replaced rows would count too)`)
}

let cache: ReadonlyMap<string, SavedQuery> | undefined

/** Where the shared SQL fragments live. */
export const FRAGMENTS_DIR = join(SAVED_QUERIES_DIR, 'fragments')

/** An include line: `-- include: <fragment>.sql`, and any note after the name. */
const INCLUDE = /^([ \t]*)-- include: ([\w.-]+\.sql)(?:[ \t].*)?$/
/** The note a written-out include carries, so a reader knows where to edit. */
const INCLUDE_NOTE = '(copied from fragments/ by `npm run docs`: edit it there)'

/**
 * Writes out each `-- include: <fragment>.sql` line as the fragment's SQL (its comment header
 * dropped; fragments' own includes too), between that line and `-- end include: <fragment>.sql`.
 * A copy written out before is replaced by the fragment as it is now. The saved .sql files hold
 * their includes written out (`npm run docs`, checked by a test), so that each runs as it is in
 * any ClickHouse client; the collector expands them again when it loads them, so it always runs
 * the fragment itself.
 */
export function expandIncludes(file: string, sql: string, fragmentsDir = FRAGMENTS_DIR, depth = 0): string {
  if (depth > 8) throw new SavedQueryDefinitionError(`${file}: includes nest deeper than 8 (a cycle?)`)
  const lines = sql.split('\n')
  const out: string[] = []
  for (let at = 0; at < lines.length; at++) {
    const include = INCLUDE.exec(lines[at]!)
    if (!include) {
      out.push(lines[at]!)
      continue
    }
    const [, indent, fragment] = include as unknown as [string, string, string]
    const endLine = `${indent}-- end include: ${fragment}`
    const copyEnd = lines.indexOf(endLine, at + 1)
    if (copyEnd !== -1) at = copyEnd
    let text: string
    try {
      text = readFileSync(join(fragmentsDir, fragment), 'utf8')
    } catch {
      throw new SavedQueryDefinitionError(`${file}: includes ${fragment}, which is not in ${fragmentsDir}`)
    }
    const fragmentLines = text.split('\n')
    const body = fragmentLines.findIndex((line) => !line.startsWith('--'))
    out.push(
      `${indent}-- include: ${fragment} ${INCLUDE_NOTE}`,
      expandIncludes(file, fragmentLines.slice(body).join('\n').replace(/\n$/, ''), fragmentsDir, depth + 1),
      endLine,
    )
  }
  return out.join('\n')
}

/** The saved .sql files, by file name, sorted. */
export function savedQueryFiles(): string[] {
  return readdirSync(SAVED_QUERIES_DIR)
    .filter((file) => file.endsWith('.sql'))
    .sort()
}

/**
 * Writes every saved .sql file's includes out as their fragments are now (`npm run docs`);
 * returns the files it changed.
 */
export function writeExpandedQueries(): string[] {
  const changed: string[] = []
  for (const file of savedQueryFiles()) {
    const path = join(SAVED_QUERIES_DIR, file)
    const text = readFileSync(path, 'utf8')
    const expanded = expandIncludes(file, text)
    if (expanded === text) continue
    writeFileSync(path, expanded)
    changed.push(file)
  }
  return changed
}

/** Loads (once) every saved query, by name, sorted by name. */
export function savedQueries(): ReadonlyMap<string, SavedQuery> {
  if (cache) return cache
  cache = new Map(
    savedQueryFiles().map((file) => {
      const query = parseSavedQuery(
        file,
        expandIncludes(file, readFileSync(join(SAVED_QUERIES_DIR, file), 'utf8')),
      )
      return [query.name, query] as const
    }),
  )
  return cache
}
