/**
 * Every panel of the generated Grafana dashboard, expanded as Grafana and the ClickHouse plugin
 * expand it, runs on a real ClickHouse server that a running collector loaded over OTLP, returns
 * the columns the panel draws, and the same rows the metrics API returns for the same days.
 * The two provisioned alert rules and the variable queries run there too.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type ClickHouseClient, createClient } from '@clickhouse/client'
import { savedQueries } from '@daa/collector'
import { ALERTS, columnsRead, DASHBOARD_UID, GENERATED_DIR, PANELS, PROVISIONING_ENV } from '@daa/dashboards'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, startTestCollector } from '../support/collector-harness.js'
import { type Fleet, getMetric, makeFleet, sendFleet, utcDay, waitForFleet } from './fleet.js'
import {
  expandPanelSql,
  expandProvisioningEnv,
  type GrafanaVariable,
  type TimeRange,
} from './grafana-expansion.js'

interface GeneratedPanel {
  title: string
  targets: { rawSql: string }[]
}
interface GeneratedVariable {
  name: string
  allValue?: string
  query: string | { rawSql: string }
}

const dashboard = JSON.parse(
  readFileSync(join(GENERATED_DIR, `dashboards/${DASHBOARD_UID}.json`), 'utf8'),
) as {
  panels: GeneratedPanel[]
  templating: { list: GeneratedVariable[] }
}
const agentVariable = dashboard.templating.list.find((variable) => variable.name === 'agent')!

let clickhouse: RunningClickHouse
let target: CollectorUnderTest
let client: ClickHouseClient
let fleet: Fleet

beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  target = await startTestCollector(clickhouse.url, { rollupIntervalMs: 500 })
  client = createClient({ url: clickhouse.url, database: target.config.clickhouseDatabase })
  fleet = makeFleet()
  await sendFleet(target, fleet)
  await waitForFleet(target, fleet)
})
afterAll(async () => {
  await client?.close()
  await target?.close()
  await clickhouse?.stop()
})

async function runSql(sql: string) {
  const result = await client.query({ query: sql, format: 'JSON' })
  return (await result.json()) as { meta: { name: string; type: string }[]; data: Record<string, unknown>[] }
}

/** The calendar day of an instant in a time zone. */
function dayIn(ms: number, tz: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date(ms))
}

/** Rows equal, numbers to a relative 1e-9 (the API's JSON and ClickHouse's may round floats differently). */
function sameRows(actual: Record<string, unknown>[], expected: Record<string, unknown>[]): boolean {
  const close = (a: unknown, b: unknown) => {
    if (a === b) return true
    if (a === null || b === null) return false
    const [x, y] = [Number(a), Number(b)]
    if (Number.isNaN(x) || Number.isNaN(y)) return String(a) === String(b)
    return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y))
  }
  return (
    actual.length === expected.length &&
    actual.every((row, index) => {
      const other = expected[index]!
      const keys = Object.keys(row)
      return keys.length === Object.keys(other).length && keys.every((key) => close(row[key], other[key]))
    })
  )
}

/**
 * Reads both until they agree: the rollups behind the saved queries are refreshed in the
 * background, so two reads a moment apart may straddle a refresh. A lasting difference fails.
 */
async function agreeEventually(read: () => Promise<[Record<string, unknown>[], Record<string, unknown>[]]>) {
  const deadline = Date.now() + 30_000
  let [actual, expected] = await read()
  while (!sameRows(actual, expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    ;[actual, expected] = await read()
  }
  expect(actual.length).toBeGreaterThan(0)
  if (!sameRows(actual, expected)) expect(actual).toEqual(expected)
}

const views: { name: string; tz: string; agent: string }[] = [
  { name: 'all agents, UTC', tz: 'UTC', agent: '$__all' },
  { name: 'all agents, America/Los_Angeles', tz: 'America/Los_Angeles', agent: '$__all' },
  { name: 'one agent, Asia/Kolkata', tz: 'Asia/Kolkata', agent: 'refund-bot' },
]

describe('Grafana panels on a real ClickHouse server', () => {
  // Grafana's "Last 30 days": from 30 days ago to now, as instants.
  const range: TimeRange = { from: Date.now() - 30 * 86_400_000, to: Date.now() }

  for (const view of views) {
    describe(view.name, () => {
      const variables: GrafanaVariable[] = [
        { name: 'project', value: 'acme' },
        { name: 'tz', value: view.tz },
        { name: 'agent', value: view.agent, allValue: agentVariable.allValue },
      ]
      for (const panel of PANELS) {
        it(`${panel.title}: the panel's columns, and the API's rows for the same days`, async () => {
          const generated = dashboard.panels.find((candidate) => candidate.title === panel.title)!
          const sql = expandPanelSql(generated.targets[0]!.rawSql, variables, range)
          const { meta, data } = await runSql(sql)
          const declared = savedQueries()
            .get(panel.query)!
            .columns.map((column) => column.name)
          expect(meta.map((column) => column.name)).toEqual(declared)
          expect(declared).toEqual(expect.arrayContaining(columnsRead(panel.query)))
          const params = {
            from: dayIn(range.from, view.tz),
            to: dayIn(range.to, view.tz),
            tz: view.tz,
            agent: view.agent === '$__all' ? '' : view.agent,
          }
          await agreeEventually(async () => [
            (await runSql(sql)).data,
            (await getMetric(target, panel.query, params)).rows,
          ])
        })
      }
    })
  }

  it('shows real activity: DAA above zero on the last full day', async () => {
    const api = await getMetric(target, 'daa', { from: utcDay(-1), to: utcDay(-1), tz: 'UTC' })
    expect(Number(api.rows[0]!.daa)).toBeGreaterThan(0)
  })

  it("lists the project and its agents in the dashboard's variables", async () => {
    const variables: GrafanaVariable[] = [{ name: 'project', value: 'acme' }]
    const query = (name: string) => {
      const variable = dashboard.templating.list.find((candidate) => candidate.name === name)!
      return expandPanelSql(
        typeof variable.query === 'string' ? variable.query : variable.query.rawSql,
        variables,
        range,
      )
    }
    expect((await runSql(query('project'))).data.map((row) => Object.values(row)[0])).toEqual(['acme'])
    const agents = (await runSql(query('agent'))).data.map((row) => Object.values(row)[0])
    expect(agents).toContain('refund-bot')
    expect(agents.length).toBe(12)
  })

  it('runs both provisioned alert rules to the figure the saved query gives through the API', async () => {
    const yamlText = expandProvisioningEnv(
      readFileSync(join(GENERATED_DIR, 'provisioning/alerting/daa-alerts.yaml'), 'utf8'),
      { [PROVISIONING_ENV.project]: 'acme' },
    )
    const rules = parse(yamlText).groups[0].rules as {
      uid: string
      data: { relativeTimeRange?: { from: number; to: number }; model: { rawSql?: string } }[]
    }[]
    expect(rules.map((rule) => rule.uid)).toEqual(ALERTS.map((alert) => alert.uid))
    // The figure: the last day's ratio over the ratio of the 7 days before it, from the API's rows.
    const ratios: Record<string, [string, string]> = {
      'delivery-rate': ['delivered', 'known_outcome_runs'],
      'cost-per-outcome': ['cost_usd', 'delivered_runs'],
    }
    for (const [index, rule] of rules.entries()) {
      const alert = ALERTS[index]!
      const query = rule.data[0]!
      const now = Date.now()
      const from = now - query.relativeTimeRange!.from * 1000
      const to = now - query.relativeTimeRange!.to * 1000
      const sql = expandPanelSql(query.model.rawSql!, [], { from, to })
      const [numerator, denominator] = ratios[alert.query]!
      await agreeEventually(async () => {
        const { meta, data } = await runSql(sql)
        expect(meta).toHaveLength(1)
        const { rows } = await getMetric(target, alert.query, {
          from: dayIn(from, 'UTC'),
          to: dayIn(to, 'UTC'),
          tz: 'UTC',
        })
        const sum = (selected: Record<string, unknown>[], column: string) =>
          selected.reduce((total, row) => total + Number(row[column]), 0)
        const last = rows.slice(-1)
        const before = rows.slice(0, -1)
        const ratio = (selected: Record<string, unknown>[]) =>
          sum(selected, denominator) === 0 ? null : sum(selected, numerator) / sum(selected, denominator)
        const [today, norm] = [ratio(last), ratio(before)]
        const expected = today === null || norm === null || norm === 0 ? 1 : today / norm
        return [data, [{ [meta[0]!.name]: expected }]]
      })
    }
  })
})
