/** Renders a saved query's result as CSV (RFC 4180) or as an aligned text table. */
import type { SavedQueryResult } from './run-saved-query.js'

function cellText(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

const NUMERIC_TYPE = /^(Nullable\()?(U?Int|Float|Decimal)/

/**
 * Text that a spreadsheet would run as a formula (OWASP's CSV injection: a cell opening with = + -
 * @, a tab or a carriage return), prefixed with an apostrophe so it opens as text. Agent ids,
 * reasons and units come from senders' spans, so a CSV opened in a spreadsheet must not run them.
 */
function inertText(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
}

/**
 * CSV with a header row of column names; NULL is an empty field. Lines end with CRLF. Text columns
 * that a spreadsheet would take for a formula start with an apostrophe (inertText); numbers are
 * written as they are.
 */
export function toCsv(result: SavedQueryResult): string {
  const names = result.columns.map((column) => column.name)
  const text = result.columns.map((column) => !NUMERIC_TYPE.test(column.type))
  const lines = [names.map(csvField).join(',')]
  for (const row of result.rows) {
    lines.push(
      names
        .map((name, index) => {
          const cell = cellText(row[name])
          return csvField(text[index] ? inertText(cell) : cell)
        })
        .join(','),
    )
  }
  return `${lines.join('\r\n')}\r\n`
}

/** Rounds non-integers to 6 significant decimals for reading; integers print in full. */
function readable(value: unknown): string {
  if (value === null || value === undefined) return '—'
  if (typeof value === 'number' && !Number.isInteger(value)) return String(Number(value.toPrecision(6)))
  return cellText(value)
}

/** A plain-text table: a header, a rule, one line per row; numbers right-aligned. */
export function toTable(result: SavedQueryResult): string {
  const names = result.columns.map((column) => column.name)
  const numeric = result.columns.map((column) => NUMERIC_TYPE.test(column.type))
  const cells = result.rows.map((row) => names.map((name) => readable(row[name])))
  const widths = names.map((name, index) =>
    Math.max(name.length, ...cells.map((line) => line[index]!.length)),
  )
  const render = (line: string[]) =>
    line
      .map((text, index) => (numeric[index] ? text.padStart(widths[index]!) : text.padEnd(widths[index]!)))
      .join('  ')
      .trimEnd()
  const lines = [render(names), widths.map((width) => '─'.repeat(width)).join('  '), ...cells.map(render)]
  lines.push(`(${result.rows.length} row${result.rows.length === 1 ? '' : 's'}, ${result.elapsed_ms} ms)`)
  return `${lines.join('\n')}\n`
}
