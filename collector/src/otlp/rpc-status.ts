/**
 * google.rpc.Status: the body of every OTLP/HTTP error response (and, with RetryInfo details, the
 * gRPC throttling hint). Field numbers are those published in googleapis.
 */
import protobuf from 'protobufjs/light.js'

export const rpcStatusRoot = protobuf.Root.fromJSON({
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

export const rpcStatusType = rpcStatusRoot.lookupType('google.rpc.Status')

export interface RpcStatus {
  /** A gRPC status code, e.g. 3 INVALID_ARGUMENT, 14 UNAVAILABLE. */
  code: number
  message: string
}

/** Encodes a Status in the encoding of the request it answers (OTLP/HTTP error bodies). */
export function encodeRpcStatus(status: RpcStatus, encoding: 'protobuf' | 'json'): Uint8Array | string {
  if (encoding === 'json') return JSON.stringify({ code: status.code, message: status.message })
  return rpcStatusType.encode({ code: status.code, message: status.message }).finish()
}

/** Decodes a protobuf Status body (used by tests and clients that read error responses). */
export function decodeRpcStatus(bytes: Uint8Array): RpcStatus {
  const decoded = rpcStatusType.toObject(rpcStatusType.decode(bytes), { defaults: true }) as RpcStatus
  return { code: decoded.code, message: decoded.message }
}
