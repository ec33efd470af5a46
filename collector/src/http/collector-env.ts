import type { OtlpEncoding } from '../otlp/export-response.js'

/** Per-request values the collector's routes and its error handler share. */
export interface CollectorEnv {
  Variables: {
    /** The project of the request's API key, set once the key is checked. */
    projectId: string
    /** Set on OTLP routes, so errors are answered in the encoding the sender used. */
    otlpEncoding: OtlpEncoding
    transport: 'http'
  }
}
