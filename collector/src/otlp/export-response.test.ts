import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { describe, expect, it } from 'vitest'
import { decodeJsonRequest } from './decode-json.js'
import { encodeExportResponse, exportOutcomeOf } from './export-response.js'
import { exportTraceServiceResponseType } from './protobuf-schema.js'
import { decodeRpcStatus, encodeRpcStatus } from './rpc-status.js'

describe('encodeExportResponse', () => {
  it('leaves partial_success unset on full success', () => {
    const outcome = { rejectedSpans: 0, errorMessage: '' }
    expect(encodeExportResponse(outcome, 'protobuf')).toHaveLength(0)
    expect(encodeExportResponse(outcome, 'json')).toBe('{}')
  })

  it('reports rejected spans in a form the official JS deserializers read', () => {
    const outcome = { rejectedSpans: 3, errorMessage: '3 spans rejected: spanId is not 8 bytes' }
    const expected = {
      partialSuccess: { rejectedSpans: 3, errorMessage: '3 spans rejected: spanId is not 8 bytes' },
    }
    expect(ProtobufTraceSerializer.deserializeResponse(encodeExportResponse(outcome, 'protobuf'))).toEqual(
      expected,
    )
    const json = encodeExportResponse(outcome, 'json')
    expect(json).toBe(
      '{"partialSuccess":{"rejectedSpans":3,"errorMessage":"3 spans rejected: spanId is not 8 bytes"}}',
    )
    expect(JsonTraceSerializer.deserializeResponse(new TextEncoder().encode(json))).toEqual(expected)
  })

  it('sets partial_success for a warning without rejected spans, as the specification allows', () => {
    const outcome = { rejectedSpans: 0, errorMessage: 'attribute daa.cost.usd should be a double' }
    const decoded = exportTraceServiceResponseType.toObject(
      exportTraceServiceResponseType.decode(encodeExportResponse(outcome, 'protobuf')),
      { longs: Number, defaults: true },
    )
    expect(decoded).toEqual({ partialSuccess: outcome })
  })

  it('builds the outcome of a decoded request from its rejections', () => {
    const request = decodeJsonRequest(
      JSON.stringify({
        resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'a' }, { name: 'b', spanId: 'ab' }] }] }],
      }),
    )
    expect(exportOutcomeOf(request)).toEqual({
      rejectedSpans: 2,
      errorMessage:
        '2 spans rejected: traceId is not 16 bytes (32 hex digits) or is all zero (first: span "a")',
    })
  })
})

describe('encodeRpcStatus (the OTLP/HTTP error body)', () => {
  it('encodes a google.rpc.Status in protobuf and in proto3 JSON', () => {
    expect(decodeRpcStatus(encodeRpcStatus({ code: 16, message: 'unknown API key' }, 'protobuf'))).toEqual({
      code: 16,
      message: 'unknown API key',
    })
    expect(JSON.parse(encodeRpcStatus({ code: 3, message: 'bad body' }, 'json'))).toEqual({
      code: 3,
      message: 'bad body',
    })
  })

  it('carries RetryInfo when a retry delay is given', () => {
    const status = { code: 14, message: 'overloaded', retryAfterSeconds: 1.5 }
    expect(decodeRpcStatus(encodeRpcStatus(status, 'protobuf'))).toEqual(status)
    expect(JSON.parse(encodeRpcStatus(status, 'json')).details).toEqual([
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' },
    ])
  })
})
