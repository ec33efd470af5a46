/**
 * The Grafana dashboard, built from the panel list (panels.ts) and the saved queries' headers.
 * Typed with @grafana/schema's Dashboard; every target is checked against the plugin's query schema.
 */
import type { SavedQuery } from '@daa/collector'
import { type Dashboard, FieldColorModeId, type Panel, type VariableModel } from '@grafana/schema'
import type { PanelSpec, SeriesSpec, StatSpec, ValueUnit } from '../panels.js'
import { PANELS, STATS } from '../panels.js'
import { ClickHouseQuery, PLUGIN_ID, PLUGIN_VERSION, QueryFormat } from './query.js'
import { bindSavedQuery, VARIABLES } from './sql.js'

export const DASHBOARD_UID = 'daa-overview'

/** Panels reach the data source through this variable, so one file serves any ClickHouse data source. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable reference, not a JS template
const DATASOURCE = { type: PLUGIN_ID, uid: '${datasource}' } as const

const GRAFANA_UNITS: Record<ValueUnit, string> = {
  count: 'short',
  percent: 'percentunit',
  usd: 'currencyUSD',
  ms: 'ms',
  ratio: 'none',
  tokens: 'short',
  value: 'short',
}

type Lookup = (name: string) => SavedQuery

function target(query: SavedQuery, table: boolean): ClickHouseQuery {
  return ClickHouseQuery.parse({
    refId: 'A',
    datasource: DATASOURCE,
    editorType: 'sql',
    queryType: table ? 'table' : 'timeseries',
    format: table ? QueryFormat.Table : QueryFormat.TimeSeries,
    rawSql: bindSavedQuery(query),
    pluginVersion: PLUGIN_VERSION,
  })
}

function seriesOverride(series: SeriesSpec) {
  const properties: { id: string; value: unknown }[] = [
    { id: 'displayName', value: series.label },
    { id: 'unit', value: GRAFANA_UNITS[series.unit] },
  ]
  if (series.bars) {
    properties.push({ id: 'custom.drawStyle', value: 'bars' }, { id: 'custom.fillOpacity', value: 80 })
    properties.push({ id: 'custom.stacking', value: { mode: 'normal', group: 'A' } })
  }
  if (series.right) properties.push({ id: 'custom.axisPlacement', value: 'right' })
  if (series.negative) properties.push({ id: 'custom.transform', value: 'negative-Y' })
  if (series.hidden)
    properties.push({ id: 'custom.hideFrom', value: { legend: false, tooltip: false, viz: true } })
  return { matcher: { id: 'byName', options: series.column }, properties }
}

/** Panel descriptions carry the saved query's own words, so Grafana users read the same definitions. */
function describe(query: SavedQuery, hint: string): string {
  return `${hint}\n\n${query.description}\n\nDefinition: ${query.definition}\n\nSaved query: collector/queries/${query.name}.sql`
}

function panel(spec: PanelSpec, lookup: Lookup, id: number, gridPos: Panel['gridPos']): Panel {
  const query = lookup(spec.query)
  const base = {
    id,
    title: spec.title,
    description: describe(query, spec.hint),
    datasource: DATASOURCE,
    gridPos,
  }
  if (spec.kind === 'timeseries') {
    const wanted = new Set(spec.series.map((series) => series.column))
    if (spec.splitBy) {
      // Long rows (day, unit, …): the plugin's time series format turns them wide, one series per unit.
      wanted.add(spec.splitBy)
    }
    return {
      ...base,
      type: 'timeseries',
      targets: [target(query, false)],
      transformations: [
        {
          // Only the columns the panel draws (the others stay in the query for its table view).
          id: 'filterFieldsByName',
          options: { include: { pattern: `^(day|${[...wanted].join('|')})( .*)?$` } },
        },
      ],
      fieldConfig: {
        defaults: {
          custom: { drawStyle: 'line', lineWidth: 2, fillOpacity: 8, showPoints: 'auto', spanNulls: false },
          unit: GRAFANA_UNITS[spec.series[0]!.unit],
        },
        overrides: spec.splitBy ? [] : spec.series.map(seriesOverride),
      },
      options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
    }
  }
  if (spec.kind === 'table') {
    return {
      ...base,
      type: 'table',
      targets: [target(query, true)],
      transformations: [
        {
          id: 'organize',
          options: {
            indexByName: Object.fromEntries(spec.columns.map((column, index) => [column.column, index])),
            renameByName: Object.fromEntries(spec.columns.map((column) => [column.column, column.label])),
            excludeByName: Object.fromEntries(
              query.columns
                .filter((column) => !spec.columns.some((shown) => shown.column === column.name))
                .map((column) => [column.name, true]),
            ),
          },
        },
      ],
      fieldConfig: {
        defaults: {},
        overrides: spec.columns
          .filter((column) => column.unit !== 'text' && column.unit !== 'date')
          .map((column) => ({
            matcher: { id: 'byName', options: column.label },
            properties: [{ id: 'unit', value: GRAFANA_UNITS[column.unit as ValueUnit] }],
          })),
      },
      options: { showHeader: true, cellHeight: 'sm' },
    }
  }
  return {
    ...base,
    type: 'table',
    targets: [target(query, true)],
    transformations: [
      {
        // Cohort rows to a grid: a row per cohort day, a column per day offset, the share in each cell.
        id: 'groupingToMatrix',
        options: { rowField: spec.cohort, columnField: spec.offset, valueField: spec.rate },
      },
    ],
    fieldConfig: {
      defaults: {
        unit: 'percentunit',
        custom: { cellOptions: { type: 'color-background', mode: 'gradient' } },
        color: { mode: FieldColorModeId.ContinuousBlPu },
        min: 0,
        max: 1,
      },
      overrides: [],
    },
    options: { showHeader: true, cellHeight: 'sm' },
  }
}

function statPanel(stat: StatSpec, lookup: Lookup, id: number, x: number): Panel {
  const query = lookup(stat.query)
  const calcs = stat.reduce === 'sum' ? ['sum'] : stat.reduce === 'mean' ? ['mean'] : ['lastNotNull']
  return {
    id,
    type: 'stat',
    title: stat.label,
    description: describe(query, `From ${query.title}.`),
    datasource: DATASOURCE,
    gridPos: { x, y: 0, w: 4, h: 4 },
    targets: [target(query, false)],
    options: {
      reduceOptions: { calcs, fields: `/^${stat.column}$/`, values: false },
      colorMode: 'none',
      graphMode: 'area',
      textMode: 'value',
    },
    fieldConfig: { defaults: { unit: GRAFANA_UNITS[stat.unit] }, overrides: [] },
  }
}

function variables(): VariableModel[] {
  const projectSql =
    'SELECT DISTINCT project_id FROM agent_days ORDER BY project_id -- the row policy of the Grafana user decides what it sees'
  return [
    {
      type: 'datasource',
      name: 'datasource',
      label: 'Data source',
      query: PLUGIN_ID,
      current: {},
    },
    {
      type: 'query',
      name: VARIABLES.project,
      label: 'Project',
      datasource: DATASOURCE,
      query: { rawSql: projectSql, editorType: 'sql', pluginVersion: PLUGIN_VERSION },
      definition: projectSql,
      refresh: 1,
      current: {},
    },
    {
      type: 'custom',
      name: VARIABLES.tz,
      label: 'Time zone',
      description: 'Calendar days are counted in this IANA time zone (type any other one).',
      query:
        'UTC,America/Los_Angeles,America/New_York,Europe/London,Europe/Berlin,Asia/Kolkata,Asia/Tokyo,Australia/Sydney',
      allowCustomValue: true,
      current: { text: 'UTC', value: 'UTC' },
    },
    {
      type: 'query',
      name: VARIABLES.agent,
      label: 'Agent',
      datasource: DATASOURCE,
      query: {
        rawSql: `SELECT DISTINCT agent_id FROM agent_days WHERE project_id = \${${VARIABLES.project}:sqlstring} AND agent_id != '' ORDER BY agent_id`,
        editorType: 'sql',
        pluginVersion: PLUGIN_VERSION,
      },
      definition: `SELECT DISTINCT agent_id FROM agent_days WHERE project_id = \${${VARIABLES.project}:sqlstring} AND agent_id != '' ORDER BY agent_id`,
      refresh: 2,
      includeAll: true,
      // The saved queries' "all agents": an empty string, inserted as is (Grafana does not format a custom all value).
      allValue: "''",
      current: { text: 'All', value: '$__all' },
    },
  ] as VariableModel[]
}

/** The whole dashboard. `lookup` finds a saved query by name (the collector's registry). */
export function buildDashboard(lookup: Lookup): Dashboard {
  const panels: Panel[] = STATS.map((stat, index) => statPanel(stat, lookup, index + 1, index * 4))
  let x = 0
  let y = 4
  for (const [index, spec] of PANELS.entries()) {
    if (x + spec.width > 24) {
      x = 0
      y += 9
    }
    panels.push(panel(spec, lookup, 100 + index, { x, y, w: spec.width, h: spec.kind === 'table' ? 10 : 9 }))
    x += spec.width
  }
  return {
    uid: DASHBOARD_UID,
    title: 'daa — Daily Active Agents',
    description: 'Agents that work for people and deliver results: generated from the saved queries of daa.',
    tags: ['daa', 'agents'],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 41,
    version: 1,
    time: { from: 'now-30d/d', to: 'now/d' },
    timepicker: {},
    timezone: 'utc',
    refresh: '5m',
    fiscalYearStartMonth: 0,
    links: [],
    annotations: { list: [] },
    templating: { list: variables() },
    panels,
  }
}
