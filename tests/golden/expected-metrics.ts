/**
 * Every saved query's answer, computed in plain TypeScript from the golden events (GoldenRun), not
 * from rows or SQL. Each function follows the definition in its query's header, and returns rows
 * shaped like ClickHouse's JSON output (dates as YYYY-MM-DD, numbers as numbers, NULL as null).
 */
import { DURATION_BUCKET_BITS } from '../../collector/src/queries/durations.js'
import { addDays, type GoldenRun } from './golden-dataset.js'

export interface MetricParams {
  project: string
  from: string
  to: string
  tz: string
  agent: string
}

type Row = Record<string, unknown>

const LATER_FIRST = (a: { recordedAt: bigint; sourceSpanId: string }, b: typeof a) =>
  a.recordedAt === b.recordedAt
    ? a.sourceSpanId < b.sourceSpanId
      ? 1
      : -1
    : a.recordedAt < b.recordedAt
      ? 1
      : -1

/** One run, reduced to what the metrics need, with its calendar day in the chosen zone. */
interface RunSummary {
  agentId: string
  userId: string
  day: string
  durationNs: number
  statusError: boolean
  outcome: string
  value: number
  unit: string
  reason: string
  costUsd: number
  inputTokens: number
  outputTokens: number
  llmCalls: number
  toolCalls: number
  toolErrors: number
}

const dayFormatters = new Map<string, Intl.DateTimeFormat>()

/** The calendar day (YYYY-MM-DD) in `timeZone` of an instant in nanoseconds. */
export function dayIn(timeZone: string, ns: bigint): string {
  let formatter = dayFormatters.get(timeZone)
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    })
    dayFormatters.set(timeZone, formatter)
  }
  // Floor to the millisecond: day boundaries fall on whole seconds, so this never changes the day.
  const ms = ns / 1_000_000n
  return formatter.format(new Date(Number(ms)))
}

export function summarize(run: GoldenRun, timeZone: string): RunSummary {
  const latest = [...run.outcomes].sort(LATER_FIRST)[0]
  const llm = run.calls.filter((call) => call.kind === 'llm')
  const tools = run.calls.filter((call) => call.kind === 'tool')
  return {
    agentId: run.agentId,
    userId: run.userId,
    day: dayIn(timeZone, run.startNs),
    durationNs: run.durationNs,
    statusError: run.statusError,
    outcome: latest?.status ?? 'unknown',
    value: latest?.value ?? 0,
    unit: latest?.unit ?? '',
    reason: latest?.reason ?? '',
    costUsd: run.calls.reduce((total, call) => total + call.costUsd, run.ownCostUsd),
    inputTokens: llm.reduce((total, call) => total + call.inputTokens, 0),
    outputTokens: llm.reduce((total, call) => total + call.outputTokens, 0),
    llmCalls: llm.length,
    toolCalls: tools.length,
    toolErrors: tools.filter((call) => call.failed).length,
  }
}

function daysBetween(from: string, to: string): string[] {
  const days: string[] = []
  for (let day = from; day <= to; day = addDays(day, 1)) days.push(day)
  return days
}

/** The project's (and agent's) runs with their day in tz, from `earliest` (inclusive) to `to`. */
function runsOf(runs: readonly GoldenRun[], params: MetricParams, earliest: string | null): RunSummary[] {
  return runs
    .filter((run) => run.project === params.project && (params.agent === '' || run.agentId === params.agent))
    .map((run) => summarize(run, params.tz))
    .filter((run) => run.day <= params.to && (earliest === null || run.day >= earliest))
}

function groupByDay(runs: RunSummary[], days: string[]): Map<string, RunSummary[]> {
  const byDay = new Map(days.map((day) => [day, [] as RunSummary[]]))
  for (const run of runs) byDay.get(run.day)?.push(run)
  return byDay
}

const ratio = (numerator: number, denominator: number) => (denominator === 0 ? 0 : numerator / denominator)
const distinct = <T>(items: T[]) => new Set(items).size
const sum = (items: number[]) => items.reduce((total, item) => total + item, 0)

function daa(runs: readonly GoldenRun[], params: MetricParams): Row[] {
  const days = daysBetween(params.from, params.to)
  return [...groupByDay(runsOf(runs, params, params.from), days)].map(([day, dayRuns]) => ({
    day,
    // A run without an agent id is no agent's (it still counts toward runs).
    daa: distinct(
      dayRuns.filter((run) => run.outcome === 'delivered' && run.agentId !== '').map((run) => run.agentId),
    ),
    working_agents: distinct(dayRuns.filter((run) => run.agentId !== '').map((run) => run.agentId)),
    runs: dayRuns.length,
    delivered_runs: dayRuns.filter((run) => run.outcome === 'delivered').length,
  }))
}

/** agent → its delivering days (sorted), over all history up to `to`. */
function deliveringDays(runs: readonly GoldenRun[], params: MetricParams): Map<string, string[]> {
  const byAgent = new Map<string, Set<string>>()
  for (const run of runsOf(runs, params, null)) {
    if (run.outcome !== 'delivered' || run.agentId === '') continue
    const days = byAgent.get(run.agentId) ?? new Set<string>()
    days.add(run.day)
    byAgent.set(run.agentId, days)
  }
  return new Map([...byAgent].map(([agent, days]) => [agent, [...days].sort()]))
}

function waaMaa(runs: readonly GoldenRun[], params: MetricParams): Row[] {
  const agents = [...deliveringDays(runs, params).values()]
  const activeWithin = (day: string, windowDays: number) =>
    agents.filter((days) => days.some((d) => d <= day && d > addDays(day, -windowDays))).length
  return daysBetween(params.from, params.to).map((day) => {
    const daaCount = activeWithin(day, 1)
    const maa = activeWithin(day, 30)
    return { day, daa: daaCount, waa: activeWithin(day, 7), maa, stickiness: ratio(daaCount, maa) }
  })
}

function deliveryRate(runs: readonly GoldenRun[], params: MetricParams): Row[] {
  const days = daysBetween(params.from, params.to)
  return [...groupByDay(runsOf(runs, params, params.from), days)].map(([day, dayRuns]) => {
    const count = (status: string) => dayRuns.filter((run) => run.outcome === status).length
    const known = dayRuns.length - count('unknown')
    return {
      day,
      runs: dayRuns.length,
      delivered: count('delivered'),
      partial: count('partial'),
      failed: count('failed'),
      abandoned: count('abandoned'),
      unknown: count('unknown'),
      known_outcome_runs: known,
      delivery_rate: ratio(count('delivered'), known),
    }
  })
}

function costPerOutcome(runs: readonly GoldenRun[], params: MetricParams): Row[] {
  const days = daysBetween(params.from, params.to)
  return [...groupByDay(runsOf(runs, params, params.from), days)].map(([day, dayRuns]) => {
    const delivered = dayRuns.filter((run) => run.outcome === 'delivered').length
    const cost = sum(dayRuns.map((run) => run.costUsd))
    const input = sum(dayRuns.map((run) => run.inputTokens))
    const output = sum(dayRuns.map((run) => run.outputTokens))
    return {
      day,
      runs: dayRuns.length,
      delivered_runs: delivered,
      cost_usd: cost,
      cost_per_delivered_usd: ratio(cost, delivered),
      input_tokens: input,
      output_tokens: output,
      total_tokens: input + output,
      tokens_per_delivered: ratio(input + output, delivered),
    }
  })
}

function value(runs: readonly GoldenRun[], params: MetricParams): Row[] {
  const days = daysBetween(params.from, params.to)
  const byDay = groupByDay(runsOf(runs, params, params.from), days)
  const valued = (run: RunSummary) => run.outcome === 'delivered' && run.unit !== ''
  const units = [
    ...new Set(
      [...byDay.values()]
        .flat()
        .filter(valued)
        .map((run) => run.unit),
    ),
  ].sort()
  return units.flatMap((unit) =>
    days.map((day) => {
      const dayRuns = byDay.get(day)!
      const delivered = dayRuns.filter((run) => valued(run) && run.unit === unit)
      const total = sum(delivered.map((run) => run.value))
      const tokens = sum(dayRuns.map((run) => run.inputTokens + run.outputTokens))
      const cost = sum(dayRuns.map((run) => run.costUsd))
      return {
        day,
        unit,
        delivered_runs: delivered.length,
        value: total,
        total_tokens: tokens,
        cost_usd: cost,
        value_per_1k_tokens: tokens === 0 ? 0 : (total / tokens) * 1000,
        roi: /^[A-Z]{3}$/.test(unit) ? ratio(total, cost) : null,
      }
    }),
  )
}

function peopleServed(runs: readonly GoldenRun[], params: MetricParams): Row[] {
  const days = daysBetween(params.from, params.to)
  return [...groupByDay(runsOf(runs, params, params.from), days)].map(([day, dayRuns]) => {
    const withUser = dayRuns.filter((run) => run.userId !== '')
    return {
      day,
      people_served: distinct(withUser.filter((run) => run.outcome === 'delivered').map((run) => run.userId)),
      people_with_runs: distinct(withUser.map((run) => run.userId)),
      delivered_runs: dayRuns.filter((run) => run.outcome === 'delivered').length,
    }
  })
}

function agentLifecycle(runs: readonly GoldenRun[], params: MetricParams): Row[] {
  const agents = [...deliveringDays(runs, params).values()].map((days) => ({ days, set: new Set(days) }))
  return daysBetween(params.from, params.to).map((day) => {
    const yesterday = addDays(day, -1)
    let created = 0
    let returning = 0
    let resurrecting = 0
    let dormant = 0
    for (const { days, set } of agents) {
      if (set.has(day)) {
        if (days[0] === day) created += 1
        else if (set.has(yesterday)) returning += 1
        else resurrecting += 1
      } else if (set.has(yesterday)) {
        dormant += 1
      }
    }
    return {
      day,
      new_agents: created,
      returning_agents: returning,
      resurrecting_agents: resurrecting,
      dormant_agents: dormant,
      daa: created + returning + resurrecting,
    }
  })
}

function agentRetention(runs: readonly GoldenRun[], params: MetricParams): Row[] {
  const agents = [...deliveringDays(runs, params).values()]
  const rows: Row[] = []
  for (const cohortDay of daysBetween(params.from, params.to)) {
    const cohort = agents.filter((days) => days[0] === cohortDay).map((days) => new Set(days))
    daysBetween(cohortDay, params.to).forEach((day, offset) => {
      const retained = cohort.filter((days) => days.has(day)).length
      rows.push({
        cohort_day: cohortDay,
        day_offset: offset,
        cohort_agents: cohort.length,
        retained_agents: retained,
        retention_rate: ratio(retained, cohort.length),
      })
    })
  }
  return rows
}

function agentLeaderboard(runs: readonly GoldenRun[], params: MetricParams): Row[] {
  const byAgent = new Map<string, RunSummary[]>()
  for (const run of runsOf(runs, params, params.from)) {
    if (run.agentId === '') continue
    byAgent.set(run.agentId, [...(byAgent.get(run.agentId) ?? []), run])
  }
  const rows = [...byAgent].map(([agentId, agentRuns]) => {
    const delivered = agentRuns.filter((run) => run.outcome === 'delivered')
    const known = agentRuns.filter((run) => run.outcome !== 'unknown').length
    const cost = sum(agentRuns.map((run) => run.costUsd))
    const unitCounts = new Map<string, number>()
    for (const run of delivered) if (run.unit) unitCounts.set(run.unit, (unitCounts.get(run.unit) ?? 0) + 1)
    const [mainUnit = ''] = [...unitCounts]
      .sort(([unitA, countA], [unitB, countB]) => countB - countA || (unitA < unitB ? -1 : 1))
      .map(([unit]) => unit)
    return {
      rank: 0,
      agent_id: agentId,
      runs: agentRuns.length,
      delivered_runs: delivered.length,
      delivery_rate: ratio(delivered.length, known),
      cost_usd: cost,
      cost_per_delivered_usd: ratio(cost, delivered.length),
      value_unit: mainUnit,
      value: sum(delivered.filter((run) => mainUnit !== '' && run.unit === mainUnit).map((run) => run.value)),
      people_served: distinct(delivered.filter((run) => run.userId !== '').map((run) => run.userId)),
    }
  })
  rows.sort((a, b) => b.delivered_runs - a.delivered_runs || (a.agent_id < b.agent_id ? -1 : 1))
  return rows.map((row, index) => ({ ...row, rank: index + 1 }))
}

/**
 * A duration's bucket, as run-health defines it (durations.ts), in exact integer arithmetic: the
 * duration keeps its DURATION_BUCKET_BITS + 1 highest bits and is named by its bucket's middle.
 */
export function durationBucket(ns: number): number {
  const value = BigInt(ns)
  const exponent = value === 0n ? 0 : value.toString(2).length - 1
  const shift = BigInt(Math.max(exponent - DURATION_BUCKET_BITS, 0))
  return Number(((value >> shift) << shift) + ((1n << shift) >> 1n))
}

/**
 * A run-health percentile: the bucket of the element at 0-based position floor(level × n) of the
 * sorted durations (ClickHouse quantileExact's rank).
 */
export function latencyPercentile(sorted: readonly number[], level: number): number {
  if (sorted.length === 0) return 0
  return durationBucket(sorted[Math.min(Math.floor(level * sorted.length), sorted.length - 1)]!)
}

function runHealth(runs: readonly GoldenRun[], params: MetricParams): Row[] {
  const days = daysBetween(params.from, params.to)
  return [...groupByDay(runsOf(runs, params, params.from), days)].map(([day, dayRuns]) => {
    const durations = dayRuns.map((run) => run.durationNs).sort((a, b) => a - b)
    const toolCalls = sum(dayRuns.map((run) => run.toolCalls))
    const toolErrors = sum(dayRuns.map((run) => run.toolErrors))
    return {
      day,
      runs: dayRuns.length,
      error_runs: dayRuns.filter((run) => run.statusError).length,
      latency_p50_ms: latencyPercentile(durations, 0.5) / 1e6,
      latency_p95_ms: latencyPercentile(durations, 0.95) / 1e6,
      latency_p99_ms: latencyPercentile(durations, 0.99) / 1e6,
      llm_calls_per_run: ratio(sum(dayRuns.map((run) => run.llmCalls)), dayRuns.length),
      tool_calls_per_run: ratio(toolCalls, dayRuns.length),
      tool_calls: toolCalls,
      tool_errors: toolErrors,
      tool_error_rate: ratio(toolErrors, toolCalls),
    }
  })
}

const STATUS_ORDER = ['delivered', 'partial', 'failed', 'abandoned', 'unknown']

function outcomesByReason(runs: readonly GoldenRun[], params: MetricParams): Row[] {
  const inRange = runsOf(runs, params, params.from)
  const groups = new Map<string, RunSummary[]>()
  for (const run of inRange) {
    const key = JSON.stringify([run.outcome, run.reason])
    groups.set(key, [...(groups.get(key) ?? []), run])
  }
  const rows = [...groups].map(([key, group]) => {
    const [status, reason] = JSON.parse(key) as [string, string]
    const units = [...new Set(group.map((run) => run.unit).filter((unit) => unit !== ''))].sort()
    return {
      status,
      reason,
      runs: group.length,
      share_of_runs: group.length / inRange.length,
      // Values in several units do not add up.
      value: units.length > 1 ? null : sum(group.map((run) => run.value)),
      unit: units.join(', '),
    }
  })
  return rows.sort(
    (a, b) =>
      STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) ||
      b.runs - a.runs ||
      (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0),
  )
}

const timeFormatters = new Map<string, Intl.DateTimeFormat>()

/** `YYYY-MM-DD hh:mm:ss` of an instant (nanoseconds, floored to the second) in `timeZone`. */
function timeIn(timeZone: string, ns: bigint): string {
  let formatter = timeFormatters.get(timeZone)
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
    timeFormatters.set(timeZone, formatter)
  }
  const parts = Object.fromEntries(
    formatter
      .formatToParts(new Date(Number(ns / 1_000_000_000n) * 1000))
      .map((part) => [part.type, part.value]),
  )
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`
}

function recentRuns(runs: readonly GoldenRun[], params: MetricParams): Row[] {
  return runs
    .filter((run) => run.project === params.project && (params.agent === '' || run.agentId === params.agent))
    .map((run) => ({ run, summary: summarize(run, params.tz), second: run.startNs / 1_000_000_000n }))
    .filter(({ summary }) => summary.day >= params.from && summary.day <= params.to)
    .sort((a, b) =>
      a.second === b.second ? (a.run.runId < b.run.runId ? -1 : 1) : a.second > b.second ? -1 : 1,
    )
    .slice(0, 100)
    .map(({ run, summary }) => ({
      started_at: timeIn(params.tz, run.startNs),
      run_id: run.runId,
      agent_id: summary.agentId,
      user_id: summary.userId,
      outcome: summary.outcome,
      reason: summary.reason,
      value: summary.value,
      unit: summary.unit,
      duration_ms: summary.durationNs / 1e6,
      cost_usd: summary.costUsd,
      total_tokens: summary.inputTokens + summary.outputTokens,
      llm_calls: summary.llmCalls,
      tool_calls: summary.toolCalls,
      tool_errors: summary.toolErrors,
    }))
}

/** The expected rows of every saved query, by name. */
export const EXPECTED: Record<string, (runs: readonly GoldenRun[], params: MetricParams) => Row[]> = {
  daa,
  'waa-maa': waaMaa,
  'delivery-rate': deliveryRate,
  'cost-per-outcome': costPerOutcome,
  value,
  'people-served': peopleServed,
  'agent-lifecycle': agentLifecycle,
  'agent-retention': agentRetention,
  'agent-leaderboard': agentLeaderboard,
  'run-health': runHealth,
  'outcomes-by-reason': outcomesByReason,
  'recent-runs': recentRuns,
}
