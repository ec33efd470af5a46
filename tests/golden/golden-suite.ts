/**
 * Helpers of the golden suites: comparing a saved query's result with the expected rows, and
 * loading the golden rows straight into a store (for the API-shape tests in metrics-api.test.ts;
 * the metric suites go through real ingestion, golden-ingest-suite.ts).
 */
import type { Store } from '@daa/collector'
import { expect } from 'vitest'
import type { SavedQueryResult } from '../../collector/src/queries/index.js'
import type { GoldenDataset } from './golden-dataset.js'

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
