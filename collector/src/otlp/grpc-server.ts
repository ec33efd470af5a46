/**
 * OTLP/gRPC: serves `opentelemetry.proto.collector.trace.v1.TraceService/Export` with @grpc/grpc-js.
 * The service definition is built by hand around our own protobuf (de)serialisation, so no .proto file
 * or @grpc/proto-loader is needed at run time. grpc-js itself handles gzip request compression and the
 * message size limit (answering RESOURCE_EXHAUSTED, as the OTLP specification requires).
 */
import { Buffer } from 'node:buffer'
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js'
import { ExportRejectedError, type ExportRejectionKind, OtlpDecodeError } from './errors.js'
import { type ExportOutcome, encodeExportResponse } from './export-response.js'
import { traceServiceExportPath } from './protobuf-schema.js'
import { encodeRpcStatus } from './rpc-status.js'

/** What the transport passes on from the request besides the spans. */
export interface ExportRequestMetadata {
  /** The `authorization` metadata value (e.g. `Bearer <key>`), if the sender set one. */
  authorization?: string
  /** The request message as received (protobuf, decompressed), for the write-ahead log. */
  body: Uint8Array
}

/**
 * Accepts an export: checks its key first, then decodes the message (so an unauthenticated caller
 * never costs a decode). Resolves with the outcome to report (rejected spans, message) once the
 * accepted spans are durable; throws ExportRejectedError to refuse the whole request, or
 * OtlpDecodeError for a message that is not an export request.
 */
export type ExportHandler = (metadata: ExportRequestMetadata) => Promise<ExportOutcome>

export interface OtlpGrpcServerOptions {
  host: string
  /** 0 picks a free port; read the bound one from the returned server. */
  port: number
  handleExport: ExportHandler
  /** PEM certificate chain and private key: serve TLS only. Default: none (plaintext). */
  tls?: { cert: Buffer; key: Buffer }
  /** Largest request accepted, after decompression. Default 64 MiB, the OTLP specification's advice. */
  maxReceiveMessageBytes?: number
  /** How long close() lets in-flight exports finish before cutting them off. Default 10 s. */
  shutdownGraceMs?: number
  /** Called with errors that are not ExportRejectedError (they are answered with INTERNAL). */
  onUnexpectedError?: (error: unknown) => void
}

export interface OtlpGrpcServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number
  /** Stops accepting calls, waits for in-flight ones up to the grace period, then cuts the rest off. */
  close(): Promise<void>
}

const defaultMaxReceiveMessageBytes = 64 * 1024 * 1024
const defaultShutdownGraceMs = 10_000

/**
 * gRPC status per rejection kind. Retryable per the OTLP specification: UNAVAILABLE always,
 * RESOURCE_EXHAUSTED only with RetryInfo, which is why an overloaded collector answers UNAVAILABLE (the
 * specification's throttling signal) and an oversized request RESOURCE_EXHAUSTED without RetryInfo.
 */
const statusByRejectionKind: Record<ExportRejectionKind, status> = {
  unauthenticated: status.UNAUTHENTICATED,
  invalid: status.INVALID_ARGUMENT,
  too_large: status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  overloaded: status.UNAVAILABLE,
}

function toServiceError(error: unknown, onUnexpectedError: ((error: unknown) => void) | undefined) {
  if (error instanceof ExportRejectedError) {
    const code = statusByRejectionKind[error.kind]
    const serviceError: ServerErrorResponse = {
      name: error.name,
      message: error.message,
      code,
      details: error.message,
    }
    if (error.retryAfterSeconds !== undefined && code === status.UNAVAILABLE) {
      // RetryInfo rides in a google.rpc.Status in this trailer, where gRPC clients look for status details.
      const { message, retryAfterSeconds } = error
      serviceError.metadata = new Metadata()
      serviceError.metadata.set(
        'grpc-status-details-bin',
        Buffer.from(encodeRpcStatus({ code, message, retryAfterSeconds }, 'protobuf')),
      )
    }
    return serviceError
  }
  if (error instanceof OtlpDecodeError) {
    return { name: error.name, message: error.message, code: status.INVALID_ARGUMENT, details: error.message }
  }
  onUnexpectedError?.(error)
  // Details stay generic: the message of an unexpected error may describe internals.
  return { name: 'Error', message: 'internal error', code: status.INTERNAL, details: 'internal error' }
}

function firstStringValue(metadata: Metadata, key: string): string | undefined {
  const [value] = metadata.get(key)
  return typeof value === 'string' ? value : undefined
}

/** `host:port` for grpc-js, bracketing IPv6 literals. */
function bindAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`
}

export async function startOtlpGrpcServer(options: OtlpGrpcServerOptions): Promise<OtlpGrpcServer> {
  const { handleExport, onUnexpectedError } = options
  const shutdownGraceMs = options.shutdownGraceMs ?? defaultShutdownGraceMs

  // Requests stay raw bytes through grpc-js and are decoded in the handler, after the key is checked,
  // so that a decode failure is answered with INVALID_ARGUMENT (grpc-js would answer a throwing
  // deserializer with INTERNAL).
  const traceService: ServiceDefinition = {
    Export: {
      path: traceServiceExportPath,
      requestStream: false,
      responseStream: false,
      requestSerialize: (request: Buffer) => request,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: (outcome: ExportOutcome) => Buffer.from(encodeExportResponse(outcome, 'protobuf')),
      // Only used by clients; the server never reads a response.
      responseDeserialize: (bytes: Buffer) => bytes,
    },
  }

  const exportHandler = (
    call: ServerUnaryCall<Buffer, ExportOutcome>,
    callback: sendUnaryData<ExportOutcome>,
  ) => {
    const metadata: ExportRequestMetadata = { body: call.request }
    const authorization = firstStringValue(call.metadata, 'authorization')
    if (authorization !== undefined) metadata.authorization = authorization
    Promise.resolve()
      .then(() => handleExport(metadata))
      .then(
        (outcome) => callback(null, outcome),
        (error: unknown) => callback(toServiceError(error, onUnexpectedError)),
      )
  }

  const server = new Server({
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? defaultMaxReceiveMessageBytes,
  })
  server.addService(traceService, { Export: exportHandler })

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      bindAddress(options.host, options.port),
      options.tls
        ? ServerCredentials.createSsl(null, [{ cert_chain: options.tls.cert, private_key: options.tls.key }])
        : ServerCredentials.createInsecure(),
      (error, boundPort) => {
        if (!error) return resolve(boundPort)
        // Nothing was bound: release what the server holds so a failed start leaves no handle open.
        server.forceShutdown()
        reject(error)
      },
    )
  })

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      const forceTimer = setTimeout(() => {
        server.forceShutdown()
        resolve()
      }, shutdownGraceMs)
      forceTimer.unref()
      server.tryShutdown(() => {
        clearTimeout(forceTimer)
        resolve()
      })
    })
    return closing
  }
  return { port, close }
}
