/**
 * A deterministic golden dataset for the saved queries: a fleet of agents serving people over
 * seven weeks, described twice —
 *   - as plain events (`GoldenRun`: who ran when, what it cost, which outcomes were recorded when),
 *     from which expected-metrics.ts computes every metric in plain TypeScript; and
 *   - as the rows the collector writes (SpanRow / RunRow / OutcomeRow, per collector/src/store/rows.ts),
 *     split into insert batches that replay what ingestion really does: retried batches, child
 *     spans that arrive before their run, spans attributed to their run only later, late outcomes
 *     (some changing the status), and a second project that must never leak in.
 *
 * The rows are produced here directly (mapSpans is not available to this suite yet), following the
 * mapping semantics: every span is a SpanRow; an invoke_agent span is a RunRow with run_id = its span
 * id; an outcome on the run span is an OutcomeRow recorded at the span's end; a late `daa.outcome`
 * span is an OutcomeRow for its run recorded at its own end; LLM-call spans carry tokens and cost.
 */
import type {
  MappedRows,
  OutcomeRow,
  OutcomeStatus,
  RunRow,
  SpanRow,
} from '../../collector/src/store/rows.js'

export const GOLDEN_PROJECT = 'golden-project'
export const OTHER_PROJECT = 'other-project'

/** First and last day (UTC) with generated runs; the test ranges sit inside, with history before. */
export const FIRST_DAY = '2026-02-08'
export const DAYS = 59

/** Time zones whose midnights the runs cluster around. */
export const BOUNDARY_TIME_ZONES = [
  'UTC',
  'America/Los_Angeles',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Sydney',
  'America/Santiago',
  'Europe/Berlin',
] as const

const NS_PER_MS = 1_000_000n
const DAY_MS = 86_400_000

/** mulberry32: a tiny seeded PRNG, so every run of the suite sees the same fleet. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface GoldenOutcome {
  status: OutcomeStatus
  value: number
  unit: string
  reason: string
  /** Nanoseconds since the epoch. */
  recordedAt: bigint
  /** The span that carried it: the run span, or a late `daa.outcome` span. */
  sourceSpanId: string
  /** Whether it reaches the store only in the second wave (after the first rollup refresh). */
  late: boolean
}

export interface GoldenCall {
  spanId: string
  kind: 'llm' | 'tool' | 'other'
  startNs: bigint
  durationNs: number
  costUsd: number
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  reasoningTokens: number
  failed: boolean
  /** Whether its first copy arrives with run_id '' and is attributed to its run only later. */
  attributedLate: boolean
}

export interface GoldenRun {
  project: string
  runId: string
  traceId: string
  parentRunId: string
  agentId: string
  userId: string
  /** Nanoseconds since the epoch. */
  startNs: bigint
  durationNs: number
  statusError: boolean
  /** The run span's own cost. */
  ownCostUsd: number
  calls: GoldenCall[]
  outcomes: GoldenOutcome[]
  /** Whether the run span itself arrives only in the second wave (its children came first). */
  runArrivesLate: boolean
}

export interface GoldenDataset {
  runs: GoldenRun[]
  /**
   * Insert batches in order. `wave` 1 is inserted before the first rollup refresh, wave 2 after it.
   * A batch with `retried` is inserted twice, as a client retrying a timed-out request would.
   */
  batches: { wave: 1 | 2; retried: boolean; rows: MappedRows }[]
}

interface AgentProfile {
  id: string
  /** Chance of working on a day it is not dormant. */
  activity: number
  /** Days (offset from FIRST_DAY) on which it never works: the dormant stretches. */
  dormant: (day: number) => boolean
  /** First day offset on which it may work (a new agent joining mid-range). */
  joins: number
}

const UNITS = ['USD', 'tickets', 'EUR'] as const
const REASONS: Record<OutcomeStatus, readonly string[]> = {
  delivered: ['', 'resolved', 'answered'],
  partial: ['needs follow-up', 'incomplete data'],
  failed: ['tool error', 'model refused', 'timeout'],
  abandoned: ['user left', 'superseded'],
}

function hex(random: () => number, length: number): string {
  let text = ''
  for (let i = 0; i < length; i++) text += Math.floor(random() * 16).toString(16)
  return text
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!
}

function int(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}

/** Midnight at the start of `date` (YYYY-MM-DD) in `timeZone`, as epoch milliseconds. */
export function midnightIn(timeZone: string, date: string): number {
  const utcMidnight = Date.parse(`${date}T00:00:00Z`)
  // Offsets of real zones are within ±14 h: find the instant whose local date turns to `date`.
  let guess = utcMidnight - offsetMs(timeZone, utcMidnight)
  guess = utcMidnight - offsetMs(timeZone, guess)
  return guess
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function partsFormatter(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone)
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
    formatters.set(timeZone, formatter)
  }
  return formatter
}

/** The zone's UTC offset at `epochMs`, in milliseconds. */
function offsetMs(timeZone: string, epochMs: number): number {
  const parts = Object.fromEntries(
    partsFormatter(timeZone)
      .formatToParts(new Date(epochMs))
      .map((part) => [part.type, part.value]),
  )
  const local = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  )
  return local - Math.floor(epochMs / 1000) * 1000
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10)
}

function fleet(random: () => number, project: string): AgentProfile[] {
  const agents: AgentProfile[] = []
  for (let i = 0; i < 12; i++) {
    const id = `${project === GOLDEN_PROJECT ? 'agent' : 'rival'}-${String(i).padStart(2, '0')}`
    // A few agents go dormant for a stretch and come back; one joins late; one retires early.
    const gapStart = 8 + ((i * 5) % 20)
    const gapLength = i % 3 === 0 ? 4 + (i % 5) : 0
    agents.push({
      id,
      activity: 0.35 + random() * 0.6,
      dormant: (day) =>
        (gapLength > 0 && day >= gapStart && day < gapStart + gapLength) || (i === 11 && day > 20),
      joins: i === 10 ? 30 : 0,
    })
  }
  return agents
}

function startTime(random: () => number, day: string): bigint {
  // Four in ten runs start within 20 minutes of a midnight in one of the test zones (or exactly on it),
  // so the day a run belongs to depends on the zone.
  if (random() < 0.4) {
    const zone = pick(random, BOUNDARY_TIME_ZONES)
    const midnight = midnightIn(zone, day)
    const roll = random()
    // (Seven zones share these runs: a fifth exactly on a midnight, a fifth just before one.)
    if (roll < 0.2) return BigInt(midnight) * NS_PER_MS
    // One nanosecond before midnight still belongs to the day before.
    if (roll < 0.4) return BigInt(midnight) * NS_PER_MS - 1n
    return (
      BigInt(midnight + int(random, -20 * 60_000, 20 * 60_000)) * NS_PER_MS + BigInt(int(random, 0, 999_999))
    )
  }
  return (
    BigInt(Date.parse(`${day}T00:00:00Z`) + int(random, 0, DAY_MS - 1)) * NS_PER_MS +
    BigInt(int(random, 0, 999_999))
  )
}

function outcomeStatus(random: () => number): OutcomeStatus | undefined {
  const roll = random()
  if (roll < 0.5) return 'delivered'
  if (roll < 0.6) return 'partial'
  if (roll < 0.72) return 'failed'
  if (roll < 0.8) return 'abandoned'
  return undefined
}

function outcome(
  random: () => number,
  status: OutcomeStatus,
  recordedAt: bigint,
  sourceSpanId: string,
  late: boolean,
): GoldenOutcome {
  const valued = status === 'delivered' || (status === 'partial' && random() < 0.5)
  // A few delivered runs report no unit at all.
  const unit = valued && random() < 0.9 ? pick(random, UNITS) : ''
  return {
    status,
    value: unit ? Math.round(random() * 20_000) / 100 : 0,
    unit,
    reason: pick(random, REASONS[status]),
    recordedAt,
    sourceSpanId,
    late,
  }
}

function calls(random: () => number, runStart: bigint, runDurationNs: number): GoldenCall[] {
  const result: GoldenCall[] = []
  const count = int(random, 0, 6)
  for (let i = 0; i < count; i++) {
    const roll = random()
    const kind = roll < 0.55 ? 'llm' : roll < 0.9 ? 'tool' : 'other'
    const inputTokens = kind === 'llm' ? int(random, 50, 8000) : 0
    result.push({
      spanId: hex(random, 16),
      kind,
      startNs: runStart + BigInt(Math.floor((runDurationNs * i) / (count + 1))),
      durationNs: int(random, 1, Math.max(1, Math.floor(runDurationNs / (count + 1)))),
      // Cost on LLM calls; a little on some tool calls (a paid API), so costs are not only LLM costs.
      costUsd:
        kind === 'llm'
          ? inputTokens * 0.000002 + random() * 0.01
          : kind === 'tool' && random() < 0.2
            ? 0.001
            : 0,
      inputTokens,
      outputTokens: kind === 'llm' ? int(random, 10, 2000) : 0,
      cacheReadTokens: kind === 'llm' && random() < 0.3 ? int(random, 0, inputTokens) : 0,
      reasoningTokens: kind === 'llm' && random() < 0.2 ? int(random, 0, 300) : 0,
      failed: kind === 'tool' && random() < 0.2,
      attributedLate: random() < 0.08,
    })
  }
  return result
}

function generateRuns(project: string, seed: number): GoldenRun[] {
  const random = seededRandom(seed)
  const agents = fleet(random, project)
  const people = Array.from({ length: 25 }, (_, i) => `person-${String(i).padStart(2, '0')}`)
  const runs: GoldenRun[] = []
  for (let dayIndex = 0; dayIndex < DAYS; dayIndex++) {
    const day = addDays(FIRST_DAY, dayIndex)
    for (const agent of agents) {
      if (dayIndex < agent.joins || agent.dormant(dayIndex) || random() > agent.activity) continue
      const runCount = int(random, 1, 4)
      for (let r = 0; r < runCount; r++) {
        // Every 40th run names no agent: it counts toward runs, cost and people, but is no agent's
        // (chosen by position, so the random stream, and every other run, stay as they were).
        const agentId = runs.length % 40 === 39 ? '' : agent.id
        const run = generateRun(random, project, agentId, random() < 0.1 ? '' : pick(random, people), day)
        runs.push(run)
        // Some runs call a sub-agent: a nested run of its own agent inside the parent's trace.
        if (random() < 0.15) {
          const child = generateRun(random, project, `${agent.id}-helper`, run.userId, day, run)
          runs.push(child)
        }
      }
    }
  }
  return runs
}

function generateRun(
  random: () => number,
  project: string,
  agentId: string,
  userId: string,
  day: string,
  parent?: GoldenRun,
): GoldenRun {
  const runId = hex(random, 16)
  const startNs = parent ? parent.startNs + BigInt(int(random, 1, 1000)) * NS_PER_MS : startTime(random, day)
  const durationNs = int(random, 200, 180_000) * 1_000_000 + int(random, 0, 999_999)
  const endNs = startNs + BigInt(durationNs)
  const outcomes: GoldenOutcome[] = []
  const status = parent && random() < 0.6 ? undefined : outcomeStatus(random)
  if (status) outcomes.push(outcome(random, status, endNs, runId, false))
  // Late outcomes: minutes to a day later, sometimes changing the status, sometimes twice.
  const lateCount = random() < 0.18 ? (random() < 0.25 ? 2 : 1) : 0
  let recordedAt = endNs
  for (let i = 0; i < lateCount; i++) {
    recordedAt += BigInt(int(random, 60, 86_400)) * 1_000_000_000n + BigInt(int(random, 0, 999_999_999))
    const lateStatus = random() < 0.6 ? 'delivered' : (outcomeStatus(random) ?? 'failed')
    outcomes.push(outcome(random, lateStatus, recordedAt, hex(random, 16), true))
  }
  return {
    project,
    runId,
    traceId: parent ? parent.traceId : hex(random, 32),
    parentRunId: parent?.runId ?? '',
    agentId,
    userId,
    startNs,
    durationNs,
    statusError: random() < 0.08,
    ownCostUsd: random() < 0.2 ? Math.round(random() * 500) / 10_000 : 0,
    calls: calls(random, startNs, durationNs),
    outcomes,
    runArrivesLate: random() < 0.1,
  }
}

// ---------------------------------------------------------------------------------------------
// Rows, as the collector writes them.

function spanRow(run: GoldenRun, fields: Partial<SpanRow> & Pick<SpanRow, 'span_id' | 'timestamp'>): SpanRow {
  return {
    project_id: run.project,
    trace_id: run.traceId,
    parent_span_id: run.runId,
    trace_state: '',
    span_name: '',
    span_kind: 'INTERNAL',
    service_name: 'golden',
    resource_attributes: { 'service.name': 'golden' },
    scope_name: '@daa/sdk',
    scope_version: '0.1.0',
    span_attributes: {},
    duration_ns: 0,
    status_code: 'UNSET',
    status_message: '',
    'events.timestamp': [],
    'events.name': [],
    'events.attributes': [],
    'links.trace_id': [],
    'links.span_id': [],
    'links.trace_state': [],
    'links.attributes': [],
    operation: '',
    run_id: run.runId,
    agent_id: run.agentId,
    user_id: run.userId,
    conversation_id: '',
    request_model: '',
    response_model: '',
    provider: '',
    tool_name: '',
    tool_call_id: '',
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    cost_usd: 0,
    error_type: '',
    ...fields,
  }
}

function outcomeRow(run: GoldenRun, result: GoldenOutcome): OutcomeRow {
  return {
    project_id: run.project,
    run_id: run.runId,
    status: result.status,
    value: result.value,
    unit: result.unit,
    reason: result.reason,
    recorded_at: String(result.recordedAt),
    source_span_id: result.sourceSpanId,
  }
}

function rowsOf(run: GoldenRun): { wave1: MappedRows; wave2: MappedRows } {
  const wave1: MappedRows = { spans: [], runs: [], outcomes: [] }
  const wave2: MappedRows = { spans: [], runs: [], outcomes: [] }
  const onSpan = run.outcomes.find((result) => !result.late)
  const runSpan = spanRow(run, {
    span_id: run.runId,
    parent_span_id: run.parentRunId,
    timestamp: String(run.startNs),
    span_name: `invoke_agent ${run.agentId}`,
    operation: 'invoke_agent',
    duration_ns: run.durationNs,
    status_code: run.statusError ? 'ERROR' : 'OK',
    error_type: run.statusError ? 'AgentError' : '',
    cost_usd: run.ownCostUsd,
    span_attributes: onSpan ? { 'daa.outcome': onSpan.status } : {},
  })
  const runRow: RunRow = {
    project_id: run.project,
    run_id: run.runId,
    trace_id: run.traceId,
    parent_run_id: run.parentRunId,
    agent_id: run.agentId,
    agent_name: run.agentId,
    agent_version: '1.0.0',
    user_id: run.userId,
    conversation_id: '',
    service_name: 'golden',
    start_time: String(run.startNs),
    duration_ns: run.durationNs,
    status_code: run.statusError ? 'ERROR' : 'OK',
    error_type: run.statusError ? 'AgentError' : '',
    cost_usd: run.ownCostUsd,
  }
  const runWave = run.runArrivesLate ? wave2 : wave1
  runWave.spans.push(runSpan)
  runWave.runs.push(runRow)
  if (onSpan) runWave.outcomes.push(outcomeRow(run, onSpan))

  for (const call of run.calls) {
    const row = spanRow(run, {
      span_id: call.spanId,
      timestamp: String(call.startNs),
      duration_ns: call.durationNs,
      span_name:
        call.kind === 'llm' ? 'chat gpt-5' : call.kind === 'tool' ? 'execute_tool search' : 'GET /api',
      operation: call.kind === 'llm' ? 'chat' : call.kind === 'tool' ? 'execute_tool' : '',
      request_model: call.kind === 'llm' ? 'gpt-5' : '',
      provider: call.kind === 'llm' ? 'openai' : '',
      tool_name: call.kind === 'tool' ? 'search' : '',
      input_tokens: call.inputTokens,
      output_tokens: call.outputTokens,
      cache_read_tokens: call.cacheReadTokens,
      reasoning_tokens: call.reasoningTokens,
      cost_usd: call.costUsd,
      // Failed tool calls: half with status ERROR, half only with an error type.
      status_code: call.failed && call.spanId < '8' ? 'ERROR' : 'OK',
      error_type: call.failed && call.spanId >= '8' ? 'ToolTimeout' : '',
    })
    if (call.attributedLate) {
      // First seen before its run was known (run_id ''), re-inserted with its run later: the newer
      // version replaces the first (ReplacingMergeTree by ingested_at).
      wave1.spans.push({ ...row, run_id: '', ingested_at: '2026-01-01 00:00:00.000' } as SpanRow)
      wave2.spans.push({ ...row, ingested_at: '2026-01-02 00:00:00.000' } as SpanRow)
    } else {
      wave1.spans.push(row)
    }
  }

  for (const late of run.outcomes.filter((result) => result.late)) {
    wave2.spans.push(
      spanRow(run, {
        span_id: late.sourceSpanId,
        parent_span_id: '',
        timestamp: String(late.recordedAt - 1_000_000n),
        duration_ns: 1_000_000,
        span_name: 'daa.outcome',
        operation: 'daa.outcome',
        span_attributes: { 'daa.run.id': run.runId, 'daa.outcome': late.status },
      }),
    )
    wave2.outcomes.push(outcomeRow(run, late))
  }
  return { wave1, wave2 }
}

function merge(into: MappedRows, rows: MappedRows): void {
  into.spans.push(...rows.spans)
  into.runs.push(...rows.runs)
  into.outcomes.push(...rows.outcomes)
}

/** Generates the golden project's fleet (and a rival project that must never leak into it). */
export function generateGoldenDataset(seed = 20260601): GoldenDataset {
  const runs = [...generateRuns(GOLDEN_PROJECT, seed), ...generateRuns(OTHER_PROJECT, seed + 1)]
  const random = seededRandom(seed + 2)
  const batches: GoldenDataset['batches'] = []
  const waves: Record<1 | 2, MappedRows[]> = { 1: [], 2: [] }
  // Batches of about 40 runs' rows, in run order, per wave.
  for (let i = 0; i < runs.length; i += 40) {
    const wave1: MappedRows = { spans: [], runs: [], outcomes: [] }
    const wave2: MappedRows = { spans: [], runs: [], outcomes: [] }
    for (const run of runs.slice(i, i + 40)) {
      const rows = rowsOf(run)
      merge(wave1, rows.wave1)
      merge(wave2, rows.wave2)
    }
    waves[1].push(wave1)
    waves[2].push(wave2)
  }
  for (const wave of [1, 2] as const) {
    for (const rows of waves[wave]) batches.push({ wave, retried: random() < 0.3, rows })
  }
  // A retry that arrives after the first refresh: an already-counted batch inserted yet again.
  batches.push({ wave: 2, retried: false, rows: waves[1][0]! })
  return { runs, batches }
}
