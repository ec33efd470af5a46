import { describe, expect, it } from 'vitest'
import { rangeProblem } from './range.js'

describe('a custom range', () => {
  it('is fine from its first to its last day, up to the longest range', () => {
    expect(rangeProblem('2026-03-01', '2026-03-01', 366)).toBeUndefined()
    expect(rangeProblem('2025-01-01', '2026-01-01', 366)).toBeUndefined()
  })

  it('says which date is missing or not a date', () => {
    expect(rangeProblem('', '2026-03-01', 366)).toEqual({
      message: "Choose the range's first day.",
      fields: ['from'],
    })
    expect(rangeProblem('2026-02-30', '2026-03-01', 366)?.fields).toEqual(['from'])
    expect(rangeProblem('2026-03-01', 'soon', 366)?.message).toBe('"soon" is not a date (YYYY-MM-DD).')
  })

  it('refuses an end before the start, and a range longer than the API reads', () => {
    expect(rangeProblem('2026-03-10', '2026-03-01', 366)?.message).toBe(
      'The range ends (2026-03-01) before it starts (2026-03-10).',
    )
    expect(rangeProblem('2024-01-01', '2026-01-01', 366)?.message).toBe(
      'The range is 732 days: at most 366 can be shown at once.',
    )
  })
})
