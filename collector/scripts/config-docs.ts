/**
 * Prints the configuration table generated from collector/src/config.ts, or with --write puts it
 * into README.md between its markers. `npm run docs` runs this; config.test.ts fails on drift.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SETTINGS_TABLE_MARKERS, settingsTable } from '../src/config.js'

const readme = fileURLToPath(new URL('../../README.md', import.meta.url))
if (!process.argv.includes('--write')) {
  process.stdout.write(`${settingsTable()}\n`)
} else {
  const text = readFileSync(readme, 'utf8')
  const [start, end] = SETTINGS_TABLE_MARKERS
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  if (from < 0 || to < from) throw new Error(`README.md has no ${start} … ${end} markers`)
  writeFileSync(readme, `${text.slice(0, from + start.length)}\n${settingsTable()}\n${text.slice(to)}`)
}
