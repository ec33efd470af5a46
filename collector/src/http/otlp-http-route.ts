import type { IncomingMessage } from 'node:http'
import type { Hono } from 'hono'
import { acceptExport, authenticate, type ExportHandlerDependencies } from '../ingest/export-handler.js'
import { encodeExportResponse, type OtlpEncoding } from '../otlp/export-response.js'
import type { CollectorEnv } from './collector-env.js'
import { HttpError } from './http-error.js'
import { readBoundedBody } from './read-body.js'

const MEDIA_TYPES: Record<string, OtlpEncoding> = {
  'application/x-protobuf': 'protobuf',
  'application/protobuf': 'protobuf',
  'application/json': 'json',
}

export const CONTENT_TYPES: Record<OtlpEncoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
}

export interface OtlpHttpRouteOptions extends ExportHandlerDependencies {
  /** Largest body accepted, after decompression. */
  maxBodyBytes: number
}

/** `POST /v1/traces`, per the OTLP/HTTP specification (protobuf or JSON, optionally gzip). */
export function registerOtlpHttpRoute(app: Hono<CollectorEnv>, options: OtlpHttpRouteOptions): void {
  app.post('/v1/traces', async (c) => {
    c.set('transport', 'http')
    const mediaType = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
    const encoding = MEDIA_TYPES[mediaType]
    if (!encoding) {
      // Still a google.rpc.Status, as every OTLP error is: in JSON, the one a person can read.
      c.set('otlpEncoding', 'json')
      throw new HttpError(
        415,
        `Unsupported Content-Type "${mediaType}": send application/x-protobuf or application/json.`,
        'unsupported_media_type',
      )
    }
    c.set('otlpEncoding', encoding)
    // The key is checked before a byte of the body is read.
    const projectId = await authenticate(options.keys, c.req.header('authorization'))
    const outcome = await acceptExport(options, projectId, encoding, () =>
      readBoundedBody(
        c.req.raw,
        c.req.header('content-encoding'),
        options.maxBodyBytes,
        // Set by @hono/node-server; absent under app.request(), which reads the web Request.
        (c.env as { incoming?: IncomingMessage } | undefined)?.incoming,
      ),
    )
    options.metrics.requests.inc({ transport: 'http', status: '200' })
    const payload = encodeExportResponse(outcome, encoding)
    return c.body(payload as Uint8Array<ArrayBuffer> | string, 200, {
      'content-type': CONTENT_TYPES[encoding],
    })
  })
}
