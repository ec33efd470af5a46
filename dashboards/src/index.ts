/**
 * @daa/dashboards: the panels of both dashboards, the Grafana generator, and where the built-in
 * page's files are (the collector serves them at `/`).
 */
import { fileURLToPath } from 'node:url'

export { GENERATED_DIR, generatedFiles, writeGeneratedFiles } from './generate.js'
export { buildDashboard, DASHBOARD_UID } from './grafana/dashboard.js'
export {
  ALERTS,
  type AlertSpec,
  alertRulesYaml,
  alertSql,
  dashboardsYaml,
  datasourcesYaml,
  PROVISIONING_ENV,
  READ_ONLY_USER,
} from './grafana/provisioning.js'
export {
  ClickHouseQuery,
  DATASOURCE_UID,
  DataSourceRef,
  PLUGIN_ID,
  PLUGIN_VERSION,
  QueryFormat,
} from './grafana/query.js'
export {
  bindSavedQuery,
  DASHBOARD_BINDING,
  type ParameterBinding,
  UnmappedParameterError,
  VARIABLES,
} from './grafana/sql.js'
export * from './panels.js'

/** The built page (index.html and its assets), written by the package's build. */
export const PAGE_DIR = fileURLToPath(new URL('../dist/page/', import.meta.url))
