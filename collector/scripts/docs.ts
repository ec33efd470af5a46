/**
 * `npm run docs`: writes what is generated from one source into the files people read.
 *   - The configuration table, from collector/src/config.ts, into README.md between its markers
 *     (config.test.ts fails on drift). Without --write it is printed instead.
 *   - The shared SQL fragments (collector/queries/fragments/) written out where a saved query
 *     includes them, so that each .sql file runs as it is in any ClickHouse client
 *     (tests/golden/metrics-api.test.ts fails on drift).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SETTINGS_TABLE_MARKERS, settingsTable } from '../src/config.js'
import { writeExpandedQueries } from '../src/queries/saved-queries.js'

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
  for (const file of writeExpandedQueries()) process.stdout.write(`wrote out the includes of ${file}\n`)
}
