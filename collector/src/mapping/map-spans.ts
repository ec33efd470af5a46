/**
 * Decoded spans → the rows of the spans, runs and outcomes tables (the data contract in
 * collector/README.md; column meanings in store/rows.ts).
 *
 * Runs on the ingest hot path (50k+ spans/s on one core), so it is one linear pass plus a memoised
 * parent walk, with Map/Set lookups instead of regexes and no JSON round trips. It never throws on
 * attribute values: a value of the wrong type reads as absent.
 */
import { DAA_COST_USD, DAA_PARENT_RUN_ID, ERROR_TYPE } from '@daa/sdk/attributes'
import type { Attributes, DecodedEvent, DecodedLink, DecodedSpan } from '../otlp/decoded-span.js'
import type { AttributeMap, MappedRows, OutcomeRow, RunRow, SpanRow } from '../store/rows.js'
import { readCost, readSpanId, readText, renderAttributes } from './attribute-readers.js'
import { mergeNestedSameAgentRuns } from './nested-runs.js'
import { outcomeOf } from './outcomes.js'
import { costUsd, type PriceTable } from './prices.js'
import { BatchRunResolver, declaredRunIdOf } from './run-resolution.js'
import { isLlmCall, OPERATION_INVOKE_AGENT, readSpanSemantics, type SpanSemantics } from './span-semantics.js'

/** OTLP SpanKind numbers → OpenTelemetry's names; anything out of range is UNSPECIFIED. */
const SPAN_KIND_NAMES: readonly string[] = [
  'UNSPECIFIED',
  'INTERNAL',
  'SERVER',
  'CLIENT',
  'PRODUCER',
  'CONSUMER',
]
const STATUS_CODE_NAMES: readonly string[] = ['UNSET', 'OK', 'ERROR']
const STATUS_ERROR = 2

/**
 * Span attributes daa adds to every stored span, so each mapping decision can be looked up:
 * which conventions read the span (the one that decided its operation first), and for a nested
 * span of the same agent, the run span it was merged into.
 */
export const CONVENTION_ATTRIBUTE = 'daa.convention'
export const MERGED_INTO_RUN_ATTRIBUTE = 'daa.run.merged_into'

/** `error.type` as the GenAI conventions define it for a failure whose type nobody named. */
const UNKNOWN_ERROR_TYPE = '_OTHER'

interface RenderedResource {
  attributes: AttributeMap
  serviceName: string
}

/**
 * Resource attributes are shared by every span of one resource (the decoders reuse the object), so
 * they are rendered once per resource and batch. The rendered map is shared between those rows too:
 * rows are read-only once mapped.
 */
class ResourceRenderer {
  readonly #rendered = new Map<Attributes, RenderedResource>()

  render(resource: Attributes): RenderedResource {
    let rendered = this.#rendered.get(resource)
    if (rendered === undefined) {
      rendered = {
        attributes: renderAttributes(resource),
        serviceName: readText(resource['service.name']) ?? '',
      }
      this.#rendered.set(resource, rendered)
    }
    return rendered
  }
}

function durationNs(span: DecodedSpan): number {
  const duration = span.endTimeUnixNano - span.startTimeUnixNano
  return duration > 0n ? Number(duration) : 0
}

/**
 * `error.type` when the sender set it; for a failed span without one, the type of its recorded
 * exception, else '_OTHER'; '' for a span that did not fail.
 */
function errorTypeOf(span: DecodedSpan): string {
  const declared = readText(span.attributes[ERROR_TYPE])
  if (declared !== undefined) return declared
  if (span.status.code !== STATUS_ERROR) return ''
  for (const event of span.events) {
    if (event.name !== 'exception') continue
    const exceptionType = readText(event.attributes['exception.type'])
    if (exceptionType !== undefined) return exceptionType
  }
  return UNKNOWN_ERROR_TYPE
}

/** `daa.cost.usd` when the sender set a usable one (a finite number of 0 or more). */
function declaredCostOf(span: DecodedSpan): number | undefined {
  return readCost(span.attributes[DAA_COST_USD])
}

/**
 * A span's own cost: the sender's `daa.cost.usd`, else, for an LLM call, its tokens priced by the
 * response model (what actually ran), else the request model; else 0. Agent runs and wrapper spans
 * are never priced from tokens: their usage repeats their calls' usage.
 */
function spanCostOf(span: DecodedSpan, semantics: SpanSemantics, prices: PriceTable): number {
  const declared = declaredCostOf(span)
  if (declared !== undefined) return declared
  if (!isLlmCall(semantics.operation)) return 0
  const price = prices.priceOf(semantics.responseModel) ?? prices.priceOf(semantics.requestModel)
  return price === undefined ? 0 : costUsd(price, semantics)
}

function appendEvents(row: SpanRow, events: readonly DecodedEvent[]): void {
  for (const event of events) {
    row['events.timestamp'].push(event.timeUnixNano.toString())
    row['events.name'].push(event.name)
    row['events.attributes'].push(renderAttributes(event.attributes))
  }
}

function appendLinks(row: SpanRow, links: readonly DecodedLink[]): void {
  for (const link of links) {
    row['links.trace_id'].push(link.traceId)
    row['links.span_id'].push(link.spanId)
    row['links.trace_state'].push(link.traceState)
    row['links.attributes'].push(renderAttributes(link.attributes))
  }
}

/**
 * Maps one batch of decoded spans of one project to table rows:
 * - one SpanRow per span;
 * - one RunRow per agent run (`invoke_agent` span, or a recognised third-party agent span), a
 *   nested span of the same agent merged into the run around it (nested-runs.ts);
 * - one OutcomeRow per run span carrying a valid `daa.outcome`, and per late `daa.outcome` span with
 *   a valid `daa.run.id`.
 *
 * A span counts toward its own run when it is one; else the run in its `daa.run.id`; else the nearest
 * run among its ancestors in this batch (an ancestor stamped with `daa.run.id` names it too); else ''.
 * Pure: the same input always gives the same rows, so a retried batch maps to identical rows.
 */
export function mapSpans(projectId: string, spans: readonly DecodedSpan[], prices: PriceTable): MappedRows {
  const semanticsBySpan = spans.map(readSpanSemantics)
  const mergedRuns = mergeNestedSameAgentRuns(spans, semanticsBySpan)
  const resolver = new BatchRunResolver(
    spans,
    semanticsBySpan.map((semantics) => semantics.operation),
  )
  const resources = new ResourceRenderer()
  const spanRows: SpanRow[] = []
  const runRows: RunRow[] = []
  const outcomeRows: OutcomeRow[] = []

  for (let index = 0; index < spans.length; index++) {
    const span = spans[index]!
    const semantics = semanticsBySpan[index]!
    const resource = resources.render(span.resource)
    const isRun = semantics.operation === OPERATION_INVOKE_AGENT
    const runId = declaredRunIdOf(span, semantics.operation) ?? resolver.enclosingRunOfParent(span)
    const timestamp = span.startTimeUnixNano.toString()
    const duration = durationNs(span)
    const statusCode = STATUS_CODE_NAMES[span.status.code] ?? 'UNSET'
    const errorType = errorTypeOf(span)
    const spanAttributes = renderAttributes(span.attributes)
    spanAttributes[CONVENTION_ATTRIBUTE] = semantics.conventions
    const mergedInto = mergedRuns.get(index)
    if (mergedInto !== undefined) spanAttributes[MERGED_INTO_RUN_ATTRIBUTE] = mergedInto

    const row: SpanRow = {
      project_id: projectId,
      timestamp,
      trace_id: span.traceId,
      span_id: span.spanId,
      parent_span_id: span.parentSpanId,
      trace_state: span.traceState,
      span_name: span.name,
      span_kind: SPAN_KIND_NAMES[span.kind] ?? 'UNSPECIFIED',
      service_name: resource.serviceName,
      resource_attributes: resource.attributes,
      scope_name: span.scope.name,
      scope_version: span.scope.version,
      span_attributes: spanAttributes,
      duration_ns: duration,
      status_code: statusCode,
      status_message: span.status.message,
      'events.timestamp': [],
      'events.name': [],
      'events.attributes': [],
      'links.trace_id': [],
      'links.span_id': [],
      'links.trace_state': [],
      'links.attributes': [],
      operation: semantics.operation,
      run_id: runId,
      agent_id: semantics.agentId,
      user_id: semantics.userId,
      conversation_id: semantics.conversationId,
      request_model: semantics.requestModel,
      response_model: semantics.responseModel,
      provider: semantics.provider,
      tool_name: semantics.toolName,
      tool_call_id: semantics.toolCallId,
      input_tokens: semantics.inputTokens,
      output_tokens: semantics.outputTokens,
      cache_read_tokens: semantics.cacheReadTokens,
      cache_write_tokens: semantics.cacheWriteTokens,
      reasoning_tokens: semantics.reasoningTokens,
      cost_usd: spanCostOf(span, semantics, prices),
      error_type: errorType,
    }
    if (span.events.length > 0) appendEvents(row, span.events)
    if (span.links.length > 0) appendLinks(row, span.links)
    spanRows.push(row)

    if (isRun) {
      runRows.push({
        project_id: projectId,
        run_id: span.spanId,
        trace_id: span.traceId,
        parent_run_id:
          resolver.enclosingRunOfParent(span) || (readSpanId(span.attributes[DAA_PARENT_RUN_ID]) ?? ''),
        agent_id: semantics.agentId,
        agent_name: semantics.agentName,
        agent_version: semantics.agentVersion,
        user_id: semantics.userId,
        conversation_id: semantics.conversationId,
        service_name: resource.serviceName,
        start_time: timestamp,
        duration_ns: duration,
        status_code: statusCode,
        error_type: errorType,
        // Only the run's own cost: its children's costs are summed at query time.
        cost_usd: declaredCostOf(span) ?? 0,
      })
    }

    const outcome = outcomeOf(projectId, span, semantics.operation)
    if (outcome !== undefined) outcomeRows.push(outcome)
  }

  return { spans: spanRows, runs: runRows, outcomes: outcomeRows }
}
