/**
 * What Grafana and the ClickHouse plugin (4.x) do to a panel's rawSql before ClickHouse sees it,
 * for the macros and variable forms the generated dashboard uses, following their code:
 *
 * 1. The plugin's frontend `applyConditionalAll` (src/data/CHDatasource.ts): from the last
 *    `$__conditionalAll(` backwards, split its arguments at top-level commas; with exactly two, the
 *    whole macro becomes `1=1` when the variable named in the second is '' or `$__all`, else its
 *    first argument.
 * 2. Grafana's template service: `$var`, `${var}` and `${var:format}` become the variable's value;
 *    `sqlstring` quotes it with single quotes, doubling quotes inside; a custom "All" value is
 *    inserted as is, unformatted; unknown names stay as they are.
 * 3. The plugin's backend macros (pkg/macros/macros.go): `$__fromTime` / `$__toTime` become
 *    `toDateTime(<unix seconds>)` of the time range's ends.
 * Anything else that looks like a macro fails the expansion, so a new macro needs its semantics here.
 */

export interface GrafanaVariable {
  name: string
  /** The current value; `$__all` for "All". */
  value: string
  /** The variable's custom all value, if any. */
  allValue?: string
}

export interface TimeRange {
  /** Unix milliseconds. */
  from: number
  to: number
}

function macroArguments(sql: string, openParen: number): string[] | undefined {
  const args: string[] = []
  let depth = 0
  let start = openParen + 1
  for (let index = openParen; index < sql.length; index++) {
    const char = sql[index]
    if (char === '(') depth++
    else if (char === ')') depth--
    if (char === ',' && depth === 1) {
      args.push(sql.slice(start, index))
      start = index + 1
    }
    if (depth === 0) {
      args.push(sql.slice(start, index))
      return args
    }
  }
  return undefined
}

export function applyConditionalAll(sql: string, variables: GrafanaVariable[]): string {
  const macro = '$__conditionalAll('
  let at = sql.lastIndexOf(macro)
  while (at !== -1) {
    const args = macroArguments(sql, at + macro.length - 1)
    if (!args || args.length !== 2) return sql
    const [condition, variableArg] = args as [string, string]
    const name = /(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+/.exec(variableArg.trim())?.[0]
    const value = variables.find((variable) => variable.name === name)?.value
    const phrase = value === '' || value === '$__all' ? '1=1' : condition
    sql = sql.replace(`${macro}${condition},${variableArg})`, phrase)
    at = sql.lastIndexOf(macro)
  }
  return sql
}

const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}/g

export function interpolate(sql: string, variables: GrafanaVariable[]): string {
  return sql.replace(
    VARIABLE,
    (match, bare?: string, bracket?: string, bracketFormat?: string, braced?: string, format?: string) => {
      const name = bare ?? bracket ?? braced
      const variable = variables.find((candidate) => candidate.name === name)
      if (!variable) return match
      if (variable.value === '$__all' && variable.allValue !== undefined) return variable.allValue
      const chosen = format ?? bracketFormat
      if (chosen === 'sqlstring') return `'${variable.value.replace(/'/g, "''")}'`
      if (chosen && chosen !== 'raw') throw new Error(`variable format ${chosen} is not emulated`)
      return variable.value
    },
  )
}

export function applyBackendMacros(sql: string, range: TimeRange): string {
  const expanded = sql
    .replace(/\$__fromTime\b/g, `toDateTime(${Math.floor(range.from / 1000)})`)
    .replace(/\$__toTime\b/g, `toDateTime(${Math.floor(range.to / 1000)})`)
  const unknown = /\$__\w+/.exec(expanded)
  if (unknown) throw new Error(`macro ${unknown[0]} is not emulated`)
  return expanded
}

/** rawSql as the plugin sends it to ClickHouse. */
export function expandPanelSql(sql: string, variables: GrafanaVariable[], range: TimeRange): string {
  return applyBackendMacros(interpolate(applyConditionalAll(sql, variables), variables), range)
}

/**
 * Grafana's provisioning reading a file: `$NAME` / `${NAME}` from the environment, `$$` a literal `$`.
 */
export function expandProvisioningEnv(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\{(\w+)\}|\$(\w+)/g, (match, braced?: string, bare?: string) => {
    if (match === '$$') return '$'
    return env[(braced ?? bare)!] ?? ''
  })
}
