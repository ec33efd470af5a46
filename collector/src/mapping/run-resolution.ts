/**
 * Which run a span counts toward, resolved inside one batch: the nearest `invoke_agent` ancestor,
 * found by following parent span ids within the trace. Spans whose ancestors are in another batch
 * resolve to '' here; the store resolves those later in ClickHouse.
 */
import { DAA_RUN_ID } from '@daa/sdk/attributes'
import type { DecodedSpan } from '../otlp/decoded-span.js'
import { readSpanId } from './attribute-readers.js'
import { OPERATION_INVOKE_AGENT } from './span-semantics.js'

/**
 * The run a span itself pins down: its own id for a run span, else the `daa.run.id` its sender
 * stamped (`@daa/sdk` stamps every span inside a run); undefined when the span says nothing.
 */
export function declaredRunIdOf(span: DecodedSpan, operation: string): string | undefined {
  if (operation === OPERATION_INVOKE_AGENT) return span.spanId
  return readSpanId(span.attributes[DAA_RUN_ID])
}

export class BatchRunResolver {
  readonly #indexBySpanKey = new Map<string, number>()
  readonly #spans: readonly DecodedSpan[]
  readonly #operations: readonly string[]
  /** Span key → the run enclosing that span (itself included); '' when none was found in the batch. */
  readonly #enclosingRunBySpanKey = new Map<string, string>()

  /** `operations[i]` is the operation of `spans[i]`. */
  constructor(spans: readonly DecodedSpan[], operations: readonly string[]) {
    this.#spans = spans
    this.#operations = operations
    for (let index = 0; index < spans.length; index++) {
      const span = spans[index]!
      this.#indexBySpanKey.set(span.traceId + span.spanId, index)
    }
  }

  /**
   * The run enclosing the parent of `span`: what a child span counts toward, and a run's parent run.
   * An ancestor that is a run, or that carries `daa.run.id`, ends the walk: either names the nearest run.
   */
  enclosingRunOfParent(span: DecodedSpan): string {
    return span.parentSpanId === '' ? '' : this.#enclosingRun(span.traceId, span.parentSpanId)
  }

  /**
   * Walks up from one span until a run is known, then memoises the answer for every span on the way,
   * so each span is visited once per batch however deep the trace. Iterative, so a deep trace cannot
   * overflow the stack, and bounded by the batch size, so a parent cycle (a malformed batch) ends.
   */
  #enclosingRun(traceId: string, startSpanId: string): string {
    const walked: string[] = []
    let spanKey = traceId + startSpanId
    let runId = ''
    while (walked.length <= this.#spans.length) {
      const memoised = this.#enclosingRunBySpanKey.get(spanKey)
      if (memoised !== undefined) {
        runId = memoised
        break
      }
      const index = this.#indexBySpanKey.get(spanKey)
      if (index === undefined) break // the ancestor is in another batch
      walked.push(spanKey)
      const span = this.#spans[index]!
      const declared = declaredRunIdOf(span, this.#operations[index]!)
      if (declared !== undefined) {
        runId = declared
        break
      }
      if (span.parentSpanId === '') break // a root without a run
      spanKey = traceId + span.parentSpanId
    }
    for (const key of walked) this.#enclosingRunBySpanKey.set(key, runId)
    return runId
  }
}
