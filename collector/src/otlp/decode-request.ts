import { decodeJsonRequest } from './decode-json.js'
import { decodeProtobufRequest } from './decode-protobuf.js'
import type { DecodedRequest } from './decoded-span.js'
import type { OtlpEncoding } from './export-response.js'

/** Decodes an export request body in the encoding it was sent with (on arrival, and on replay from the log). */
export function decodeExportBody(encoding: OtlpEncoding, body: Uint8Array): DecodedRequest {
  return encoding === 'json' ? decodeJsonRequest(new TextDecoder().decode(body)) : decodeProtobufRequest(body)
}
