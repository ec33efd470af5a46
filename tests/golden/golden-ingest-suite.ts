/**
 * The golden suite through real ingestion: the golden fleet is exported as OTLP/protobuf requests
 * to running collectors (children before their runs, every fourth request twice, late outcomes and
 * late run spans last, all of it months older than the collector's clock: a backfill), and then
 * every saved query is read from the metrics API, polled the way a dashboard would until it equals
 * the answer computed in plain TypeScript. Nobody calls a refresh: the collectors keep the metrics
 * current on their own. The time from the last acknowledgment to exact answers is printed.
 */
import { createApiKey, type Store } from '@daa/collector'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runSavedQuery, type SavedQueryResult } from '../../collector/src/queries/index.js'
import { EXPECTED, type MetricParams } from './expected-metrics.js'
import { GOLDEN_PROJECT, type GoldenRun, generateGoldenDataset, OTHER_PROJECT } from './golden-dataset.js'
import { runSpan, sendGoldenFleet } from './golden-otlp.js'
import { expectRows } from './golden-suite.js'

/** UTC, zones with half- and quarter-hour offsets, two DST springs, and southern fall-backs (25-hour days). */
export const ALL_TIME_ZONES = [
  'UTC',
  'America/Los_Angeles',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Europe/Berlin',
  // Fall back on 2026-04-05 (Sydney) and 2026-04-04 (Santiago): a 25-hour calendar day each.
  'Australia/Sydney',
  'America/Santiago',
] as const

/** Three weeks of history before it (MAA, lifecycle); the LA and Berlin springs and the southern fall-backs inside. */
export const INGEST_RANGE = { from: '2026-03-01', to: '2026-04-06' } as const

/**
 * How long answers may take to become exact: generous, for a loaded 2-core machine (the cluster's
 * refreshes are the slowest; its time-to-exact is printed and is a known gap, see metric-layer.md).
 */
const EXACT_WITHIN_MS = 240_000
/** Vitest's own limit per test, above the polling deadline so the mismatch is what gets reported. */
const TEST_TIMEOUT_MS = EXACT_WITHIN_MS + 30_000

export interface IngestBackend {
  /** Base URLs of the collectors; requests go to them in turn. */
  collectors: string[]
  /** A store on the same database, for API keys and the run_summary check. */
  store: Store
  dispose(): Promise<void>
}

interface Mismatch {
  name: string
  tz: string
  error: unknown
}

export interface IngestSuiteOptions {
  /** Time zones whose answers are compared. Default: ALL_TIME_ZONES. */
  timeZones?: readonly string[]
  /** Also check the raw path (the benchmark's baseline) against the expected answers. Default: false. */
  checkRawPath?: boolean
}

export function describeIngestedGolden(
  backend: string,
  start: () => Promise<IngestBackend>,
  { timeZones = ALL_TIME_ZONES, checkRawPath = false }: IngestSuiteOptions = {},
) {
  describe(`saved queries after real ingestion: ${backend}`, () => {
    const dataset = generateGoldenDataset()
    let target: IngestBackend
    const keys = new Map<string, string>()
    let lastAck = 0

    const api = async (name: string, tz: string, project = GOLDEN_PROJECT, agent = '') => {
      const query = new URLSearchParams({ ...INGEST_RANGE, tz, ...(agent ? { agent } : {}) })
      const response = await fetch(`${target.collectors[0]}/api/v1/metrics/${name}?${query}`, {
        headers: { authorization: `Bearer ${keys.get(project)}` },
      })
      expect(response.status).toBe(200)
      return (await response.json()) as SavedQueryResult
    }
    const expected = (name: string, tz: string, project = GOLDEN_PROJECT, agent = '') =>
      EXPECTED[name]!(dataset.runs, { project, ...INGEST_RANGE, tz, agent } satisfies MetricParams)
    const mismatch = async (name: string, tz: string, project?: string, agent?: string) => {
      try {
        expectRows(await api(name, tz, project, agent), expected(name, tz, project, agent))
        return undefined
      } catch (error) {
        return { name, tz, error } satisfies Mismatch
      }
    }
    /** Polls until every (query, tz) pair answers exactly; throws the last mismatch at the deadline. */
    const untilExact = async (pairs: { name: string; tz: string; project?: string; agent?: string }[]) => {
      const deadline = Date.now() + EXACT_WITHIN_MS
      let open = pairs
      for (;;) {
        const results = await Promise.all(open.map((p) => mismatch(p.name, p.tz, p.project, p.agent)))
        open = open.filter((_, index) => results[index] !== undefined)
        if (open.length === 0) return
        if (Date.now() > deadline) throw results.find((result) => result)!.error
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
    }

    beforeAll(async () => {
      target = await start()
      for (const project of [GOLDEN_PROJECT, OTHER_PROJECT]) {
        keys.set(project, (await createApiKey(target.store, project, 'golden')).key)
      }
      await sendGoldenFleet(dataset, target.collectors, keys)
      lastAck = Date.now()
      // Sending waits for each acknowledgment while the collector works: slow on a loaded machine.
    }, 600_000)
    afterAll(() => target?.dispose())

    it(
      'every saved query becomes exact in UTC without a refresh call (time-to-exact printed)',
      async () => {
        await untilExact(Object.keys(EXPECTED).map((name) => ({ name, tz: 'UTC' })))
        const seconds = (Date.now() - lastAck) / 1000
        process.stdout.write(
          `[golden ${backend}] all saved queries exact ${seconds.toFixed(1)} s after the last acknowledgment\n`,
        )
        // Freshness is reported, and moves past the last acknowledged export as refreshes go on.
        const deadline = Date.now() + EXACT_WITHIN_MS
        let freshAsOf = (await api('daa', 'UTC')).fresh_as_of
        while (Date.parse(freshAsOf ?? '') < lastAck && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 250))
          freshAsOf = (await api('daa', 'UTC')).fresh_as_of
        }
        expect(Date.parse(freshAsOf ?? '')).toBeGreaterThanOrEqual(lastAck)
      },
      TEST_TIMEOUT_MS,
    )

    for (const tz of timeZones) {
      it(
        `every saved query equals the hand-computed answer in ${tz}`,
        async () => {
          await untilExact(Object.keys(EXPECTED).map((name) => ({ name, tz })))
        },
        TEST_TIMEOUT_MS,
      )
    }

    it(
      'one agent (agent-03, dormant then back) in Asia/Kathmandu, and the other project on its own',
      async () => {
        await untilExact([
          ...Object.keys(EXPECTED).map((name) => ({ name, tz: 'Asia/Kathmandu', agent: 'agent-03' })),
          ...['daa', 'agent-leaderboard', 'value'].map((name) => ({
            name,
            tz: 'UTC',
            project: OTHER_PROJECT,
          })),
        ])
      },
      TEST_TIMEOUT_MS,
    )

    // The slowest check (the raw path recomputes every run per query): on one backend is enough.
    if (checkRawPath) {
      it(
        'the raw path (the benchmark baseline, joining spans, runs and outcomes) gives the same answers',
        async () => {
          await untilExact([{ name: 'daa', tz: 'UTC' }])
          for (const name of Object.keys(EXPECTED)) {
            const raw = await runSavedQuery(
              target.store,
              GOLDEN_PROJECT,
              name,
              { ...INGEST_RANGE, tz: 'Asia/Kolkata' },
              { source: 'raw' },
            )
            expectRows(raw, expected(name, 'Asia/Kolkata'))
          }
        },
        TEST_TIMEOUT_MS,
      )
    }

    it('run_summary: a plain GROUP BY gives the API answer (DAA, working agents, cost, tokens, p95 latency per day)', async () => {
      await untilExact([{ name: 'cost-per-outcome', tz: 'Europe/Berlin' }])
      const rows = await target.store.query<Record<string, unknown>>(
        `SELECT toString(toDate(start_time, 'Europe/Berlin')) AS day,
                uniqExactIf(agent_id, outcome = 'delivered' AND agent_id != '') AS daa,
                uniqExactIf(agent_id, agent_id != '') AS working_agents,
                count() AS runs,
                round(sum(cost_usd), 9) AS cost_usd,
                sum(total_tokens) AS tokens,
                quantileExact(0.95)(duration_bucket_ms) AS latency_p95_ms
         FROM run_summary
         WHERE project_id = {project:String}
           AND toDate(start_time, 'Europe/Berlin') BETWEEN {from:Date} AND {to:Date}
         GROUP BY day ORDER BY day`,
        { project: GOLDEN_PROJECT, ...INGEST_RANGE },
      )
      const daa = (await api('daa', 'Europe/Berlin')).rows.filter((row) => Number(row.runs) > 0)
      const cost = (await api('cost-per-outcome', 'Europe/Berlin')).rows.filter((row) => Number(row.runs) > 0)
      const health = (await api('run-health', 'Europe/Berlin')).rows.filter((row) => Number(row.runs) > 0)
      expect(rows).toEqual(
        daa.map((row, index) => ({
          day: row.day,
          daa: row.daa,
          working_agents: row.working_agents,
          runs: row.runs,
          cost_usd: Number((cost[index]!.cost_usd as number).toFixed(9)),
          tokens: cost[index]!.total_tokens,
          latency_p95_ms: health[index]!.latency_p95_ms,
        })),
      )
    })

    it(
      'prints money as recorded: five runs of 0.0021 USD cost 0.0105',
      async () => {
        const project = 'pennies'
        keys.set(project, (await createApiKey(target.store, project, 'golden')).key)
        const runs: GoldenRun[] = Array.from({ length: 5 }, (_, index) => ({
          project,
          runId: `${index + 1}`.padStart(16, 'a'),
          traceId: `${index + 1}`.padStart(32, 'b'),
          parentRunId: '',
          agentId: 'penny',
          userId: '',
          startNs: BigInt(Date.parse('2026-03-10T12:00:00Z')) * 1_000_000n + BigInt(index),
          durationNs: 1_000_000_000,
          statusError: false,
          ownCostUsd: 0.0021,
          calls: [],
          outcomes: [],
          runArrivesLate: false,
        }))
        const response = await fetch(`${target.collectors.at(-1)}/v1/traces`, {
          method: 'POST',
          body: ProtobufTraceSerializer.serializeRequest(runs.map(runSpan))!,
          headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${keys.get(project)}` },
        })
        expect(response.status).toBe(200)
        const deadline = Date.now() + EXACT_WITHIN_MS
        let day: Record<string, unknown> | undefined
        while (Date.now() < deadline) {
          day = (await api('cost-per-outcome', 'UTC', project)).rows.find((row) => row.day === '2026-03-10')
          if (day?.runs === 5) break
          await new Promise((resolve) => setTimeout(resolve, 250))
        }
        expect(day).toMatchObject({ runs: 5, cost_usd: 0.0105 })
        expect(JSON.stringify(day)).toContain('"cost_usd":0.0105,')
      },
      TEST_TIMEOUT_MS,
    )
  })
}
