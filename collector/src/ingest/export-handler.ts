import { ApiKeyResolver } from '../auth/api-keys.js'
import { mapSpans } from '../mapping/map-spans.js'
import type { PriceTable } from '../mapping/prices.js'
import { decodeExportBody } from '../otlp/decode-request.js'
import type { DecodedRequest } from '../otlp/decoded-span.js'
import { ExportRejectedError } from '../otlp/errors.js'
import { type ExportOutcome, exportOutcomeOf } from '../otlp/export-response.js'
import type { MappedRows } from '../store/rows.js'
import type { IngestMetrics } from './ingest-metrics.js'
import type { IngestPipeline } from './ingest-pipeline.js'
import type { WalRecord } from './write-ahead-log.js'

export interface ExportHandlerDependencies {
  keys: ApiKeyResolver
  pipeline: IngestPipeline
  prices: PriceTable
  metrics: IngestMetrics
}

/** The project that owns the request's key; refuses the request when there is none. */
export async function authenticate(keys: ApiKeyResolver, authorization: string | undefined): Promise<string> {
  const key = ApiKeyResolver.keyFromHeader(authorization)
  if (!key) {
    throw new ExportRejectedError(
      'unauthenticated',
      'Missing API key: send the header "Authorization: Bearer <key>".',
    )
  }
  let projectId: string | undefined
  try {
    projectId = await keys.projectFor(key)
  } catch (error) {
    throw new ExportRejectedError(
      'unavailable',
      'ClickHouse is unreachable, so the API key cannot be checked.',
      {
        retryAfterSeconds: 5,
        cause: error,
      },
    )
  }
  if (!projectId) throw new ExportRejectedError('unauthenticated', 'Unknown or revoked API key.')
  const retryAfterSeconds = keys.throttle(key)
  if (retryAfterSeconds > 0) {
    const { requestsPerSecond, burst } = keys.rateLimit
    throw new ExportRejectedError(
      'overloaded',
      `This API key is over its rate limit of ${requestsPerSecond} requests/s (bursts of ${burst}); retry later.`,
      { retryAfterSeconds },
    )
  }
  return projectId
}

/**
 * The transport-independent core of an export: map the decoded spans of an authenticated
 * project and hand them to the pipeline; resolves once they are durable.
 */
export async function acceptExport(
  dependencies: ExportHandlerDependencies,
  record: WalRecord,
  request: DecodedRequest,
): Promise<ExportOutcome> {
  const { metrics } = dependencies
  metrics.spansReceived.inc(request.spans.length + request.rejectedSpans)
  if (request.rejectedSpans > 0) metrics.spansRejected.inc(request.rejectedSpans)
  const rows = mapSpans(record.projectId, request.spans, dependencies.prices)
  await dependencies.pipeline.accept(record, rows)
  return exportOutcomeOf(request)
}

/** Decodes a logged request body again and maps it, exactly as when it arrived (for replay). */
export function materializeRecord(prices: PriceTable, record: WalRecord): MappedRows {
  return mapSpans(record.projectId, decodeExportBody(record.encoding, record.body).spans, prices)
}
