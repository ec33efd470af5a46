/** Reported as the instrumentation scope version and in the exporter's User-Agent. */
export const SDK_VERSION = '0.1.0'
export const SDK_NAME = '@daa/sdk'
