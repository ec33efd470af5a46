/**
 * The query object of the official ClickHouse data source (`grafana-clickhouse-datasource`, 4.x),
 * as a zod schema: every generated panel target and alert query is parsed with it.
 *
 * `pluginVersion` matters: a target without it, or with a 3.x one, is taken for a v3 query and
 * migrated by the plugin (its editor rewrites the query), so every target carries a 4.x version.
 */
import { z } from 'zod'

export const PLUGIN_ID = 'grafana-clickhouse-datasource'
/** The plugin version the generated queries are written for (any 4.x reads them unmigrated). */
export const PLUGIN_VERSION = '4.11.1'
/** The provisioned data source's uid; dashboards reach it through the `datasource` variable. */
export const DATASOURCE_UID = 'daa-clickhouse'

/** The plugin's `Format` enum (src/types/sql.ts): how the rows become data frames. */
export const QueryFormat = { TimeSeries: 0, Table: 1 } as const

export const DataSourceRef = z.strictObject({
  type: z.literal(PLUGIN_ID),
  // A fixed uid, or a dashboard's data source variable; never a `${DS_…}` import input, which
  // file provisioning cannot fill in.
  uid: z
    .string()
    .min(1)
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's import-input syntax, not a JS template
    .refine((uid) => !uid.startsWith('${DS_'), 'must not be a ${DS_…} import input'),
})

export const ClickHouseQuery = z.strictObject({
  refId: z.string().regex(/^[A-Z]+$/),
  datasource: DataSourceRef,
  editorType: z.literal('sql'),
  queryType: z.enum(['timeseries', 'table']),
  format: z.union([z.literal(QueryFormat.TimeSeries), z.literal(QueryFormat.Table)]),
  rawSql: z.string().min(1),
  pluginVersion: z.string().regex(/^4\.\d+\.\d+$/, 'must be a 4.x version, or the plugin migrates the query'),
})

export type ClickHouseQuery = z.infer<typeof ClickHouseQuery>
