/**
 * The demo fleet `daa start` runs, so a newcomer's dashboard means something at once: a support
 * bot, a coding agent and a research agent (a few instances of each), instrumented with @daa/sdk
 * exactly as a user's agent would be, sending to this collector under project `demo` — never the
 * user's own. First 30 days of history are backfilled, then a run every few seconds goes on live.
 *
 * Backfilled runs are real SDK runs whose spans are moved back in time on their way out (one
 * offset per trace), and whose waits for a model or a tool are skipped but counted, so their spans
 * last as long as live ones: the same spans, attributes, durations and late outcomes, only dated in
 * the past.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ExportResult } from '@opentelemetry/core'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace'
import { createApiKey } from '../auth/api-keys.js'
import type { Progress } from '../cli/progress.js'
import type { Store } from '../store/store.js'

export const DEMO_PROJECT = 'demo'

type Sdk = typeof import('@daa/sdk')
type Kind = 'support' | 'coding' | 'research'

interface DemoAgent {
  id: string
  kind: Kind
  version: string
  /** First day (days ago) it ran; it keeps running unless `until` says when it went quiet. */
  since: number
  until?: number
}

const FLEET: DemoAgent[] = [
  { id: 'support-bot-eu', kind: 'support', version: '2.3.0', since: 30 },
  { id: 'support-bot-us', kind: 'support', version: '2.3.0', since: 30 },
  { id: 'support-bot-apac', kind: 'support', version: '2.4.0', since: 11 },
  { id: 'coding-agent', kind: 'coding', version: '0.9.1', since: 30 },
  { id: 'coding-agent-review', kind: 'coding', version: '0.9.1', since: 24, until: 6 },
  { id: 'research-agent', kind: 'research', version: '1.2.0', since: 30 },
  { id: 'research-agent-legal', kind: 'research', version: '1.0.0', since: 8 },
]

interface Profile {
  model: string
  provider: string
  /** USD per million input / output / cache-read tokens. */
  prices: [number, number, number]
  runsPerDay: [number, number]
  llmCalls: [number, number]
  tokens: [number, number]
  tools: string[]
  /** Chances of delivered, partial, failed, abandoned; the rest is accepted (or not) later. */
  outcomes: [number, number, number, number]
  value: () => { value: number; unit: string }
  users: number
}

const PROFILES: Record<Kind, Profile> = {
  support: {
    model: 'gpt-5-mini',
    provider: 'openai',
    prices: [0.25, 2, 0.025],
    runsPerDay: [10, 22],
    llmCalls: [1, 3],
    tokens: [1200, 4800],
    tools: ['lookup_order', 'search_kb', 'issue_refund'],
    outcomes: [0.7, 0.08, 0.1, 0.07],
    value: () => ({ value: 1, unit: 'tickets' }),
    users: 180,
  },
  coding: {
    model: 'claude-sonnet-4-5',
    provider: 'anthropic',
    prices: [3, 15, 0.3],
    runsPerDay: [3, 8],
    llmCalls: [3, 8],
    tokens: [6000, 30000],
    tools: ['read_file', 'edit_file', 'run_tests', 'open_pull_request'],
    outcomes: [0.25, 0.1, 0.15, 0.05],
    value: () => ({ value: 1, unit: 'pull requests' }),
    users: 25,
  },
  research: {
    model: 'gemini-2.5-pro',
    provider: 'gcp.gemini',
    prices: [1.25, 10, 0.31],
    runsPerDay: [2, 6],
    llmCalls: [2, 5],
    tokens: [8000, 40000],
    tools: ['web_search', 'fetch_page', 'summarize'],
    outcomes: [0.72, 0.12, 0.1, 0.06],
    value: () => ({ value: 40, unit: 'USD' }),
    users: 40,
  },
}

/** A small seeded generator: the same data dir gets the same-looking history. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const between = (rng: () => number, [low, high]: [number, number]) =>
  low + Math.floor(rng() * (high - low + 1))

const DAY_MS = 86_400_000

/** How long a demo run waits at each step for its model or tool, in ms (live runs really wait). */
const stepWaitMs = (rng: () => number) => 100 + rng() * 600

interface Placement {
  realStartMs: number
  targetStartMs: number
  /** The waits skipped so far: [instant (Date.now()), total ms skipped up to then]. */
  waits: [number, number][]
}

/**
 * Moves each trace's spans to the instant its run was planned for, and later by the waits it
 * skipped before each instant; other traces pass unchanged.
 */
class TimeShiftingExporter implements SpanExporter {
  readonly #placed = new Map<string, Placement>()
  constructor(readonly inner: SpanExporter) {}

  /** Spans of `traceId` that started at `realStartMs` (Date.now()) are moved to `targetStartMs`. */
  place(traceId: string, realStartMs: number, targetStartMs: number): void {
    this.#placed.set(traceId, { realStartMs, targetStartMs, waits: [] })
  }

  /** `traceId` skips a wait of `ms`: whatever happens in it from now on happens that much later. */
  async skip(traceId: string, ms: number): Promise<void> {
    const waits = this.#placed.get(traceId)?.waits
    if (!waits) return
    // A span's times are Date.now() at its start (whole milliseconds) plus the time it took. The
    // wait gets a millisecond of its own, so every span time before it reads earlier than its
    // instant and every one after it later.
    await clockPast(Date.now())
    const instant = Date.now()
    waits.push([instant, (waits.at(-1)?.[1] ?? 0) + ms])
    await clockPast(instant)
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(
      spans.map((span) => this.#moved(span)),
      done,
    )
  }

  #moved(span: ReadableSpan): ReadableSpan {
    const placement = this.#placed.get(span.spanContext().traceId)
    if (!placement) return span
    const at = (time: [number, number]): [number, number] => {
      const ms = time[0] * 1000 + time[1] / 1e6
      let skipped = 0
      for (const [instant, total] of placement.waits) if (instant <= ms) skipped = total
      const moved = placement.targetStartMs + (ms - placement.realStartMs) + skipped
      return [Math.floor(moved / 1000), Math.round((moved % 1000) * 1e6)]
    }
    const startTime = at(span.startTime)
    const endTime = at(span.endTime)
    const durationMs = (endTime[0] - startTime[0]) * 1000 + (endTime[1] - startTime[1]) / 1e6
    return {
      name: span.name,
      kind: span.kind,
      spanContext: () => span.spanContext(),
      parentSpanContext: span.parentSpanContext,
      startTime,
      endTime,
      duration: [Math.floor(durationMs / 1000), Math.round((durationMs % 1000) * 1e6)],
      status: span.status,
      attributes: span.attributes,
      links: span.links,
      events: span.events.map((event) => ({ ...event, time: at(event.time) })),
      ended: span.ended,
      resource: span.resource,
      instrumentationScope: span.instrumentationScope,
      droppedAttributesCount: span.droppedAttributesCount,
      droppedEventsCount: span.droppedEventsCount,
      droppedLinksCount: span.droppedLinksCount,
    }
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown()
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve()
  }
}

/** Resolves once Date.now() is past `ms`. */
async function clockPast(ms: number): Promise<void> {
  while (Date.now() <= ms) await new Promise((resolve) => setTimeout(resolve, 1))
}

/** Backfilled runs simulated at once: their skipped waits take a few real milliseconds each. */
const CONCURRENT_BACKFILL_RUNS = 16

interface RunPlan {
  agent: DemoAgent
  rng: () => number
  /** Yields between steps; in live mode it waits like a model would. */
  pause: () => Promise<void>
  onStart?: (traceId: string) => void
}

/** One run of a demo agent, instrumented as a user would instrument theirs. */
async function simulateRun(sdk: Sdk, plan: RunPlan): Promise<void> {
  const { agent, rng, pause } = plan
  const profile = PROFILES[agent.kind]
  let lateOutcome: (() => void) | undefined
  await sdk.run(
    {
      agent: agent.id.replace(/-(eu|us|apac|review|legal)$/, ''),
      agentId: agent.id,
      version: agent.version,
      user: `user-${1 + Math.floor(rng() * profile.users)}`,
      conversation: `conv-${Math.floor(rng() * 1e9).toString(36)}`,
    },
    async (current) => {
      plan.onStart?.(current.span.spanContext().traceId)
      const calls = between(rng, profile.llmCalls)
      for (let call = 0; call < calls; call++) {
        await sdk.llm({ model: profile.model, provider: profile.provider }, async (llmCall) => {
          await pause()
          const input = between(rng, profile.tokens)
          const output = Math.round(input * (0.1 + rng() * 0.25))
          const cacheRead = call > 0 ? Math.round(input * 0.6) : 0
          llmCall.usage({ input, output, cacheRead })
          const [inputPrice, outputPrice, cachePrice] = profile.prices
          llmCall.cost(
            ((input - cacheRead) * inputPrice + output * outputPrice + cacheRead * cachePrice) / 1e6,
          )
        })
        if (rng() < 0.8) {
          const name = profile.tools[Math.floor(rng() * profile.tools.length)]!
          await sdk.tool(name, async (toolCall) => {
            await pause()
            if (rng() < 0.05) toolCall.fail('timeout')
          })
        }
      }
      const [delivered, partial, failed, abandoned] = profile.outcomes
      const roll = rng()
      if (roll < delivered) current.deliver(profile.value())
      else if (roll < delivered + partial)
        current.partial({ ...profile.value(), value: profile.value().value / 2 })
      else if (roll < delivered + partial + failed) current.fail(rng() < 0.5 ? 'model refused' : 'tool error')
      else if (roll < delivered + partial + failed + abandoned) current.abandon()
      else {
        // Accepted (or rejected) later, by a person: a late outcome, recorded after the run ended.
        const accepted = rng() < 0.75
        const ref = current.ref
        lateOutcome = () =>
          sdk.outcome(
            ref,
            accepted
              ? { status: 'delivered', ...profile.value() }
              : { status: 'failed', reason: 'rejected in review' },
          )
      }
    },
  )
  if (lateOutcome) {
    await pause()
    lateOutcome()
  }
}

export interface DemoFleetOptions {
  /** The collector's base URL. */
  url: string
  store: Store
  dataDir: string
  /** Days of history to backfill on the first start. Default 30. */
  backfillDays?: number
  /** Mean pause between live runs. Default 4000 ms. */
  liveIntervalMs?: number
  progress?: (total: number) => Progress
  /** Called once the backfill is stored, before live runs start (e.g. to refresh the rollups). */
  onBackfilled?: () => Promise<void>
}

export interface DemoFleet {
  /** The demo project's API key (kept in `<dataDir>/demo-api-key`, mode 0600). */
  apiKey: string
  /** Whether this start made the key (a first start): only then is it printed. */
  apiKeyCreated: boolean
  /** Resolves when the backfill has been sent and `onBackfilled` has run. */
  ready: Promise<void>
  /** Stops live runs and sends what is queued. */
  stop(): Promise<void>
}

async function demoApiKey(store: Store, dataDir: string): Promise<{ key: string; created: boolean }> {
  const file = join(dataDir, 'demo-api-key')
  const saved = (await readFile(file, 'utf8').catch(() => ''))?.trim()
  if (saved) return { key: saved, created: false }
  const { key } = await createApiKey(store, DEMO_PROJECT, 'demo fleet')
  await writeFile(file, `${key}\n`, { mode: 0o600 })
  return { key, created: true }
}

/** Days not yet backfilled: all of them on a first start, those since the last run after a restart. */
async function daysToBackfill(dataDir: string, backfillDays: number): Promise<number> {
  const last = Number((await readFile(join(dataDir, 'demo-until'), 'utf8').catch(() => '')).trim())
  if (!Number.isFinite(last) || last <= 0) return backfillDays
  return Math.min(backfillDays, Math.floor((Date.now() - last) / DAY_MS))
}

export async function startDemoFleet(options: DemoFleetOptions): Promise<DemoFleet> {
  const { key: apiKey, created: apiKeyCreated } = await demoApiKey(options.store, options.dataDir)
  const sdk = await import('@daa/sdk')
  const exporter = new TimeShiftingExporter(new sdk.OtlpHttpExporter({ endpoint: options.url, apiKey }))
  sdk.init({ serviceName: 'daa-demo', exporter, maxQueueSize: 100_000, flushIntervalMs: 500 })
  let stopped = false
  let liveTimer: NodeJS.Timeout | undefined
  let liveRun: Promise<void> | undefined
  const markUntil = () => writeFile(join(options.dataDir, 'demo-until'), `${Date.now()}\n`).catch(() => {})

  const backfill = async () => {
    const days = await daysToBackfill(options.dataDir, options.backfillDays ?? 30)
    const today = new Date(new Date().toISOString().slice(0, 10)).getTime()
    const plans: { agent: DemoAgent; at: number; seed: number }[] = []
    for (let daysAgo = days; daysAgo >= 1; daysAgo--) {
      const dayStart = today - daysAgo * DAY_MS
      const weekend = [0, 6].includes(new Date(dayStart).getUTCDay())
      for (const [index, agent] of FLEET.entries()) {
        if (daysAgo > agent.since || (agent.until !== undefined && daysAgo < agent.until)) continue
        const rng = random(daysAgo * 1000 + index)
        const runs = Math.round(between(rng, PROFILES[agent.kind].runsPerDay) * (weekend ? 0.4 : 1))
        for (let i = 0; i < runs; i++) {
          // Working hours, roughly: 06:00 to 20:00 UTC.
          plans.push({
            agent,
            at: dayStart + (6 + rng() * 14) * 3_600_000,
            seed: daysAgo * 100_000 + index * 1000 + i,
          })
        }
      }
    }
    // A restart finds the history written already: no bar for nothing to do.
    const bar = plans.length > 0 ? options.progress?.(plans.length) : undefined
    let next = 0
    const simulateNext = async () => {
      while (!stopped && next < plans.length) {
        const plan = plans[next++]!
        const rng = random(plan.seed)
        let traceId = ''
        await simulateRun(sdk, {
          agent: plan.agent,
          rng,
          pause: () => exporter.skip(traceId, stepWaitMs(rng)),
          onStart: (id) => {
            traceId = id
            exporter.place(id, Date.now(), plan.at)
          },
        })
        bar?.advance()
      }
    }
    await Promise.all(Array.from({ length: CONCURRENT_BACKFILL_RUNS }, simulateNext))
    await sdk.flush(60_000)
    bar?.done()
    if (!stopped) await markUntil()
    await options.onBackfilled?.()
  }

  const live = () => {
    if (stopped) return
    const rng = random(Date.now())
    const candidates = FLEET.filter((agent) => agent.until === undefined)
    const agent = candidates[Math.floor(rng() * candidates.length)]!
    liveRun = simulateRun(sdk, {
      agent,
      rng,
      pause: () => new Promise((resolve) => setTimeout(resolve, stepWaitMs(rng)).unref()),
    })
      .then(markUntil)
      .catch(() => {})
    const interval = options.liveIntervalMs ?? 4000
    liveTimer = setTimeout(live, interval / 2 + rng() * interval)
    liveTimer.unref()
  }

  const ready = backfill().then(() => {
    if (!stopped) live()
  })
  return {
    apiKey,
    apiKeyCreated,
    ready,
    async stop() {
      stopped = true
      if (liveTimer) clearTimeout(liveTimer)
      await ready.catch(() => {})
      await liveRun
      await sdk.shutdown({ timeoutMs: 10_000 })
    },
  }
}
