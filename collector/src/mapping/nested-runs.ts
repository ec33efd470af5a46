/**
 * One logical run is counted once. Frameworks often nest agent spans of one agent: OpenLLMetry's
 * `withAgent` around an AI SDK call it also marks as that agent, LangChain's `createAgent` inside an
 * app's own agent span of the same name. A span that would be a run (`invoke_agent`) is merged into
 * the nearest run around it when both are the same agent (equal agent id); a different agent nested
 * inside is a sub-agent, a run of its own. A `@daa/sdk` run (it stamps `daa.run.id` with its own
 * span id) is always a run: the application declared it.
 *
 * Decided inside one batch, by walking parent ids: an OpenTelemetry batch processor sends a trace's
 * spans together when the run is shorter than its export delay (5 s by default); an enclosing run
 * that arrives in another request cannot merge what came before it. Except inside a `@daa/sdk` run:
 * its span processor stamps every other library's span with the run (`daa.run.id`) and the run's
 * agent (`daa.run.agent`), so an agent span of the same agent is merged from the span alone, in
 * whichever request it comes (LangChain's `createAgent` inside `run()`, exported before the run ends).
 */
import { DAA_RUN_AGENT, DAA_RUN_ID } from '@daa/sdk/attributes'
import type { DecodedSpan } from '../otlp/decoded-span.js'
import { readSpanId, readText } from './attribute-readers.js'
import { OPERATION_INVOKE_AGENT, type SpanSemantics } from './span-semantics.js'

/**
 * Demotes each nested same-agent run in `semanticsBySpan` (operation '', no tokens) and returns,
 * for each demoted span's index, the id of the run span it was merged into.
 */
export function mergeNestedSameAgentRuns(
  spans: readonly DecodedSpan[],
  semanticsBySpan: SpanSemantics[],
): Map<number, string> {
  const merged = new Map<number, string>()
  let indexBySpanKey: Map<string, number> | undefined
  for (let index = 0; index < spans.length; index++) {
    if (semanticsBySpan[index]!.operation !== OPERATION_INVOKE_AGENT) continue
    const span = spans[index]!
    const declaredRun = readSpanId(span.attributes[DAA_RUN_ID])
    if (span.parentSpanId === '' || declaredRun === span.spanId) continue
    if (
      declaredRun !== undefined &&
      span.attributes[DAA_RUN_AGENT] !== undefined &&
      readText(span.attributes[DAA_RUN_AGENT]) === semanticsBySpan[index]!.agentId
    ) {
      merged.set(index, declaredRun)
      continue
    }
    // Built only for batches with a nested run candidate: most batches have none.
    if (indexBySpanKey === undefined) {
      indexBySpanKey = new Map()
      for (let other = 0; other < spans.length; other++) {
        indexBySpanKey.set(spans[other]!.traceId + spans[other]!.spanId, other)
      }
    }
    const outer = enclosingRunIndex(spans, semanticsBySpan, indexBySpanKey, span)
    if (outer !== undefined && semanticsBySpan[outer]!.agentId === semanticsBySpan[index]!.agentId) {
      merged.set(index, spans[outer]!.spanId)
    }
  }
  // Demoted afterwards, so a chain of three same-agent spans merges each into the one above it
  // whatever the batch order; every span of them then counts toward the outermost.
  for (const index of merged.keys()) {
    const semantics = semanticsBySpan[index]!
    semantics.operation = ''
    semantics.inputTokens = 0
    semantics.outputTokens = 0
    semantics.cacheReadTokens = 0
    semantics.cacheWriteTokens = 0
    semantics.reasoningTokens = 0
  }
  return merged
}

/** The index of the nearest run span above `span` in the batch; undefined when none is known here. */
function enclosingRunIndex(
  spans: readonly DecodedSpan[],
  semanticsBySpan: readonly SpanSemantics[],
  indexBySpanKey: ReadonlyMap<string, number>,
  span: DecodedSpan,
): number | undefined {
  let parentId = span.parentSpanId
  // Bounded by the batch size, so a parent cycle (a malformed batch) ends.
  for (let steps = 0; parentId !== '' && steps < spans.length; steps++) {
    const index = indexBySpanKey.get(span.traceId + parentId)
    if (index === undefined) return undefined
    if (semanticsBySpan[index]!.operation === OPERATION_INVOKE_AGENT) return index
    const parent = spans[index]!
    // A span stamped with its run's id (by @daa/sdk) names the nearest run: stop there.
    if (readSpanId(parent.attributes[DAA_RUN_ID]) !== undefined) return undefined
    parentId = parent.parentSpanId
  }
  return undefined
}
