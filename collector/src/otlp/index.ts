/** The OTLP wire layer: decoding OTLP/protobuf, OTLP/JSON and OTLP/gRPC into DecodedRequest, and the responses. */

export { decodeJsonRequest } from './decode-json.js'
export { decodeProtobufRequest } from './decode-protobuf.js'
export type {
  Attributes,
  AttributeValue,
  DecodedEvent,
  DecodedLink,
  DecodedRequest,
  DecodedSpan,
  StatusCode,
} from './decoded-span.js'
export {
  ExportRejectedError,
  type ExportRejectedErrorOptions,
  type ExportRejectionKind,
  OtlpDecodeError,
} from './errors.js'
export {
  type ExportOutcome,
  encodeExportResponse,
  exportOutcomeOf,
  type OtlpEncoding,
} from './export-response.js'
export {
  type ExportHandler,
  type ExportRequestMetadata,
  type OtlpGrpcServer,
  type OtlpGrpcServerOptions,
  startOtlpGrpcServer,
} from './grpc-server.js'
