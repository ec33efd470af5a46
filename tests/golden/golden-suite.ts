/**
 * The golden suite: loads the golden dataset into a fresh database the way ingestion would (retried
 * batches, late spans and outcomes after a first rollup refresh), then checks every saved query, on
 * the rollup and on the raw path, against the answers computed in plain TypeScript.
 * Each backend's test file calls `describeGoldenSuite` with a factory for a fresh, empty store.
 */
import { migrate, type Store } from '@daa/collector'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type RefreshReport,
  refreshRollups,
  runSavedQuery,
  type SavedQueryResult,
  savedQueries,
} from '../../collector/src/queries/index.js'
import { EXPECTED, type MetricParams } from './expected-metrics.js'
import { GOLDEN_PROJECT, type GoldenDataset, generateGoldenDataset, OTHER_PROJECT } from './golden-dataset.js'

export const TIME_ZONES = ['UTC', 'America/Los_Angeles', 'Asia/Kolkata', 'Asia/Kathmandu'] as const

/** The range under test: starts 3 weeks into the data (history for MAA and lifecycle) and spans the US DST change. */
export const RANGE = { from: '2026-03-01', to: '2026-03-26' } as const

/** Relative tolerance for Float64 columns, whose sums ClickHouse may add up in another order. */
const FLOAT_TOLERANCE = 1e-9

/**
 * Compares a result with the expected rows: exact for every column, except Float64 columns, which
 * must agree to FLOAT_TOLERANCE (relative). On a mismatch, the diff shows the actual rows.
 */
export function expectRows(result: SavedQueryResult, expected: Record<string, unknown>[]): void {
  const floats = new Set(result.columns.filter((c) => c.type.includes('Float')).map((c) => c.name))
  expect(Object.keys(result.rows[0] ?? {})).toEqual(
    result.rows.length ? result.columns.map((c) => c.name) : [],
  )
  const comparable = result.rows.map((row, index) =>
    Object.fromEntries(
      Object.entries(row).map(([column, actual]) => {
        const wanted = expected[index]?.[column]
        const close =
          floats.has(column) &&
          typeof actual === 'number' &&
          typeof wanted === 'number' &&
          Math.abs(actual - wanted) <= FLOAT_TOLERANCE * Math.max(1, Math.abs(wanted))
        return [column, close ? wanted : actual]
      }),
    ),
  )
  expect(comparable).toEqual(expected)
}

/** Inserts rows, one insert per set of keys: an insert takes its column list from its first row. */
async function insertRows(store: Store, table: string, rows: readonly object[]): Promise<void> {
  const bySignature = new Map<string, object[]>()
  for (const row of rows) {
    const signature = Object.keys(row).join()
    bySignature.set(signature, [...(bySignature.get(signature) ?? []), row])
  }
  for (const group of bySignature.values()) await store.insert(table, group)
}

/** Inserts one wave of the dataset's batches, a retried batch twice. */
export async function loadWave(store: Store, dataset: GoldenDataset, wave: 1 | 2): Promise<void> {
  for (const batch of dataset.batches.filter((candidate) => candidate.wave === wave)) {
    for (let attempt = 0; attempt < (batch.retried ? 2 : 1); attempt++) {
      await insertRows(store, 'spans', batch.rows.spans)
      await insertRows(store, 'runs', batch.rows.runs)
      await insertRows(store, 'outcomes', batch.rows.outcomes)
    }
  }
}

export function describeGoldenSuite(
  backend: string,
  open: () => Promise<{ store: Store; dispose(): Promise<void> }>,
) {
  describe(`saved queries on the golden dataset: ${backend}`, () => {
    const dataset = generateGoldenDataset()
    let store: Store
    let dispose: () => Promise<void>
    let firstRefresh: RefreshReport
    let secondRefresh: RefreshReport

    beforeAll(async () => {
      ;({ store, dispose } = await open())
      await migrate(store, { retentionDays: 0 })
      await loadWave(store, dataset, 1)
      firstRefresh = await refreshRollups(store)
      await loadWave(store, dataset, 2)
      // Only what changed since the first refresh: late outcomes, late run spans, re-attributed
      // spans and the late retry must all reach the rollup through the change log.
      secondRefresh = await refreshRollups(store, { since: firstRefresh.startedAt })
    })
    afterAll(() => dispose?.())

    const params = (tz: string, agent = '', project = GOLDEN_PROJECT): MetricParams => ({
      project,
      ...RANGE,
      tz,
      agent,
    })

    it('rebuilds the rollup once, then refreshes only the runs that changed', () => {
      expect(firstRefresh.mode).toBe('full')
      expect(secondRefresh.mode).toBe('incremental')
      expect(secondRefresh.runsRefreshed).toBeGreaterThan(0)
      expect(secondRefresh.runsRefreshed).toBeLessThan(dataset.runs.length / 2)
    })

    it('holds one fact row per run, whatever was retried', async () => {
      const [facts] = await store.query<{ rows: number; runs: number }>(
        'SELECT count() AS rows, uniqExact(project_id, run_id) AS runs FROM run_facts FINAL',
      )
      expect(facts).toEqual({ rows: dataset.runs.length, runs: dataset.runs.length })
    })

    it('covers every saved query', () => {
      expect([...savedQueries().keys()].sort()).toEqual(Object.keys(EXPECTED).sort())
    })

    for (const tz of TIME_ZONES) {
      describe(`tz ${tz}`, () => {
        for (const name of Object.keys(EXPECTED)) {
          it(`${name} equals the hand-computed answer, on the rollup and on the raw path`, async () => {
            const expected = EXPECTED[name]!(dataset.runs, params(tz))
            const request = { ...RANGE, tz }
            expectRows(await runSavedQuery(store, GOLDEN_PROJECT, name, request), expected)
            expectRows(await runSavedQuery(store, GOLDEN_PROJECT, name, request, { source: 'raw' }), expected)
          })
        }
      })
    }

    describe('one agent (agent-03, which goes dormant and comes back), tz Asia/Kathmandu', () => {
      for (const name of Object.keys(EXPECTED)) {
        it(name, async () => {
          const expected = EXPECTED[name]!(dataset.runs, params('Asia/Kathmandu', 'agent-03'))
          const request = { ...RANGE, tz: 'Asia/Kathmandu', agent: 'agent-03' }
          expectRows(await runSavedQuery(store, GOLDEN_PROJECT, name, request), expected)
        })
      }
    })

    it("keeps projects apart: the other project's numbers are its own", async () => {
      for (const name of ['daa', 'agent-leaderboard', 'value']) {
        const expected = EXPECTED[name]!(dataset.runs, params('UTC', '', OTHER_PROJECT))
        expectRows(await runSavedQuery(store, OTHER_PROJECT, name, { ...RANGE, tz: 'UTC' }), expected)
      }
    })

    it('answers with zeros for a project without data', async () => {
      const result = await runSavedQuery(store, 'nobody', 'daa', { from: '2026-03-01', to: '2026-03-03' })
      expect(result.rows).toEqual(
        ['2026-03-01', '2026-03-02', '2026-03-03'].map((day) => ({
          day,
          daa: 0,
          working_agents: 0,
          runs: 0,
          delivered_runs: 0,
        })),
      )
    })
  })
}
