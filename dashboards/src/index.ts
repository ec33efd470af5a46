/** The package's version; the dashboards themselves are not built yet (see README). */
export const dashboardsVersion = '0.1.0'
