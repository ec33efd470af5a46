import { type Context, context, type Span, SpanStatusCode } from '@opentelemetry/api'
import { ERROR_TYPE } from './attributes.js'
import { debugLog, describeError, errorTypeOf } from './diagnostics.js'

/** Something that owns a span and knows how to close it: a run, an LLM call, a tool call. */
export interface SpanOwner {
  /**
   * Ends the span. Called exactly once; `error` is set when the work threw. `droppedAt` is set when
   * the work's stream was garbage-collected before its end: the span then ends at that time (a
   * `performance.now()` reading, the stream's last step). Must never throw.
   */
  finish(error: unknown, failed: boolean, droppedAt?: number): void
}

/**
 * Runs `work` with `ctx` active and finishes `owner` when the work is really done: on return for
 * sync work, on settle for promises (returned as they are, not wrapped), and, when either gives a
 * stream (an async iterator, or an async iterable such as a provider's stream), on the stream's
 * exhaustion, `return()` or error: a stream's span must cover the stream, not just its creation,
 * or the usage in its last chunk is lost. The work's own result and exceptions pass through unchanged.
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
    // A stream it resolves to is followed from that handler too, before the caller can read it.
    result.then(
      (value) => finishOrFollow(value, owner, ctx),
      (error: unknown) => owner.finish(error, true),
    )
    return result
  }
  finishOrFollow(result, owner, ctx)
  return result
}

function finishOrFollow(value: unknown, owner: SpanOwner, ctx: Context): void {
  const followed: Followed = { owner, ended: false, lastStep: performance.now() }
  try {
    if (isAsyncIterator(value)) followIterator(value, followed, ctx)
    else if (isFollowableIterable(value)) followIterable(value, followed, ctx)
    else settle(followed, undefined, false)
  } catch (error) {
    // A getter that throws while the value is looked at: it is not followed.
    debugLog('could not follow a stream; its span ends now', error)
    settle(followed, undefined, false)
  }
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

function isAsyncIterator(value: unknown): value is AsyncIterator<unknown> & AsyncIterable<unknown> {
  return isIteratorObject(value) && isAsyncIterable(value)
}

function isIteratorObject(value: unknown): value is AsyncIterator<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as AsyncIterator<unknown>).next === 'function'
  )
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
  )
}

/**
 * An async iterable whose only way to be read is iterating it. A ReadableStream (getReader,
 * pipeTo) or a Node stream (pipe) is read in ways the SDK cannot see: following it could keep its
 * span open long after it was read, so its span covers the function only.
 */
function isFollowableIterable(value: unknown): value is AsyncIterable<unknown> {
  if (!isAsyncIterable(value)) return false
  const methods = value as { getReader?: unknown; pipe?: unknown }
  return typeof methods.getReader !== 'function' && typeof methods.pipe !== 'function'
}

/**
 * A stream's span, followed until the stream ends. Kept apart from the stream, and never pointing
 * to it, so that the stream can be collected while its span waits.
 */
interface Followed {
  owner: SpanOwner
  ended: boolean
  /** When the stream was made or last answered a call (`performance.now()`). */
  lastStep: number
}

function settle(followed: Followed, error: unknown, failed: boolean, droppedAt?: number): void {
  if (followed.ended) return
  followed.ended = true
  droppedStreams.unregister(followed)
  followed.owner.finish(error, failed, droppedAt)
}

/**
 * A stream nobody reads to its end would keep its span open for good, and a run whose span never
 * ends is never counted. Once the stream has been garbage-collected nobody can read it any more,
 * so that is when its span ends: marked as dropped (a run without an outcome is abandoned), and
 * timed at the stream's last step, not at the collection, so its duration is the work it did. A
 * stream still referenced stays open, as it may yet be read: an inactivity deadline would cut off
 * a slow reader (a person between two turns), and any deadline would be a guess.
 */
const droppedStreams = new FinalizationRegistry<Followed>((followed) =>
  settle(followed, undefined, false, followed.lastStep),
)

/** Watches `stream` (the object the caller holds now) for collection, in place of any before it. */
function watchForDrop(stream: object, followed: Followed): void {
  droppedStreams.unregister(followed)
  droppedStreams.register(stream, followed, followed)
}

type IteratorMethod = (...args: unknown[]) => unknown

/**
 * Follows a stream in place: its own `next`, `return` and `throw` are replaced by ones that call the
 * originals with the span's context active (so spans started inside the generator's body nest under
 * it, although the consumer drives it from elsewhere) and watch their answers. The caller keeps the
 * very object the work returned, so everything else behaves as without the SDK: an async generator
 * stays one (`Symbol.asyncDispose` and `await using`, `instanceof`, its queueing of calls), a class's
 * other methods and private fields keep working, and each call answers with the original's own
 * promise, at the original's time. A wrapper object could do none of that faithfully.
 */
function followIterator(iterator: AsyncIterator<unknown>, followed: Followed, ctx: Context): void {
  try {
    const { next, return: stop, throw: raise } = iterator as unknown as Record<string, IteratorMethod>
    for (const [name, original] of [
      ['next', next],
      ['return', stop],
      ['throw', raise],
    ] as const) {
      if (typeof original !== 'function') continue
      // `this`, not the iterator: a closure over the iterator itself would keep it alive.
      replaceMethod(iterator, name, function (this: unknown, ...args: unknown[]) {
        return step(followed, ctx, () => original.apply(this, args))
      })
    }
    if (typeof stop !== 'function') {
      // A consumer that stops early (break) calls return() when there is one: without it, the span
      // would never hear that the stream was dropped.
      replaceMethod(iterator, 'return', (value?: unknown) => {
        settle(followed, undefined, false)
        return Promise.resolve({ done: true, value })
      })
    }
    watchForDrop(iterator, followed)
  } catch (error) {
    // A frozen iterator cannot be followed: its span covers its creation only.
    debugLog('could not follow a stream; its span ends now', error)
    settle(followed, undefined, false)
  }
}

/**
 * Follows an async iterable in place, for the same reasons as an iterator: its own
 * `Symbol.asyncIterator` follows the first iterator it makes (a `for await`, a provider's
 * `toReadableStream()`). Later iterations are the caller's own, outside the span.
 */
function followIterable(iterable: AsyncIterable<unknown>, followed: Followed, ctx: Context): void {
  const iterate = iterable[Symbol.asyncIterator] as IteratorMethod
  let started = false
  try {
    replaceMethod(iterable, Symbol.asyncIterator, function (this: unknown, ...args: unknown[]) {
      if (started) return iterate.apply(this, args)
      started = true
      let iterator: unknown
      try {
        iterator = context.with(ctx, () => iterate.apply(this, args))
      } catch (error) {
        settle(followed, error, true)
        throw error
      }
      // A `for await` keeps the iterator, not the iterable: from now on the iterator is watched.
      if (isIteratorObject(iterator)) followIterator(iterator, followed, ctx)
      else settle(followed, undefined, false)
      return iterator
    })
    watchForDrop(iterable, followed)
  } catch (error) {
    debugLog('could not follow a stream; its span ends now', error)
    settle(followed, undefined, false)
  }
}

function replaceMethod(target: object, name: PropertyKey, method: IteratorMethod): void {
  const enumerable = Object.getOwnPropertyDescriptor(target, name)?.enumerable ?? false
  Object.defineProperty(target, name, { value: method, writable: true, configurable: true, enumerable })
}

/** Calls one of the stream's methods with the span's context active and ends the span when the stream is over. */
function step(followed: Followed, ctx: Context, call: () => unknown): unknown {
  let answer: unknown
  try {
    answer = context.with(ctx, call)
  } catch (error) {
    settle(followed, error, true)
    throw error
  }
  const seen = (result: unknown) => {
    followed.lastStep = performance.now()
    try {
      if ((result as IteratorResult<unknown> | undefined)?.done) settle(followed, undefined, false)
    } catch {
      // An answer whose `done` throws fails the consumer's loop too; the stream is left to end otherwise.
    }
  }
  if (isPromiseLike(answer)) answer.then(seen, (error: unknown) => settle(followed, error, true))
  else seen(answer)
  return answer
}
