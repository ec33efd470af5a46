import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { type Attributes, SpanStatusCode, trace } from '@opentelemetry/api'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { currentRun, type LlmCall, llm, outcome, type Run, run, tool } from './index.js'
import { attributesOf, captureSpans, parentIdOf, spanNamed } from './test-in-memory-tracing.js'

const capture = captureSpans()
beforeEach(() => capture.exporter.reset())
afterAll(() => capture.stop())

const tick = () => new Promise((resolve) => setTimeout(resolve, 1))

describe('run', () => {
  it('emits an invoke_agent span with agent, user, conversation and version', async () => {
    await run({ agent: 'support-bot', user: 'u-42', conversation: 'c-7', version: '1.2.0' }, async () => {
      await tick()
    })
    const spans = await capture.finishedSpans()
    expect(spans).toHaveLength(1)
    const runSpan = spanNamed(spans, 'invoke_agent support-bot')
    expect(runSpan.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'support-bot',
      'gen_ai.agent.version': '1.2.0',
      'user.id': 'u-42',
      'gen_ai.conversation.id': 'c-7',
      'daa.run.id': runSpan.spanContext().spanId,
    })
    expect(runSpan.attributes['daa.outcome']).toBeUndefined()
    expect(runSpan.resource.attributes['service.name']).toBe('test-agent')
  })

  it('records LLM calls with usage and tool calls as children stamped with the run id', async () => {
    const answer = await run({ agent: 'support-bot', agentId: 'agent-1' }, async (current) => {
      const reply = await llm({ model: 'gpt-5-mini', provider: 'openai' }, async (call) => {
        await tick()
        call.usage({ input: 120, output: 30, cacheRead: 100, cacheWrite: 20, reasoning: 10 })
        call.responseModel('gpt-5-mini-2026-01-01')
        call.cost(0.0021)
        return 'hello'
      })
      await tool({ name: 'search_kb', callId: 'call_1' }, async () => tick())
      current.deliver({ value: 12.5, unit: 'USD' })
      return reply
    })
    expect(answer).toBe('hello')
    const spans = await capture.finishedSpans()
    const runSpan = spanNamed(spans, 'invoke_agent support-bot')
    const runId = runSpan.spanContext().spanId
    const chat = spanNamed(spans, 'chat gpt-5-mini')
    const search = spanNamed(spans, 'execute_tool search_kb')
    expect(runSpan.attributes).toMatchObject({
      'gen_ai.agent.id': 'agent-1',
      'daa.outcome': 'delivered',
      'daa.outcome.value': 12.5,
      'daa.outcome.unit': 'USD',
    })
    expect(chat.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-5-mini',
      'gen_ai.response.model': 'gpt-5-mini-2026-01-01',
      'gen_ai.provider.name': 'openai',
      'gen_ai.usage.input_tokens': 120,
      'gen_ai.usage.output_tokens': 30,
      'gen_ai.usage.cache_read.input_tokens': 100,
      'gen_ai.usage.cache_creation.input_tokens': 20,
      'gen_ai.usage.reasoning.output_tokens': 10,
      'daa.cost.usd': 0.0021,
      'daa.run.id': runId,
    })
    expect(search.attributes).toEqual({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'search_kb',
      'gen_ai.tool.call.id': 'call_1',
      'daa.run.id': runId,
    })
    expect(parentIdOf(chat)).toBe(runId)
    expect(parentIdOf(search)).toBe(runId)
    expect(chat.spanContext().traceId).toBe(runSpan.spanContext().traceId)
  })

  it('defaults the response model to the requested one and ignores bad token counts', async () => {
    llm({ model: 'claude-x' }, (call) => call.usage({ input: -1, output: Number.NaN, reasoning: 2.4 }))
    const chat = spanNamed(await capture.finishedSpans(), 'chat claude-x')
    expect(chat.attributes['gen_ai.response.model']).toBe('claude-x')
    expect(chat.attributes['gen_ai.usage.input_tokens']).toBeUndefined()
    expect(chat.attributes['gen_ai.usage.output_tokens']).toBeUndefined()
    expect(chat.attributes['gen_ai.usage.reasoning.output_tokens']).toBe(2)
    expect(chat.attributes['daa.run.id']).toBeUndefined()
  })

  it.each([
    [
      'partial',
      (r: Run) => r.partial({ value: 3, unit: 'tickets', reason: 'one left open' }),
      {
        'daa.outcome': 'partial',
        'daa.outcome.value': 3,
        'daa.outcome.unit': 'tickets',
        'daa.outcome.reason': 'one left open',
      },
    ],
    [
      'failed',
      (r: Run) => r.fail('no answer found'),
      { 'daa.outcome': 'failed', 'daa.outcome.reason': 'no answer found' },
    ],
    ['abandoned', (r: Run) => r.abandon(), { 'daa.outcome': 'abandoned' }],
    [
      'the last call wins',
      (r: Run) => {
        r.fail('first try')
        r.deliver()
      },
      { 'daa.outcome': 'delivered' },
    ],
  ] as const)('records %s outcomes', async (_label, record, expected) => {
    run({ agent: 'a' }, record)
    const runSpan = spanNamed(await capture.finishedSpans(), 'invoke_agent a')
    expect(runSpan.attributes).toMatchObject(expected)
    if (!('daa.outcome.reason' in expected)) expect(runSpan.attributes['daa.outcome.reason']).toBeUndefined()
  })

  it('returns sync results synchronously', async () => {
    const result = run({ agent: 'sync' }, () => tool('add', () => 1 + 1))
    expect(result).toBe(2)
    const spans = await capture.finishedSpans()
    expect(parentIdOf(spanNamed(spans, 'execute_tool add'))).toBe(
      spanNamed(spans, 'invoke_agent sync').spanContext().spanId,
    )
  })

  it('marks the run failed and rethrows the same exception, sync or async', async () => {
    class QuotaExceeded extends Error {}
    const thrown = new QuotaExceeded('over quota')
    await expect(
      run({ agent: 'async-fail' }, async () => {
        await llm({ model: 'm' }, async () => {
          throw thrown
        })
      }),
    ).rejects.toBe(thrown)
    const syncError = new TypeError('bad input')
    expect(() =>
      run({ agent: 'sync-fail' }, () => {
        throw syncError
      }),
    ).toThrow(syncError)
    const spans = await capture.finishedSpans()
    for (const name of ['invoke_agent async-fail', 'chat m']) {
      const span = spanNamed(spans, name)
      expect(span.status.code).toBe(SpanStatusCode.ERROR)
      expect(span.attributes['error.type']).toBe('QuotaExceeded')
      expect(span.events.map((event) => event.name)).toContain('exception')
    }
    expect(attributesOf(spans, 'invoke_agent async-fail')).toMatchObject({
      'daa.outcome': 'failed',
      'daa.outcome.reason': 'QuotaExceeded',
    })
    expect(attributesOf(spans, 'invoke_agent sync-fail')).toMatchObject({
      'error.type': 'TypeError',
      'daa.outcome': 'failed',
    })
  })

  it('keeps an outcome recorded before an exception', async () => {
    await expect(
      run({ agent: 'delivered-then-threw' }, async (current) => {
        current.deliver({ value: 1, unit: 'USD' })
        throw new Error('cleanup failed')
      }),
    ).rejects.toThrow('cleanup failed')
    expect(attributesOf(await capture.finishedSpans(), 'invoke_agent delivered-then-threw')).toMatchObject({
      'daa.outcome': 'delivered',
      'error.type': 'Error',
    })
  })

  it('marks a tool that reports an error as a result as failed without throwing', async () => {
    const result = tool('fetch_page', (call) => {
      call.fail('timeout')
      return { error: 'timed out' }
    })
    expect(result).toEqual({ error: 'timed out' })
    const span = spanNamed(await capture.finishedSpans(), 'execute_tool fetch_page')
    expect(span.status.code).toBe(SpanStatusCode.ERROR)
    expect(span.attributes['error.type']).toBe('timeout')
  })

  it('nests sub-agent runs: each run stamps its own id, spans stamp their nearest run', async () => {
    await run({ agent: 'planner' }, async () => {
      await tool('plan', async () => tick())
      await run({ agent: 'researcher' }, async (sub) => {
        await llm({ model: 'small' }, async () => tick())
        sub.deliver()
      })
      await llm({ model: 'big' }, async () => tick())
    })
    const spans = await capture.finishedSpans()
    const planner = spanNamed(spans, 'invoke_agent planner')
    const researcher = spanNamed(spans, 'invoke_agent researcher')
    const plannerId = planner.spanContext().spanId
    const researcherId = researcher.spanContext().spanId
    expect(parentIdOf(researcher)).toBe(plannerId)
    expect(researcher.attributes['daa.run.id']).toBe(researcherId)
    expect(attributesOf(spans, 'chat small')['daa.run.id']).toBe(researcherId)
    expect(attributesOf(spans, 'chat big')['daa.run.id']).toBe(plannerId)
    expect(attributesOf(spans, 'execute_tool plan')['daa.run.id']).toBe(plannerId)
  })

  it('keeps concurrent runs apart across awaits', async () => {
    await Promise.all(
      ['one', 'two', 'three'].map((agent) =>
        run({ agent }, async () => {
          for (let step = 0; step < 3; step++) {
            await tick()
            await tool(`step-${agent}`, async () => tick())
          }
        }),
      ),
    )
    const spans = await capture.finishedSpans()
    for (const agent of ['one', 'two', 'three']) {
      const runId = spanNamed(spans, `invoke_agent ${agent}`).spanContext().spanId
      const steps = spans.filter((span) => span.name === `execute_tool step-${agent}`)
      expect(steps).toHaveLength(3)
      for (const step of steps) {
        expect(parentIdOf(step)).toBe(runId)
        expect(step.attributes['daa.run.id']).toBe(runId)
      }
    }
  })

  it('lets deep code find the current run', async () => {
    const recordFromDeepInside = () => currentRun()?.deliver({ value: 2, unit: 'answers' })
    expect(currentRun()).toBeUndefined()
    await run({ agent: 'deep' }, async () => {
      await tick()
      await tool('work', async () => recordFromDeepInside())
    })
    expect(attributesOf(await capture.finishedSpans(), 'invoke_agent deep')).toMatchObject({
      'daa.outcome': 'delivered',
      'daa.outcome.value': 2,
    })
  })

  it('clamps bad options instead of throwing', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input from untyped callers
    const wrong: any = { agent: 42, user: '', conversation: null }
    expect(run(wrong, () => 'still runs')).toBe('still runs')
    // biome-ignore lint/suspicious/noExplicitAny: as above
    expect(llm(undefined as any, () => 'still calls')).toBe('still calls')
    // biome-ignore lint/suspicious/noExplicitAny: as above
    expect(tool(undefined as any, () => 'still runs the tool')).toBe('still runs the tool')
    run({ agent: 'odd-outcome' }, (current) => {
      // biome-ignore lint/suspicious/noExplicitAny: as above
      current.record({ status: 'maybe' as any })
    })
    const spans = await capture.finishedSpans()
    expect(spans.map((span) => span.name).sort()).toEqual([
      'chat unknown',
      'execute_tool unknown_tool',
      'invoke_agent odd-outcome',
      'invoke_agent unknown_agent',
    ])
    expect(attributesOf(spans, 'invoke_agent unknown_agent')['user.id']).toBeUndefined()
    expect(attributesOf(spans, 'invoke_agent odd-outcome')['daa.outcome']).toBeUndefined()
  })
})

describe('streams', () => {
  async function* tokens(count: number) {
    for (let index = 0; index < count; index++) {
      await tick()
      yield `token-${index}`
    }
  }

  it('keeps the LLM span open until the stream is consumed, with spans inside nested under it', async () => {
    const received: string[] = []
    await run({ agent: 'streamer' }, async () => {
      const stream = llm({ model: 'stream-model' }, async function* (call) {
        yield* tokens(3)
        await tool('mid_stream_tool', async () => tick())
        call.usage({ input: 5, output: 3 })
      })
      expect((await capture.finishedSpans()).map((span) => span.name)).not.toContain('chat stream-model')
      for await (const token of stream) received.push(token)
    })
    expect(received).toEqual(['token-0', 'token-1', 'token-2'])
    const spans = await capture.finishedSpans()
    const chat = spanNamed(spans, 'chat stream-model')
    expect(chat.attributes['gen_ai.usage.output_tokens']).toBe(3)
    expect(parentIdOf(spanNamed(spans, 'execute_tool mid_stream_tool'))).toBe(chat.spanContext().spanId)
    const durationMs = chat.duration[0] * 1000 + chat.duration[1] / 1e6
    expect(durationMs).toBeGreaterThanOrEqual(2)
  })

  it('ends the span when the consumer stops early', async () => {
    const stream = llm({ model: 'early-stop' }, () => tokens(10))
    for await (const token of stream) {
      if (token === 'token-1') break
    }
    const chat = spanNamed(await capture.finishedSpans(), 'chat early-stop')
    expect(chat.status.code).not.toBe(SpanStatusCode.ERROR)
  })

  it('marks the span failed when the stream throws, and passes the error on', async () => {
    const broken = new Error('connection reset')
    const stream = llm({ model: 'broken-stream' }, async function* () {
      yield 'first'
      throw broken
    })
    const seen: string[] = []
    await expect(
      (async () => {
        for await (const token of stream) seen.push(token)
      })(),
    ).rejects.toBe(broken)
    expect(seen).toEqual(['first'])
    const chat = spanNamed(await capture.finishedSpans(), 'chat broken-stream')
    expect(chat.status.code).toBe(SpanStatusCode.ERROR)
  })

  /** A stream that logs how it was stopped, and recovers once from an error thrown into it. */
  async function* guarded(log: string[]) {
    try {
      yield 1
      try {
        yield 2
      } catch (error) {
        log.push(`caught ${(error as Error).message}`)
        yield 3
      }
      yield 4
    } finally {
      log.push('finally')
    }
  }

  it('returns the generator itself', () => {
    const original = guarded([])
    const stream = llm({ model: 'same-generator' }, () => original)
    expect(stream).toBe(original)
    expect(Object.prototype.toString.call(stream)).toBe('[object AsyncGenerator]')
  })

  // Node 24's async generators are AsyncDisposable; Node 22's are not, with or without the SDK.
  const generatorsDispose = typeof Object.getPrototypeOf(guarded([]))[Symbol.asyncDispose] === 'function'
  it.runIf(generatorsDispose)(
    'lets await using dispose of the stream and end its span, as it would without the SDK',
    async () => {
      const log: string[] = []
      {
        // TypeScript's ES2023 lib does not know that async generators are AsyncDisposable; Node does.
        await using disposable = run(
          { agent: 'disposer' },
          () => guarded(log) as AsyncGenerator<number> & AsyncDisposable,
        )
        expect(await disposable.next()).toEqual({ done: false, value: 1 })
        expect(await capture.finishedSpans()).toEqual([])
      }
      expect(log).toEqual(['finally'])
      const runSpan = spanNamed(await capture.finishedSpans(), 'invoke_agent disposer')
      expect(runSpan.status.code).not.toBe(SpanStatusCode.ERROR)
    },
  )

  it('follows return() and throw() as the generator answers them', async () => {
    const log: string[] = []
    const stream = llm({ model: 'recovering' }, () => guarded(log))
    await stream.next()
    await stream.next()
    // The generator catches what is thrown into it and goes on: the stream, and its span, go on too.
    expect(await stream.throw(new Error('hiccup'))).toEqual({ done: false, value: 3 })
    expect(await capture.finishedSpans()).toEqual([])
    expect(await stream.return(undefined)).toEqual({ done: true, value: undefined })
    expect(log).toEqual(['caught hiccup', 'finally'])
    expect(spanNamed(await capture.finishedSpans(), 'chat recovering').status.code).not.toBe(
      SpanStatusCode.ERROR,
    )

    capture.exporter.reset()
    const uncaught = new Error('cancelled')
    const failing = llm({ model: 'thrown-into' }, () => guarded([]))
    await failing.next()
    await expect(failing.throw(uncaught)).rejects.toBe(uncaught)
    expect(spanNamed(await capture.finishedSpans(), 'chat thrown-into').status.code).toBe(
      SpanStatusCode.ERROR,
    )
  })

  /**
   * What OpenAI's and Anthropic's clients resolve to for `stream: true`: a class instance that is
   * async iterable but not an iterator, keeping its state in private fields.
   */
  class ProviderStream {
    readonly #chunks: { text: string; usage?: { input: number; output: number } }[]
    constructor(chunks: ProviderStream['chunks']) {
      this.#chunks = chunks
    }
    get chunks() {
      return this.#chunks
    }
    async *[Symbol.asyncIterator]() {
      for (const chunk of this.#chunks) {
        await tick()
        yield chunk
      }
    }
  }

  it('keeps the span open over an async iterable such as a provider’s stream, so the usage in its last chunk is recorded', async () => {
    let call: LlmCall | undefined
    const chunks = [{ text: 'Hi' }, { text: '!', usage: { input: 12, output: 2 } }]
    // As with a provider's client: the function resolves to the stream, and the caller reads it.
    const stream = await llm({ model: 'provider-stream' }, async (current) => {
      call = current
      await tick()
      return new ProviderStream(chunks)
    })
    expect(stream).toBeInstanceOf(ProviderStream)
    expect(stream.chunks).toBe(chunks) // the very object, private fields and all
    let text = ''
    for await (const chunk of stream) {
      text += chunk.text
      if (chunk.usage) call!.usage(chunk.usage)
    }
    expect(text).toBe('Hi!')
    const chat = spanNamed(await capture.finishedSpans(), 'chat provider-stream')
    expect(chat.attributes).toMatchObject({
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 2,
    })

    capture.exporter.reset()
    // Returned as it is, not through a promise: an object with its own Symbol.asyncIterator.
    const iterable = llm({ model: 'plain-iterable' }, (current) => ({
      async *[Symbol.asyncIterator]() {
        await tick()
        yield 'token'
        current.usage({ input: 7, output: 1 })
      },
    }))
    for await (const _token of iterable);
    expect(attributesOf(await capture.finishedSpans(), 'chat plain-iterable')).toMatchObject({
      'gen_ai.usage.input_tokens': 7,
    })
  })

  it('does not follow streams that can be read without iterating them, such as ReadableStream', async () => {
    const readable = new ReadableStream({ start: (controller) => controller.close() })
    expect(llm({ model: 'web-stream' }, () => readable)).toBe(readable)
    // getReader() and pipeTo() would go unseen: the span covers the function, and ends now.
    expect((await capture.finishedSpans()).map((span) => span.name)).toEqual(['chat web-stream'])
  })
})

describe('a stream dropped before its end', () => {
  /**
   * Runs in a child process: collecting garbage on demand needs `--expose-gc`. The child runs the
   * SDK's sources through tsx, drops two streams (one never read, one read in part) while a third
   * is still being read, collects garbage until the dropped ones' spans have ended, lets the third
   * finish, and prints the spans.
   */
  const child = `
    import { InMemorySpanExporter } from '@opentelemetry/sdk-trace'
    import { flush, init, llm, run, shutdown } from './sdk/src/index.ts'
    const exporter = new InMemorySpanExporter()
    init({ serviceName: 'gc-test', exporter, flushIntervalMs: 1 })
    async function* answer() {
      yield { text: 'Hi', usage: { input: 9, output: 1 } }
      yield { text: '!' }
    }
    let unread = run({ agent: 'never-read' }, () => answer())
    let partly = llm({ model: 'read-in-part' }, async function* (call) {
      for await (const chunk of answer()) {
        if (chunk.usage) call.usage(chunk.usage)
        yield chunk.text
      }
    })
    await partly.next()
    let release
    const gate = new Promise((resolve) => {
      release = resolve
    })
    // Only the for await below holds this stream (its iterator) while it waits for the gate.
    const reading = (async () => {
      const slow = llm({ model: 'read-slowly' }, (call) => ({
        async *[Symbol.asyncIterator]() {
          yield 1
          await gate
          yield 2
          call.usage({ output: 2 }) // kept only if the span is still open when the stream ends
        },
      }))
      for await (const _ of slow);
    })()
    await flush()
    const whileHeld = exporter.getFinishedSpans().length
    unread = partly = undefined
    // A pause between the streams' last steps and the collection, to tell the two apart.
    await new Promise((resolve) => setTimeout(resolve, 50))
    const collectingFromMs = Date.now()
    for (let round = 0; round < 50 && exporter.getFinishedSpans().length < 2; round++) {
      globalThis.gc()
      await new Promise((resolve) => setTimeout(resolve, 10))
      await flush()
    }
    release()
    await reading
    await flush()
    const spans = exporter.getFinishedSpans().map((span) => ({
      name: span.name,
      attributes: span.attributes,
      error: span.status.code === 2,
      endMs: span.endTime[0] * 1000 + span.endTime[1] / 1e6,
    }))
    console.log(JSON.stringify({ whileHeld, collectingFromMs, spans }))
    await shutdown()
  `

  it('ends its span once the stream is garbage-collected, timed at its last step, the run abandoned', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', '--input-type=module', '--eval', child],
      { cwd: fileURLToPath(new URL('../..', import.meta.url)) },
    )
    const { whileHeld, collectingFromMs, spans } = JSON.parse(stdout) as {
      whileHeld: number
      collectingFromMs: number
      spans: { name: string; attributes: Attributes; error: boolean; endMs: number }[]
    }
    // Open while the streams could still be read…
    expect(whileHeld).toBe(0)
    // …ended once they could not, at their last step, not at the collection; the stream still being
    // read was not taken for dropped, and ended when it was read to its end.
    expect(spans.map((span) => span.name).sort()).toEqual([
      'chat read-in-part',
      'chat read-slowly',
      'invoke_agent never-read',
    ])
    for (const span of spans) {
      expect(span.error).toBe(false)
      if (span.name !== 'chat read-slowly') expect(span.endMs).toBeLessThan(collectingFromMs)
    }
    const slow = spans.find((span) => span.name === 'chat read-slowly')!
    expect(slow.attributes['gen_ai.usage.output_tokens']).toBe(2)
    const [chat, runSpan] = [
      spans.find((span) => span.name.startsWith('chat'))!,
      spans.find((span) => span.name.startsWith('invoke_agent'))!,
    ]
    expect(chat.attributes['gen_ai.usage.input_tokens']).toBe(9)
    expect(runSpan.attributes).toMatchObject({
      'daa.outcome': 'abandoned',
      'daa.outcome.reason': 'stream_dropped',
    })
  })
})

describe('late outcomes', () => {
  it('records an outcome from a serialised run reference as a daa.outcome span in the run trace', async () => {
    const ref = await run({ agent: 'drafter' }, async (current) => current.ref)
    expect(typeof ref).toBe('string')
    const serialised = JSON.parse(JSON.stringify({ ref })).ref as string
    outcome(serialised, { status: 'delivered', value: 40, unit: 'USD' })
    const spans = await capture.finishedSpans()
    const runSpan = spanNamed(spans, 'invoke_agent drafter')
    const late = spanNamed(spans, 'daa.outcome')
    expect(late.attributes).toEqual({
      'daa.run.id': runSpan.spanContext().spanId,
      'daa.outcome': 'delivered',
      'daa.outcome.value': 40,
      'daa.outcome.unit': 'USD',
    })
    expect(late.spanContext().traceId).toBe(runSpan.spanContext().traceId)
    expect(parentIdOf(late)).toBe(runSpan.spanContext().spanId)
  })

  it('accepts a bare run id and a run handle kept after the run ended', async () => {
    let kept: Run | undefined
    run({ agent: 'kept' }, (current) => {
      kept = current
    })
    kept!.fail('person rejected the draft')
    outcome(kept!.id, { status: 'abandoned' })
    const spans = await capture.finishedSpans()
    const runId = spanNamed(spans, 'invoke_agent kept').spanContext().spanId
    const lates = spans.filter((span) => span.name === 'daa.outcome')
    expect(lates.map((span) => span.attributes)).toEqual([
      { 'daa.run.id': runId, 'daa.outcome': 'failed', 'daa.outcome.reason': 'person rejected the draft' },
      { 'daa.run.id': runId, 'daa.outcome': 'abandoned' },
    ])
    expect(parentIdOf(lates[1]!)).toBeUndefined()
  })

  it('ignores unreadable references and statuses without throwing', async () => {
    expect(() => outcome('not-a-ref', { status: 'delivered' })).not.toThrow()
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input from untyped callers
    expect(() => outcome(undefined as any, { status: 'delivered' })).not.toThrow()
    // biome-ignore lint/suspicious/noExplicitAny: as above
    expect(() => outcome('0123456789abcdef', { status: 'won' as any })).not.toThrow()
    expect(await capture.finishedSpans()).toEqual([])
  })

  it('keeps a late outcome out of whatever run is active when it is recorded', async () => {
    const ref = run({ agent: 'earlier' }, (current) => current.ref)
    run({ agent: 'later' }, () => outcome(ref, { status: 'delivered' }))
    const spans = await capture.finishedSpans()
    expect(attributesOf(spans, 'daa.outcome')['daa.run.id']).toBe(
      spanNamed(spans, 'invoke_agent earlier').spanContext().spanId,
    )
  })
})

describe('other libraries’ spans', () => {
  it('are stamped with the run id of the run they start in', async () => {
    const otherTracer = trace.getTracer('some-http-client')
    await run({ agent: 'caller' }, async () => {
      await tick()
      otherTracer.startActiveSpan('GET /weather', (span) => span.end())
    })
    const spans = await capture.finishedSpans()
    expect(attributesOf(spans, 'GET /weather')['daa.run.id']).toBe(
      spanNamed(spans, 'invoke_agent caller').spanContext().spanId,
    )
  })
})
