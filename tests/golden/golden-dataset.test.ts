/** The golden dataset really contains the cases the saved-query suites rely on. */
import { describe, expect, it } from 'vitest'
import { dayIn, summarize } from './expected-metrics.js'
import { BOUNDARY_TIME_ZONES, GOLDEN_PROJECT, generateGoldenDataset, midnightIn } from './golden-dataset.js'

const dataset = generateGoldenDataset()
const golden = dataset.runs.filter((run) => run.project === GOLDEN_PROJECT)

describe('golden dataset', () => {
  it('is deterministic', () => {
    expect(
      JSON.stringify(generateGoldenDataset(), (_key, value) =>
        typeof value === 'bigint' ? String(value) : value,
      ),
    ).toBe(JSON.stringify(dataset, (_key, value) => (typeof value === 'bigint' ? String(value) : value)))
  })

  it('has every final outcome status, and runs without one', () => {
    const statuses = new Set(golden.map((run) => summarize(run, 'UTC').outcome))
    expect([...statuses].sort()).toEqual(['abandoned', 'delivered', 'failed', 'partial', 'unknown'])
  })

  it('has outcome reasons whose values are in several units (which do not add up)', () => {
    const unitsOf = new Map<string, Set<string>>()
    for (const run of golden) {
      const summary = summarize(run, 'UTC')
      if (!summary.unit) continue
      const key = `${summary.outcome}/${summary.reason}`
      unitsOf.set(key, (unitsOf.get(key) ?? new Set()).add(summary.unit))
    }
    expect([...unitsOf.values()].some((units) => units.size > 1)).toBe(true)
  })

  it('has late outcomes, some changing the status, some recorded twice', () => {
    const late = golden.filter((run) => run.outcomes.some((outcome) => outcome.late))
    expect(late.length).toBeGreaterThan(20)
    const changed = late.filter((run) => {
      const first = run.outcomes[0]!
      return run.outcomes.some((outcome) => outcome.late && outcome.status !== first.status)
    })
    expect(changed.length).toBeGreaterThan(5)
    expect(late.some((run) => run.outcomes.filter((outcome) => outcome.late).length === 2)).toBe(true)
    // Runs without an outcome on the span that get one later (unknown, then known).
    expect(late.some((run) => run.outcomes.every((outcome) => outcome.late))).toBe(true)
  })

  it('has runs on both sides of midnight, within a second, in every test time zone', () => {
    for (const zone of BOUNDARY_TIME_ZONES) {
      let justAfter = 0
      let justBefore = 0
      for (const run of golden) {
        const ms = Number(run.startNs / 1_000_000n)
        const day = dayIn(zone, run.startNs)
        const nextDay = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)
        if (ms - midnightIn(zone, day) < 1000) justAfter += 1
        if (midnightIn(zone, nextDay) - ms <= 1000) justBefore += 1
      }
      expect(justAfter, zone).toBeGreaterThan(2)
      expect(justBefore, zone).toBeGreaterThan(2)
    }
  })

  it('has agents that go dormant and come back, and an agent that joins late', () => {
    const days = new Map<string, Set<string>>()
    for (const run of golden) {
      const summary = summarize(run, 'UTC')
      if (summary.outcome === 'delivered')
        days.set(run.agentId, (days.get(run.agentId) ?? new Set()).add(summary.day))
    }
    const longestGap = (set: Set<string>) => {
      const sorted = [...set].sort()
      return Math.max(
        0,
        ...sorted.slice(1).map((day, i) => (Date.parse(day) - Date.parse(sorted[i]!)) / 86_400_000),
      )
    }
    expect([...days.values()].filter((set) => longestGap(set) >= 5).length).toBeGreaterThanOrEqual(3)
    expect([...days.get('agent-10')!].sort()[0]! > '2026-03-08').toBe(true)
  })

  it('has nested sub-agent runs, failed tool calls, retried batches and late-arriving spans', () => {
    expect(golden.filter((run) => run.parentRunId !== '').length).toBeGreaterThan(20)
    expect(golden.flatMap((run) => run.calls).filter((call) => call.failed).length).toBeGreaterThan(20)
    expect(dataset.batches.filter((batch) => batch.retried).length).toBeGreaterThan(3)
    expect(golden.filter((run) => run.runArrivesLate).length).toBeGreaterThan(10)
    expect(golden.flatMap((run) => run.calls).filter((call) => call.attributedLate).length).toBeGreaterThan(
      10,
    )
  })
})
