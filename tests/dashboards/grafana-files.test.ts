/**
 * The committed Grafana files are what the generator writes from today's saved queries, and every
 * panel target is a valid ClickHouse plugin 4.x query bound to a datasource variable or a fixed uid.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { savedQueries } from '@daa/collector'
import {
  ClickHouseQuery,
  columnsRead,
  DASHBOARD_UID,
  DATASOURCE_UID,
  GENERATED_DIR,
  generatedFiles,
  PANELS,
  STATS,
} from '@daa/dashboards'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [relative(GENERATED_DIR, path)]
  })
}

const dashboard = JSON.parse(
  readFileSync(join(GENERATED_DIR, `dashboards/${DASHBOARD_UID}.json`), 'utf8'),
) as {
  panels: { title: string; type: string; datasource: unknown; targets: unknown[] }[]
  templating: { list: { name: string; type: string; query: unknown }[] }
}

describe('generated Grafana files', () => {
  it('are committed exactly as the generator writes them (run `npm run generate -w @daa/dashboards`)', () => {
    const fresh = generatedFiles()
    expect(filesUnder(GENERATED_DIR).sort()).toEqual([...fresh.keys()].sort())
    for (const [path, contents] of fresh) {
      expect(readFileSync(join(GENERATED_DIR, path), 'utf8'), `dashboards/grafana/${path}`).toBe(contents)
    }
  })

  it('give every panel a ClickHouse 4.x SQL query on the datasource variable', () => {
    const targets = dashboard.panels.flatMap((panel) => panel.targets)
    expect(targets.length).toBe(PANELS.length + STATS.length)
    for (const target of targets) {
      const query = ClickHouseQuery.parse(target)
      expect(query.datasource.uid).toBe('${datasource}')
      // No ClickHouse parameter is left (Grafana variables are ${name:format}).
      expect(query.rawSql).not.toMatch(/(?<!\$)\{\w+:\w+\}/)
    }
    expect(JSON.stringify(dashboard)).not.toContain('${DS_')
    expect(dashboard.templating.list.map((variable) => variable.name)).toEqual([
      'datasource',
      'project',
      'tz',
      'agent',
    ])
  })

  it('run the saved SQL itself, with only its parameters replaced', () => {
    for (const panel of PANELS) {
      const generated = dashboard.panels.find((candidate) => candidate.title === panel.title)!
      const rawSql = (generated.targets[0] as { rawSql: string }).rawSql
      const saved = savedQueries().get(panel.query)!
      // Every line of the saved file without a parameter is in the panel's SQL as it is.
      for (const line of saved.sql.split('\n').filter((text) => !/\{\w+:\w+\}/.test(text))) {
        expect(rawSql).toContain(line)
      }
    }
  })

  it('draw only columns the saved queries declare', () => {
    for (const name of new Set([...PANELS, ...STATS].map((item) => item.query))) {
      const declared = savedQueries()
        .get(name)!
        .columns.map((column) => column.name)
      expect(declared, name).toEqual(expect.arrayContaining(columnsRead(name)))
    }
  })

  it('provision the data source over both protocols, the dashboards and two alert rules on the saved SQL', () => {
    const datasources = parse(
      readFileSync(join(GENERATED_DIR, 'provisioning/datasources/daa-clickhouse.yaml'), 'utf8'),
    )
    expect(
      datasources.datasources.map((source: { jsonData: { protocol: string } }) => source.jsonData.protocol),
    ).toEqual(['native', 'http'])
    expect(datasources.datasources[0].uid).toBe(DATASOURCE_UID)
    const providers = parse(readFileSync(join(GENERATED_DIR, 'provisioning/dashboards/daa.yaml'), 'utf8'))
    expect(providers.providers[0].type).toBe('file')
    const alerting = parse(readFileSync(join(GENERATED_DIR, 'provisioning/alerting/daa-alerts.yaml'), 'utf8'))
    const rules = alerting.groups[0].rules as {
      title: string
      data: { model: unknown; datasourceUid: string }[]
    }[]
    expect(rules.map((rule) => rule.title)).toEqual([
      'Delivery rate below its 7-day norm',
      'Cost per delivered outcome above its 7-day norm',
    ])
    for (const rule of rules) {
      const query = ClickHouseQuery.parse(
        Object.fromEntries(
          Object.entries(rule.data[0]!.model as object).filter(
            ([key]) => !['intervalMs', 'maxDataPoints'].includes(key),
          ),
        ),
      )
      expect(query.datasource.uid).toBe(DATASOURCE_UID)
      // Provisioning expands $NAME: the macros are escaped as $$.
      expect(query.rawSql).toContain('$$__toTime')
      expect(query.rawSql).not.toMatch(/[^$]\$__/)
    }
  })
})
