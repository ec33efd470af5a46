export const dashboardsVersion = '0.1.0'
