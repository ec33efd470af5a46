/** Number formatting for the page: the same units the panels declare. */
import type { ValueUnit } from '../panels.js'

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 })
const whole = new Intl.NumberFormat('en', { maximumFractionDigits: 0 })
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 2 })
/** Two significant digits, for amounts under a cent: $0.0005 is not $0.001, nor $0.0021 $0.002. */
const cents = new Intl.NumberFormat('en', { maximumSignificantDigits: 2 })

export function formatValue(value: unknown, unit: ValueUnit | 'text' | 'date', short = false): string {
  if (value === null || value === undefined || value === '') return unit === 'text' ? '' : '—'
  if (unit === 'text' || unit === 'date') return String(value)
  const number = Number(value)
  if (!Number.isFinite(number)) return String(value)
  switch (unit) {
    case 'percent':
      return `${(number * 100).toFixed(short || number === 0 || number === 1 ? 0 : 1)}%`
    case 'usd':
      if (Math.abs(number) >= 1000) return `$${compact.format(number)}`
      if (number !== 0 && Math.abs(number) < 0.01) return `$${cents.format(number)}`
      return `$${number.toFixed(Math.abs(number) < 1 && number !== 0 ? 3 : 2)}`
    case 'ms':
      return Math.abs(number) >= 1000 ? `${decimal.format(number / 1000)} s` : `${whole.format(number)} ms`
    case 'count':
    case 'tokens':
      return Math.abs(number) >= 10_000 || short ? compact.format(number) : whole.format(number)
    default:
      return Math.abs(number) >= 10_000 ? compact.format(number) : decimal.format(number)
  }
}

/**
 * The steps between an axis's ticks, 1-2-5 per decade from the smallest step its labels can tell
 * apart: whole milliseconds, counts and tokens; whole percents; tenths of a cent. Without them, an
 * axis of small values was labelled `1 ms, 1 ms, 1 ms` (ticks a third of a millisecond apart).
 */
export function tickSteps(unit: ValueUnit): number[] {
  const smallest = unit === 'percent' ? 0.01 : unit === 'usd' ? 0.001 : WHOLE_UNITS.has(unit) ? 1 : 0.01
  const steps: number[] = []
  for (let decade = smallest; decade < 1e15; decade *= 10) {
    for (const factor of [1, 2, 5]) steps.push(Number((decade * factor).toPrecision(1)))
  }
  return steps
}

const WHOLE_UNITS: ReadonlySet<ValueUnit> = new Set(['ms', 'count', 'tokens'])
