import { type Context, context, type Span, SpanStatusCode } from '@opentelemetry/api'
import { ERROR_TYPE } from './attributes.js'
import { debugLog, describeError, errorTypeOf } from './diagnostics.js'

/** Something that owns a span and knows how to close it: a run, an LLM call, a tool call. */
export interface SpanOwner {
  /** Ends the span. Called exactly once; `error` is set when the work threw. Must never throw. */
  finish(error: unknown, failed: boolean): void
}

/**
 * Runs `work` with `ctx` active and finishes `owner` when the work is really done: on return for
 * sync work, on settle for promises (returned as they are, not wrapped), on exhaustion, `return()` or error for async iterators (a
 * stream's span must cover the stream, not just its creation). The work's own result and
 * exceptions pass through unchanged.
 */
export function executeInSpan<A, T>(owner: SpanOwner, ctx: Context, work: (arg: A) => T, arg: A): T {
  let result: T
  try {
    result = context.with(ctx, work, undefined, arg)
  } catch (error) {
    owner.finish(error, true)
    throw error
  }
  if (isPromiseLike(result)) {
    // The caller gets the very promise `work` returned (same identity, same rejection); the span
    // ends from a handler registered first, so it is closed before the caller's `await` resumes.
    result.then(
      () => owner.finish(undefined, false),
      (error: unknown) => owner.finish(error, true),
    )
    return result
  }
  if (isAsyncIterator(result)) return iterateInSpan(result, owner, ctx) as T
  owner.finish(undefined, false)
  return result
}

/** Marks a span as failed the way the GenAI conventions ask: status ERROR plus `error.type`. */
export function recordError(span: Span, error: unknown): void {
  try {
    span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) })
    span.setAttribute(ERROR_TYPE, errorTypeOf(error))
    if (error instanceof Error) span.recordException(error)
  } catch (telemetryError) {
    debugLog('could not record an error on a span', telemetryError)
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  )
}

/**
 * Only iterator objects (async generators and the like) are wrapped, never merely iterable values
 * such as a ReadableStream: replacing those would change what the caller gets back.
 */
function isAsyncIterator(value: unknown): value is AsyncIterator<unknown> & AsyncIterable<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as AsyncIterator<unknown>).next === 'function' &&
    typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
  )
}

function iterateInSpan(
  inner: AsyncIterator<unknown> & AsyncIterable<unknown>,
  owner: SpanOwner,
  ctx: Context,
): AsyncGenerator<unknown> {
  let finished = false
  const settle = (error: unknown, failed: boolean) => {
    if (finished) return
    finished = true
    owner.finish(error, failed)
  }
  // Each step runs with the span's context active, so spans started inside the generator's body
  // nest under it even though the consumer drives the iteration from elsewhere.
  const step = (
    call: () => Promise<IteratorResult<unknown>> | undefined,
  ): Promise<IteratorResult<unknown>> => {
    let pending: Promise<IteratorResult<unknown>> | undefined
    try {
      pending = context.with(ctx, call)
    } catch (error) {
      settle(error, true)
      return Promise.reject(error)
    }
    if (pending === undefined) {
      settle(undefined, false)
      return Promise.resolve({ done: true, value: undefined })
    }
    return Promise.resolve(pending).then(
      (result) => {
        if (result.done) settle(undefined, false)
        return result
      },
      (error: unknown) => {
        settle(error, true)
        throw error
      },
    )
  }
  const wrapper: AsyncGenerator<unknown> = {
    next: (...args: [] | [unknown]) => step(() => inner.next(...args)),
    return: (value?: unknown) =>
      step(() => (inner.return ? inner.return(value) : Promise.resolve({ done: true, value }))).finally(() =>
        // A consumer that stops early (break) ends the stream normally.
        settle(undefined, false),
      ),
    throw: (error?: unknown) => step(() => (inner.throw ? inner.throw(error) : Promise.reject(error))),
    [Symbol.asyncIterator]() {
      return wrapper
    },
  }
  return wrapper
}
