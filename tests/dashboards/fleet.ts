/**
 * A realistic fleet for the dashboard suites: a dozen agents over the last five weeks, made with
 * the official OpenTelemetry SDK (GenAI attributes, children ended before their runs, as a batch
 * exporter sends them), sent as OTLP/protobuf through a running collector in several requests.
 *
 * Agents differ the way real ones do: some deliver daily, one is new this week, one went dormant
 * and came back, one mostly fails; outcomes carry USD or ticket values and reasons; some tool
 * calls fail; costs come from `daa.cost.usd`.
 */
import { context, SpanStatusCode, trace } from '@opentelemetry/api'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace'
import { seededRandom } from '../golden/golden-dataset.js'
import { type CollectorUnderTest, postSpans } from '../support/collector-harness.js'

const DAY_MS = 86_400_000
export const FLEET_DAYS = 35

export interface AgentProfile {
  id: string
  /** Runs per active day. */
  runsPerDay: number
  /** Chance a run is delivered; the rest split over partial, failed, abandoned and no outcome. */
  delivery: number
  unit: 'USD' | 'tickets'
  /** Days (counted back from today, 0 = today) on which the agent does not run. */
  idle: (daysAgo: number) => boolean
}

const AGENTS: AgentProfile[] = [
  { id: 'support-triage', runsPerDay: 9, delivery: 0.82, unit: 'tickets', idle: () => false },
  { id: 'refund-bot', runsPerDay: 6, delivery: 0.74, unit: 'USD', idle: () => false },
  {
    id: 'sales-researcher',
    runsPerDay: 4,
    delivery: 0.63,
    unit: 'USD',
    idle: (d) => d % 7 === 5 || d % 7 === 6,
  },
  { id: 'code-reviewer', runsPerDay: 5, delivery: 0.7, unit: 'tickets', idle: () => false },
  { id: 'invoice-matcher', runsPerDay: 3, delivery: 0.9, unit: 'USD', idle: (d) => d % 3 === 1 },
  { id: 'onboarding-guide', runsPerDay: 2, delivery: 0.55, unit: 'tickets', idle: (d) => d > 20 },
  { id: 'churn-watcher', runsPerDay: 2, delivery: 0.6, unit: 'USD', idle: (d) => d >= 9 && d <= 16 },
  { id: 'qa-summarizer', runsPerDay: 3, delivery: 0.2, unit: 'tickets', idle: () => false },
  { id: 'docs-writer', runsPerDay: 2, delivery: 0.66, unit: 'tickets', idle: (d) => d > 5 },
  { id: 'legal-redliner', runsPerDay: 1, delivery: 0.8, unit: 'USD', idle: (d) => d > 25 || d % 2 === 0 },
  { id: 'forecast-analyst', runsPerDay: 1, delivery: 0.75, unit: 'USD', idle: (d) => d < 3 || d > 18 },
  {
    id: 'pager-responder',
    runsPerDay: 2,
    delivery: 0.5,
    unit: 'tickets',
    idle: (d) => d > 14 || d % 4 === 0,
  },
]

const REASONS: Record<string, string[]> = {
  delivered: ['resolved', 'approved', ''],
  partial: ['needs_human', 'incomplete_data'],
  failed: ['tool_error', 'model_refused', 'timeout'],
  abandoned: ['user_left', ''],
}

export interface Fleet {
  spans: ReadableSpan[]
  runs: number
  deliveredRuns: number
}

/**
 * A crowd of `count` agents (crowd-001 …) that each ran on the last three days only, one or two
 * runs a day: more agents than a table draws at once, in few spans.
 */
export function crowd(count: number): AgentProfile[] {
  return Array.from({ length: count }, (_, index) => ({
    id: `crowd-${String(index + 1).padStart(3, '0')}`,
    runsPerDay: 1,
    delivery: 0.7,
    unit: index % 2 ? 'USD' : 'tickets',
    idle: (daysAgo: number) => daysAgo > 2,
  }))
}

/**
 * The fleet's spans (by default the dozen agents above); runs start between 08:00 and 20:00 UTC on
 * each of the last FLEET_DAYS days (not in the future).
 */
export function makeFleet(now = Date.now(), seed = 4242, agents: AgentProfile[] = AGENTS): Fleet {
  const random = seededRandom(seed)
  const exporter = new InMemorySpanExporter()
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'agent-fleet',
      'deployment.environment.name': 'production',
    }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  })
  const tracer = provider.getTracer('fleet', '1.0.0')
  const todayStart = Math.floor(now / DAY_MS) * DAY_MS
  let runs = 0
  let deliveredRuns = 0
  for (let daysAgo = FLEET_DAYS - 1; daysAgo >= 0; daysAgo--) {
    for (const agent of agents) {
      if (agent.idle(daysAgo)) continue
      const count = Math.max(1, Math.round(agent.runsPerDay * (0.6 + random() * 0.8)))
      for (let index = 0; index < count; index++) {
        let start = todayStart - daysAgo * DAY_MS + (8 + random() * 12) * 3_600_000
        // Today's runs lie in the past, so the data is what a live fleet would have sent by now.
        if (start > now - 60_000) start = now - 60_000 - random() * 3_600_000
        const durationMs = 800 + random() * 9_000 + (random() < 0.05 ? 30_000 : 0)
        const roll = random()
        const outcome =
          roll < agent.delivery
            ? 'delivered'
            : roll < agent.delivery + (1 - agent.delivery) * 0.3
              ? 'partial'
              : roll < agent.delivery + (1 - agent.delivery) * 0.75
                ? 'failed'
                : roll < agent.delivery + (1 - agent.delivery) * 0.9
                  ? 'abandoned'
                  : undefined
        runs++
        if (outcome === 'delivered') deliveredRuns++
        const run = tracer.startSpan(
          `invoke_agent ${agent.id}`,
          {
            startTime: start,
            attributes: {
              'gen_ai.operation.name': 'invoke_agent',
              'gen_ai.agent.id': agent.id,
              'gen_ai.agent.name': agent.id,
              'gen_ai.agent.version': '2.1.0',
              'user.id': `user-${Math.floor(random() * 60)}`,
              'gen_ai.conversation.id': `conv-${agent.id}-${daysAgo}-${index}`,
            },
          },
          context.active(),
        )
        const inRun = trace.setSpan(context.active(), run)
        const calls = 1 + Math.floor(random() * 3)
        let offset = 50
        for (let call = 0; call < calls; call++) {
          const input = 600 + Math.floor(random() * 4000)
          const output = 80 + Math.floor(random() * 900)
          const chat = tracer.startSpan(
            'chat gpt-5',
            {
              startTime: start + offset,
              attributes: {
                'gen_ai.operation.name': 'chat',
                'gen_ai.request.model': 'gpt-5',
                'gen_ai.provider.name': 'openai',
                'gen_ai.usage.input_tokens': input,
                'gen_ai.usage.output_tokens': output,
                'daa.cost.usd': (input * 1.25 + output * 10) / 1_000_000,
              },
            },
            inRun,
          )
          offset += 300 + random() * 1500
          chat.end(start + offset)
        }
        const tools = Math.floor(random() * 4)
        for (let call = 0; call < tools; call++) {
          const tool = tracer.startSpan(
            'execute_tool lookup',
            {
              startTime: start + offset,
              attributes: {
                'gen_ai.operation.name': 'execute_tool',
                'gen_ai.tool.name': ['lookup', 'search_kb', 'update_crm'][call % 3]!,
                'gen_ai.tool.call.id': `call-${call}`,
              },
            },
            inRun,
          )
          if (random() < 0.08) {
            tool.setAttribute('error.type', 'TimeoutError')
            tool.setStatus({ code: SpanStatusCode.ERROR, message: 'tool timed out' })
          }
          offset += 100 + random() * 400
          tool.end(start + offset)
        }
        if (outcome) {
          run.setAttribute('daa.outcome', outcome)
          const reasons = REASONS[outcome]!
          const reason = reasons[Math.floor(random() * reasons.length)]!
          if (reason) run.setAttribute('daa.outcome.reason', reason)
          if (outcome === 'delivered') {
            run.setAttribute('daa.outcome.value', agent.unit === 'USD' ? Math.round(20 + random() * 180) : 1)
            run.setAttribute('daa.outcome.unit', agent.unit)
          }
        }
        if (outcome === 'failed' && random() < 0.5) run.setStatus({ code: SpanStatusCode.ERROR })
        run.end(start + Math.max(durationMs, offset + 20))
      }
    }
  }
  return { spans: exporter.getFinishedSpans(), runs, deliveredRuns }
}

/** Sends the fleet through the collector in OTLP requests of about `perRequest` spans each. */
export async function sendFleet(target: CollectorUnderTest, fleet: Fleet, perRequest = 400): Promise<void> {
  for (let index = 0; index < fleet.spans.length; index += perRequest) {
    const response = await postSpans(target, fleet.spans.slice(index, index + perRequest))
    if (response.status !== 200)
      throw new Error(`export refused: ${response.status} ${await response.text()}`)
  }
}

export interface MetricResponse {
  params: { from: string; to: string; tz: string; agent: string }
  columns: { name: string; type: string }[]
  rows: Record<string, unknown>[]
}

/** One saved query through the metrics API, as the page reads it. */
export async function getMetric(
  target: CollectorUnderTest,
  name: string,
  params: Record<string, string>,
): Promise<MetricResponse> {
  const response = await fetch(
    `${target.collector.url}/api/v1/metrics/${name}?${new URLSearchParams(params)}`,
    {
      headers: { authorization: `Bearer ${target.apiKey}` },
    },
  )
  if (!response.ok) throw new Error(`${name}: ${response.status} ${await response.text()}`)
  return (await response.json()) as MetricResponse
}

export function utcDay(offsetDays = 0, now = Date.now()): string {
  return new Date(now + offsetDays * DAY_MS).toISOString().slice(0, 10)
}

/**
 * Waits until the API counts every delivered run of the fleet over its days, the way a dashboard
 * user waits for fresh data: by asking again.
 */
export async function waitForFleet(
  target: CollectorUnderTest,
  fleet: Fleet,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const params = { from: utcDay(-(FLEET_DAYS + 1)), to: utcDay(0), tz: 'UTC' }
  let seen = -1
  while (Date.now() < deadline) {
    const { rows } = await getMetric(target, 'daa', params)
    seen = rows.reduce((sum, row) => sum + Number(row.delivered_runs), 0)
    if (seen === fleet.deliveredRuns) return
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`the API shows ${seen} delivered runs, not the ${fleet.deliveredRuns} sent`)
}
