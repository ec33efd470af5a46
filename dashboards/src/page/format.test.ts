import { describe, expect, it } from 'vitest'
import type { ValueUnit } from '../panels.js'
import { formatValue, tickSteps } from './format.js'

describe('axis ticks', () => {
  it.each<ValueUnit>(['count', 'tokens', 'ms', 'percent', 'usd', 'ratio', 'value'])(
    'label every tick of a %s axis differently, however small its values',
    (unit) => {
      // Any few ticks one step apart, from the smallest step up: the labels a chart would show.
      for (const step of tickSteps(unit).slice(0, 12)) {
        const labels = [0, 1, 2, 3, 4].map((tick) => formatValue(tick * step, unit, true))
        expect(new Set(labels).size).toBe(labels.length)
      }
    },
  )
})

describe('amounts', () => {
  it('shows what a run cost under a cent with two significant digits, not rounded to a tenth of one', () => {
    expect(['0.0005', '0.0021', '0.0013', '0.00001234'].map((usd) => formatValue(usd, 'usd'))).toEqual([
      '$0.0005',
      '$0.0021',
      '$0.0013',
      '$0.000012',
    ])
    expect([0, 0.026, 4.73, 1234].map((usd) => formatValue(usd, 'usd'))).toEqual([
      '$0.00',
      '$0.026',
      '$4.73',
      '$1.2K',
    ])
  })
})
