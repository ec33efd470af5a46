import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js'
import { type ExportResult, ExportResultCode } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import type { ReadableSpan } from '@opentelemetry/sdk-trace'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { decodeProtobufRequest } from './decode-protobuf.js'
import type { DecodedRequest } from './decoded-span.js'
import { ExportRejectedError } from './errors.js'
import type { ExportOutcome } from './export-response.js'
import {
  type ExportHandler,
  type ExportRequestMetadata,
  type OtlpGrpcServer,
  startOtlpGrpcServer,
} from './grpc-server.js'
import { traceServiceExportPath } from './protobuf-schema.js'
import { decodeRpcStatus } from './rpc-status.js'
import { createOfficialSpans, expectedDecodedSpan } from './test-official-spans.js'

const accepted: ExportOutcome = { rejectedSpans: 0, errorMessage: '' }

interface ReceivedExport {
  request: DecodedRequest
  metadata: ExportRequestMetadata
}

let officialSpans: ReadableSpan[]
beforeAll(async () => {
  officialSpans = await createOfficialSpans()
})

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function startServer(
  handleExport: ExportHandler,
  options: {
    maxReceiveMessageBytes?: number
    shutdownGraceMs?: number
    onUnexpectedError?: (error: unknown) => void
  } = {},
): Promise<OtlpGrpcServer> {
  const server = await startOtlpGrpcServer({ host: '127.0.0.1', port: 0, handleExport, ...options })
  cleanups.push(() => server.close())
  return server
}

type OfficialExporterConfig = NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>
// The exporter types compression with an enum of @opentelemetry/otlp-exporter-base, a package we do not
// depend on directly; its 'gzip' member is this string.
const gzip = 'gzip' as OfficialExporterConfig['compression']

/** The official exporter, as an application would configure it. */
function officialExporter(
  port: number,
  config: Pick<OfficialExporterConfig, 'metadata' | 'compression'> = {},
) {
  const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${port}`, timeoutMillis: 5_000, ...config })
  cleanups.push(() => exporter.shutdown())
  return exporter
}

function exportWith(exporter: OTLPTraceExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve))
}

/** A bare grpc-js client: sends any bytes and returns the raw response or the full gRPC error. */
function rawExport(port: number, body: Uint8Array, metadata = new Metadata()): Promise<Buffer> {
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure())
  cleanups.push(() => client.close())
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      traceServiceExportPath,
      (request: Uint8Array) => Buffer.from(request),
      (response: Buffer) => response,
      body,
      metadata,
      (error, response) => (error ? reject(error) : resolve(response ?? Buffer.alloc(0))),
    )
  })
}

async function rawExportError(port: number, body: Uint8Array): Promise<ServiceError> {
  try {
    await rawExport(port, body)
  } catch (error) {
    return error as ServiceError
  }
  throw new Error('the export succeeded')
}

describe('OTLP/gRPC server', () => {
  it('receives the official gRPC exporter, spans and authorization metadata intact (gzip too)', async () => {
    const received: ReceivedExport[] = []
    const server = await startServer(async (metadata) => {
      received.push({ request: decodeProtobufRequest(metadata.body), metadata })
      return accepted
    })
    const metadata = new Metadata()
    metadata.set('authorization', 'Bearer daa_key_123')

    const plain = await exportWith(officialExporter(server.port, { metadata }), officialSpans)
    const gzipped = await exportWith(
      officialExporter(server.port, { metadata, compression: gzip }),
      officialSpans,
    )

    expect(plain).toEqual({ code: ExportResultCode.SUCCESS })
    expect(gzipped).toEqual({ code: ExportResultCode.SUCCESS })
    expect(received).toHaveLength(2)
    const bySpanId = (left: { spanId: string }, right: { spanId: string }) =>
      left.spanId.localeCompare(right.spanId)
    const expected = officialSpans.map(expectedDecodedSpan).sort(bySpanId)
    for (const { request, metadata: receivedMetadata } of received) {
      expect(receivedMetadata.authorization).toBe('Bearer daa_key_123')
      // The raw message comes along (decompressed): the handler decodes it once the key is checked.
      expect(request.rejectedSpans).toBe(0)
      expect([...request.spans].sort(bySpanId)).toEqual(expected)
    }
  })

  it('passes no authorization when the sender sets none', async () => {
    const received: ExportRequestMetadata[] = []
    const server = await startServer(async (metadata) => {
      received.push(metadata)
      return accepted
    })
    await exportWith(officialExporter(server.port), officialSpans)
    expect(received).toHaveLength(1)
    expect(received[0]!.authorization).toBeUndefined()
  })

  it('answers UNAUTHENTICATED when the handler refuses the key, and the exporter reports the failure', async () => {
    const server = await startServer(async (metadata) => {
      throw new ExportRejectedError(
        'unauthenticated',
        `unknown API key ${metadata.authorization ?? '(none)'}`,
      )
    })
    const metadata = new Metadata()
    metadata.set('authorization', 'Bearer wrong')
    const result = await exportWith(officialExporter(server.port, { metadata }), officialSpans)
    expect(result.code).toBe(ExportResultCode.FAILED)
    expect((result.error as ServiceError).code).toBe(status.UNAUTHENTICATED)
    expect((result.error as ServiceError).details).toBe('unknown API key Bearer wrong')
  })

  it('answers a partial success with an ExportTraceServiceResponse the official deserializer reads', async () => {
    const server = await startServer(async (metadata) => ({
      rejectedSpans: decodeProtobufRequest(metadata.body).rejectedSpans + 2,
      errorMessage: 'two spans were over the attribute limit',
    }))
    const body = ProtobufTraceSerializer.serializeRequest(officialSpans)!
    const response = await rawExport(server.port, body)
    expect(ProtobufTraceSerializer.deserializeResponse(response)).toEqual({
      partialSuccess: { rejectedSpans: 2, errorMessage: 'two spans were over the attribute limit' },
    })
  })

  it('answers a full success with an empty response', async () => {
    const server = await startServer(async () => accepted)
    const response = await rawExport(server.port, ProtobufTraceSerializer.serializeRequest(officialSpans)!)
    expect(response).toHaveLength(0)
  })

  it('answers INVALID_ARGUMENT for a body that is not an ExportTraceServiceRequest', async () => {
    let decoded = false
    const server = await startServer(async (metadata) => {
      // As the collector does: the key first (none here), then the decode, which throws.
      decodeProtobufRequest(metadata.body)
      decoded = true
      return accepted
    })
    const error = await rawExportError(server.port, new Uint8Array([0x0a, 0xff]))
    expect(error.code).toBe(status.INVALID_ARGUMENT)
    expect(error.details).toMatch(/not a protobuf ExportTraceServiceRequest/)
    expect(decoded).toBe(false)
  })

  it.each([
    ['invalid', status.INVALID_ARGUMENT],
    ['too_large', status.RESOURCE_EXHAUSTED],
    ['unavailable', status.UNAVAILABLE],
    ['overloaded', status.UNAVAILABLE],
  ] as const)('maps a %s rejection to gRPC status %i', async (kind, expectedCode) => {
    const server = await startServer(async () => {
      throw new ExportRejectedError(kind, `refused: ${kind}`)
    })
    const error = await rawExportError(server.port, new Uint8Array())
    expect(error.code).toBe(expectedCode)
    expect(error.details).toBe(`refused: ${kind}`)
  })

  it('tells an overloaded sender when to retry with RetryInfo', async () => {
    const server = await startServer(async () => {
      throw new ExportRejectedError('overloaded', 'ingest queue full', { retryAfterSeconds: 2.5 })
    })
    const error = await rawExportError(server.port, new Uint8Array())
    expect(error.code).toBe(status.UNAVAILABLE)
    const [details] = error.metadata.get('grpc-status-details-bin')
    expect(details).toBeInstanceOf(Buffer)
    expect(decodeRpcStatus(details as Buffer)).toEqual({
      code: status.UNAVAILABLE,
      message: 'ingest queue full',
      retryAfterSeconds: 2.5,
    })
  })

  it('answers INTERNAL, without details, for an unexpected handler error', async () => {
    const unexpected: unknown[] = []
    const server = await startServer(
      async () => {
        throw new Error('connection string postgres://secret')
      },
      { onUnexpectedError: (error) => unexpected.push(error) },
    )
    const error = await rawExportError(server.port, new Uint8Array())
    expect(error.code).toBe(status.INTERNAL)
    expect(error.details).toBe('internal error')
    expect(unexpected).toHaveLength(1)
  })

  it('answers RESOURCE_EXHAUSTED for a request over the size limit, also when it is only large once decompressed', async () => {
    let handled = false
    const server = await startServer(
      async () => {
        handled = true
        return accepted
      },
      { maxReceiveMessageBytes: 1024 },
    )
    const body = ProtobufTraceSerializer.serializeRequest(officialSpans)!
    expect(body.length).toBeGreaterThan(1024)
    expect((await rawExportError(server.port, body)).code).toBe(status.RESOURCE_EXHAUSTED)

    // Repetitive spans compress far below the limit but decompress above it.
    const manySpans = Array.from({ length: 20 }, () => officialSpans).flat()
    const result = await exportWith(officialExporter(server.port, { compression: gzip }), manySpans)
    expect((result.error as ServiceError).code).toBe(status.RESOURCE_EXHAUSTED)
    expect(handled).toBe(false)
  })

  it('lets an in-flight export finish on close, within the grace period', async () => {
    let finishExport = () => {}
    let exportStarted = () => {}
    const started = new Promise<void>((resolve) => {
      exportStarted = resolve
    })
    const server = await startOtlpGrpcServer({
      host: '127.0.0.1',
      port: 0,
      handleExport: () => {
        exportStarted()
        return new Promise((resolve) => {
          finishExport = () => resolve(accepted)
        })
      },
    })
    const response = rawExport(server.port, new Uint8Array())
    await started
    const closed = server.close()
    finishExport()
    await expect(response).resolves.toHaveLength(0)
    await closed
  })

  it('cuts off exports still running when the grace period ends', async () => {
    const server = await startOtlpGrpcServer({
      host: '127.0.0.1',
      port: 0,
      shutdownGraceMs: 100,
      handleExport: () => new Promise<ExportOutcome>(() => {}),
    })
    const response = rawExport(server.port, new Uint8Array())
    await new Promise((resolve) => setTimeout(resolve, 50))
    await server.close()
    await expect(response).rejects.toMatchObject({ code: expect.any(Number) })
  })
})
