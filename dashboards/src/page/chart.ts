/** uPlot charts for the page's daily series, coloured from the theme's CSS variables. */
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import type { SeriesSpec, TimeSeriesPanel, ValueUnit } from '../panels.js'
import { formatValue, tickSteps } from './format.js'

export type Row = Record<string, unknown>

const PALETTE = ['--s1', '--s2', '--s3', '--s4', '--s5', '--s6']
const NAMED: Record<string, string> = {
  delivered: '--delivered',
  partial: '--partial',
  failed: '--failed',
  abandoned: '--abandoned',
  unknown: '--unknown',
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888'
}

/** Seconds at UTC midnight of a YYYY-MM-DD day: the x axis is calendar days, drawn in UTC. */
function daySeconds(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / 1000
}

interface DrawnSeries {
  spec: SeriesSpec
  label: string
  values: (number | null)[]
  /** What the bar is drawn up to (stacked bars); the legend shows `values`. */
  drawn: (number | null)[]
  color: string
}

function toNumber(value: unknown): number | null {
  if (value === null || value === undefined || value === '') return null
  const number = Number(value)
  return Number.isFinite(number) ? number : null
}

/** The panel's series from its rows: one per spec, or one per spec and split value. */
function seriesOf(panel: TimeSeriesPanel, rows: Row[], days: string[]): DrawnSeries[] {
  const index = new Map(days.map((day, position) => [day, position]))
  const result: DrawnSeries[] = []
  const splits = panel.splitBy ? [...new Set(rows.map((row) => String(row[panel.splitBy!])))] : [undefined]
  let colour = 0
  for (const split of splits) {
    for (const spec of panel.series) {
      const values: (number | null)[] = days.map(() => null)
      for (const row of rows) {
        if (split !== undefined && String(row[panel.splitBy!]) !== split) continue
        const position = index.get(String(row.day))
        if (position === undefined) continue
        // A share of nothing is no value (a gap), not the 0 the query answers for it.
        values[position] =
          spec.per !== undefined && !(Number(row[spec.per]) > 0) ? null : toNumber(row[spec.column])
      }
      if (split !== undefined && values.every((value) => value === null)) continue
      const named = NAMED[spec.column]
      result.push({
        spec,
        label: split === undefined ? spec.label : `${spec.label} (${split})`,
        values: spec.negative ? values.map((value) => (value === null ? null : -value)) : values,
        drawn: [],
        color: cssVar(named ?? PALETTE[colour++ % PALETTE.length]!),
      })
    }
  }
  // Stacked bars: each bar is drawn from zero to the sum of itself and the bars before it, the
  // tallest first, so every bar shows its own share. Negative bars stack downwards on their own.
  const bars = result.filter((series) => series.spec.bars)
  for (const series of result) series.drawn = series.values
  for (const sign of [1, -1]) {
    const group = bars.filter((series) => (series.spec.negative ? -1 : 1) === sign)
    let running = days.map(() => 0)
    for (const series of group) {
      running = running.map((sum, position) => sum + (series.values[position] ?? 0))
      series.drawn = running.slice()
    }
  }
  // The top of each stack (the tallest bar) is drawn first, the bottom one last, then the lines.
  const order = (series: DrawnSeries) => (series.spec.bars ? -1 - bars.indexOf(series) : 0)
  return result.sort((a, b) => order(a) - order(b))
}

export interface DrawnChart {
  destroy(): void
}

/** Draws `panel` into `host`; the legend shows each series' own values under the cursor. */
export function drawTimeSeries(
  host: HTMLElement,
  panel: TimeSeriesPanel,
  rows: Row[],
  days: string[],
  drill = false,
): DrawnChart {
  const series = seriesOf(panel, rows, days)
  const shown = (spec: SeriesSpec) => (drill && spec.drill ? spec.drill === 'show' : !spec.hidden)
  const axisColor = cssVar('--axis')
  const gridColor = cssVar('--grid')
  const hasRight = series.some((entry) => entry.spec.right && shown(entry.spec))
  const leftUnit = series.find((entry) => !entry.spec.right)?.spec.unit ?? 'count'
  const rightUnit = series.find((entry) => entry.spec.right)?.spec.unit ?? 'percent'
  const bars = uPlot.paths.bars!({ size: [0.7, 28], gap: 1 })
  // Bars are centred on their day: half a day more on each side keeps the first and last whole.
  const hasBars = series.some((entry) => entry.spec.bars)
  const width = Math.max(280, host.clientWidth)
  const options: uPlot.Options = {
    width,
    height: 240,
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC'),
    cursor: { points: { size: 6 }, drag: { x: false, y: false } },
    legend: { live: true },
    hooks: { setSeries: [(u) => markLegend(u)] },
    scales: {
      x: {
        time: true,
        ...(hasBars
          ? {
              range: (_u: uPlot, min: number, max: number): uPlot.Range.MinMax => [
                min - 43_200,
                max + 43_200,
              ],
            }
          : {}),
      },
      y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.08 : 1] },
      right: {
        range: (_u, min, max) => [Math.min(0, min), Math.max(max, smallestTop(rightUnit))],
      },
    },
    axes: [
      {
        stroke: axisColor,
        grid: { stroke: gridColor, width: 1 },
        ticks: { stroke: gridColor },
        values: (_u, splits) =>
          splits.map((seconds) =>
            new Date(seconds * 1000).toLocaleDateString('en', {
              month: 'short',
              day: 'numeric',
              timeZone: 'UTC',
            }),
          ),
      },
      {
        stroke: axisColor,
        grid: { stroke: gridColor, width: 1 },
        ticks: { stroke: gridColor },
        size: axisWidth,
        incrs: tickSteps(leftUnit),
        values: (_u, splits) => splits.map((value) => formatValue(Math.abs(value), leftUnit, true)),
      },
      ...(hasRight
        ? [
            {
              scale: 'right',
              side: 1,
              stroke: axisColor,
              grid: { show: false },
              ticks: { stroke: gridColor },
              size: axisWidth,
              incrs: tickSteps(rightUnit),
              values: (_u: uPlot, splits: number[]) =>
                splits.map((value) => formatValue(value, rightUnit, true)),
            } satisfies uPlot.Axis,
          ]
        : []),
    ],
    series: [
      {
        label: 'Day',
        value: (_u, seconds) => (seconds == null ? '—' : new Date(seconds * 1000).toISOString().slice(0, 10)),
      },
      ...series.map(
        (entry, position): uPlot.Series => ({
          label: entry.label,
          show: shown(entry.spec),
          scale: entry.spec.right ? 'right' : 'y',
          stroke: entry.color,
          width: entry.spec.bars ? 0 : 2,
          fill: entry.spec.bars ? entry.color : entry.spec.right ? undefined : `${entry.color}14`,
          paths: entry.spec.bars ? bars : undefined,
          points: { show: false },
          spanGaps: false,
          // The legend shows the series' own value, not the stacked height.
          value: (_u, _value, _series, index) => {
            const raw = index == null ? null : series[position]!.values[index]
            return raw == null ? '—' : formatValue(entry.spec.negative ? -raw : raw, entry.spec.unit)
          },
        }),
      ),
    ],
  }
  const data: uPlot.AlignedData = [days.map(daySeconds), ...series.map((entry) => entry.drawn)]
  const plot = new uPlot(options, data, host)
  legendButtons(plot, panel.title)
  const observer = new ResizeObserver(() => {
    const next = Math.max(280, host.clientWidth)
    if (Math.abs(next - plot.width) > 2) plot.setSize({ width: next, height: 240 })
  })
  observer.observe(host)
  return {
    destroy() {
      observer.disconnect()
      plot.destroy()
    },
  }
}

/**
 * A value axis as wide as its longest label ("600 ms", "$0.0012"), at about 7 px a character of
 * the axis font plus the ticks: a fixed width cut the longer ones off at the panel's edge.
 */
function axisWidth(_u: uPlot, values: string[] | null): number {
  const longest = Math.max(0, ...(values ?? []).map((value) => value.length))
  return Math.max(40, Math.ceil(longest * 7 + 18))
}

/**
 * uPlot's legend toggles a series on a click only: each item becomes a button named by its series,
 * pressed while the series is shown, that Enter and Space toggle too. The plot itself stays hidden
 * from screen readers, which read the figures in seriesTable.
 */
function legendButtons(plot: uPlot, title: string): void {
  plot.root.querySelector('.u-wrap')?.setAttribute('aria-hidden', 'true')
  const legend = plot.root.querySelector('.u-legend')
  if (!legend) return
  legend.setAttribute('role', 'group')
  legend.setAttribute('aria-label', `${title}: series shown`)
  legend.querySelector('tbody')?.setAttribute('role', 'none')
  legend.querySelectorAll('tr').forEach((row, index) => {
    row.setAttribute('role', 'none')
    // The day under the cursor, and each series' value there, are in the figures table.
    if (index === 0) row.setAttribute('aria-hidden', 'true')
    for (const cell of row.querySelectorAll('td')) cell.setAttribute('aria-hidden', 'true')
    const item = row.querySelector('th')
    if (index === 0 || !item) return
    item.setAttribute('role', 'button')
    // Named by the series alone: uPlot's live legend adds a ":" after the label in CSS.
    item.setAttribute('aria-label', String(plot.series[index]!.label))
    item.tabIndex = 0
    item.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' && event.key !== ' ') return
      // Space would scroll the page.
      event.preventDefault()
      plot.setSeries(index, { show: !plot.series[index]!.show })
    })
  })
  markLegend(plot)
}

function markLegend(plot: uPlot): void {
  plot.root.querySelectorAll('.u-legend th[role="button"]').forEach((item, position) => {
    item.setAttribute('aria-pressed', String(plot.series[position + 1]!.show !== false))
  })
}

/**
 * The chart's figures as a table, for screen readers (it is visually hidden) and for anyone who
 * wants the numbers under a line: one row per day, one cell per series, each with its raw value.
 */
export function seriesTable(panel: TimeSeriesPanel, rows: Row[], days: string[]): HTMLElement {
  const series = seriesOf(panel, rows, days)
  const table = document.createElement('table')
  table.className = 'series-table'
  const caption = table.createCaption()
  caption.textContent = `${panel.title}, by day`
  const head = table.createTHead().insertRow()
  for (const label of ['Day', ...series.map((entry) => entry.label)]) {
    const th = document.createElement('th')
    th.scope = 'col'
    th.textContent = label
    head.append(th)
  }
  const body = table.createTBody()
  days.forEach((day, position) => {
    const tr = body.insertRow()
    tr.dataset.day = day
    const th = document.createElement('th')
    th.scope = 'row'
    th.textContent = day
    tr.append(th)
    for (const entry of series) {
      const raw = entry.values[position]
      const value = raw == null ? null : entry.spec.negative ? -raw : raw
      const td = tr.insertCell()
      td.dataset.column = entry.spec.column
      td.dataset.label = entry.label
      td.dataset.value = value === null ? '' : String(value)
      td.textContent = formatValue(value, entry.spec.unit)
    }
  })
  // Hidden through a wrapper: a table is never narrower than its content.
  const wrapper = document.createElement('div')
  wrapper.className = 'visually-hidden'
  wrapper.append(table)
  return wrapper
}

/**
 * The least top of the right axis: a share runs to 100%; any other unit to one step, so that an axis
 * whose series are all 0 shows 0 and one label instead of a column of zeros.
 */
function smallestTop(unit: ValueUnit): number {
  return unit === 'percent' ? 1 : tickSteps(unit)[0]!
}
