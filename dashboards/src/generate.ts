/**
 * Writes the generated Grafana files (dashboards/grafana/) from the saved queries:
 *   node dist/generate.js          (run by `npm run build -w @daa/dashboards` and `npm run generate …`)
 * The files are committed; a test fails when they differ from what this writes.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type SavedQuery, savedQueries } from '@daa/collector'
import { buildDashboard, DASHBOARD_UID } from './grafana/dashboard.js'
import { alertRulesYaml, dashboardsYaml, datasourcesYaml } from './grafana/provisioning.js'

/** dashboards/grafana, from src/ and from dist/ alike. */
export const GENERATED_DIR = fileURLToPath(new URL('../grafana/', import.meta.url))

function lookup(name: string): SavedQuery {
  const query = savedQueries().get(name)
  if (!query) throw new Error(`The dashboards use the saved query "${name}", which does not exist`)
  return query
}

/** Every generated file: its path under dashboards/grafana/ and its contents. */
export function generatedFiles(): Map<string, string> {
  return new Map([
    [`dashboards/${DASHBOARD_UID}.json`, `${JSON.stringify(buildDashboard(lookup), null, 2)}\n`],
    ['provisioning/datasources/daa-clickhouse.yaml', datasourcesYaml()],
    ['provisioning/dashboards/daa.yaml', dashboardsYaml()],
    ['provisioning/alerting/daa-alerts.yaml', alertRulesYaml(lookup)],
  ])
}

export function writeGeneratedFiles(dir = GENERATED_DIR): string[] {
  const written: string[] = []
  for (const [path, contents] of generatedFiles()) {
    const file = join(dir, path)
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, contents)
    written.push(file)
  }
  return written
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const file of writeGeneratedFiles()) process.stdout.write(`wrote ${file}\n`)
}
