/**
 * google.rpc.Status: the error body of OTLP/HTTP (in the request's encoding) and, with a RetryInfo detail,
 * the `grpc-status-details-bin` trailer by which an OTLP/gRPC server tells a throttled sender how long to
 * wait (the OTLP specification's throttling section; the Go exporters, and so the OpenTelemetry Collector,
 * honour it; senders that ignore it fall back to exponential backoff).
 */
import protobuf from 'protobufjs/light.js'
import type { OtlpEncoding } from './export-response.js'

// The googleapis and protobuf well-known messages involved, with their published field numbers.
const root = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Any: { fields: { typeUrl: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
            Duration: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
          },
        },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
            RetryInfo: { fields: { retryDelay: { type: 'google.protobuf.Duration', id: 1 } } },
          },
        },
      },
    },
  },
})
const statusType = root.lookupType('google.rpc.Status')
const retryInfoType = root.lookupType('google.rpc.RetryInfo')
const retryInfoTypeUrl = 'type.googleapis.com/google.rpc.RetryInfo'

export interface RpcStatus {
  /** A gRPC status code (3 INVALID_ARGUMENT, 14 UNAVAILABLE, ...). */
  code: number
  message: string
  /** Adds a google.rpc.RetryInfo detail with this delay. */
  retryAfterSeconds?: number
}

function splitSeconds(seconds: number): { seconds: number; nanos: number } {
  const wholeSeconds = Math.max(0, Math.floor(seconds))
  return { seconds: wholeSeconds, nanos: Math.max(0, Math.round((seconds - wholeSeconds) * 1e9)) }
}

/** Encodes a google.rpc.Status; JSON follows the proto3 JSON mapping (Any with "@type", Duration as "1.5s"). */
export function encodeRpcStatus(status: RpcStatus, encoding: 'protobuf'): Uint8Array
export function encodeRpcStatus(status: RpcStatus, encoding: 'json'): string
export function encodeRpcStatus(status: RpcStatus, encoding: OtlpEncoding): Uint8Array | string
export function encodeRpcStatus(status: RpcStatus, encoding: OtlpEncoding): Uint8Array | string {
  const { code, message, retryAfterSeconds } = status
  const delay = retryAfterSeconds === undefined ? undefined : splitSeconds(retryAfterSeconds)
  if (encoding === 'json') {
    // proto3 JSON leaves out an empty repeated field.
    if (delay === undefined) return JSON.stringify({ code, message })
    const retryInfo = { '@type': retryInfoTypeUrl, retryDelay: `${delay.seconds + delay.nanos / 1e9}s` }
    return JSON.stringify({ code, message, details: [retryInfo] })
  }
  const details =
    delay === undefined
      ? []
      : [{ typeUrl: retryInfoTypeUrl, value: retryInfoType.encode({ retryDelay: delay }).finish() }]
  return statusType.encode({ code, message, details }).finish()
}

/** Reads a binary google.rpc.Status back (for tests and diagnostics), with its RetryInfo delay if any. */
export function decodeRpcStatus(bytes: Uint8Array): RpcStatus {
  const status = statusType.toObject(statusType.decode(bytes), { longs: Number, defaults: true }) as {
    code: number
    message: string
    details: Array<{ typeUrl: string; value: Uint8Array }>
  }
  const decoded: RpcStatus = { code: status.code, message: status.message }
  const retryInfo = status.details.find(({ typeUrl }) => typeUrl === retryInfoTypeUrl)
  if (retryInfo !== undefined) {
    const { retryDelay } = retryInfoType.toObject(retryInfoType.decode(retryInfo.value), {
      longs: Number,
      defaults: true,
    }) as { retryDelay?: { seconds: number; nanos: number } }
    decoded.retryAfterSeconds = (retryDelay?.seconds ?? 0) + (retryDelay?.nanos ?? 0) / 1e9
  }
  return decoded
}
