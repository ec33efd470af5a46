/**
 * The built-in dashboard page. Everything it shows comes from the collector's metrics API, read
 * with the API key the user gives (or that the collector's start link carries in its fragment);
 * without a key it shows nothing. The view (range, time zone, agent, refresh, theme) lives in the
 * URL's query string, so a link restores it; the key never goes into the query string.
 */

import type { QueryBatchLine } from '@daa/collector'
import {
  COST_PER_DELIVERED,
  type CohortPanel,
  type ColumnSpec,
  PANELS,
  type PanelSpec,
  RECENT_RUNS,
  STATS,
  type StatSpec,
  type TablePanel,
} from '../panels.js'
import { agentFromBox } from './agent.js'
import { type DrawnChart, drawTimeSeries, type Row, seriesTable } from './chart.js'
import { formatValue } from './format.js'
import { rangeProblem } from './range.js'
// After chart.js, so the page's sheet follows uPlot's in the bundle.
import './styles.css'

const KEY_STORAGE = 'daa.apiKey'
const THEMES = ['system', 'light', 'dark'] as const
type Theme = (typeof THEMES)[number]
/** An optional saved query: the drill-down lists an agent's recent runs when the collector has it. */

interface ViewState {
  range: '7' | '30' | '90' | 'custom'
  from: string
  to: string
  tz: string
  agent: string
  refresh: number
  theme: Theme
}

interface ApiResult {
  columns: { name: string; type: string }[]
  rows: Row[]
}

class UnauthorizedError extends Error {}

/** The API's `unknown_time_zone`: a zone the browser knows but ClickHouse's time zone database does not. */
class UnknownZoneError extends Error {}

/**
 * No figures for now, through no fault of the view: the collector is down or out of reach (fetch
 * says only "Failed to fetch"), or it answers that its ClickHouse is (the API's `unavailable`).
 * What is shown stays, marked stale, and the page asks again.
 */
class UnreachableError extends Error {
  constructor(message = `Cannot reach the collector at ${location.host}`) {
    super(message)
  }
}

const CLICKHOUSE_UNREACHABLE = 'The collector cannot reach its ClickHouse'

/** The error for an API refusal: `unavailable` (ClickHouse away) is retried like an unreachable collector. */
function apiError(code: string | undefined, message: string): Error {
  if (code === 'unknown_time_zone') return new UnknownZoneError(message)
  if (code === 'unavailable') return new UnreachableError(CLICKHOUSE_UNREACHABLE)
  return new Error(message)
}

/** How often the page asks again while the collector cannot be reached. */
const RETRY_MS = 5000

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

const browserZone = (() => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
  } catch {
    return 'UTC'
  }
})()

/** Today's calendar day in `tz`, as YYYY-MM-DD. */
function today(tz: string): string {
  try {
    return new Intl.DateTimeFormat('en-CA', {
      timeZone: tz,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    }).format(new Date())
  } catch {
    return new Date().toISOString().slice(0, 10)
  }
}

function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10)
}

function daysBetween(from: string, to: string): string[] {
  const days: string[] = []
  for (let day = from; day <= to && days.length < 400; day = addDays(day, 1)) days.push(day)
  return days
}

/**
 * Whether the browser knows this IANA zone. The collector's ClickHouse may know fewer (its time zone
 * database can be older than the browser's): the API then answers unknown_time_zone, and the page
 * reads the view in UTC and says so (load).
 */
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/**
 * Said beside the status after every load: a link whose `tz` this browser does not know (a typo,
 * a zone renamed) opens in the browser's own zone instead of failing in every panel.
 */
let zoneNotice = ''

function readState(): ViewState {
  const params = new URLSearchParams(location.search)
  const rangeParam = params.get('range')
  const range = rangeParam === '7' || rangeParam === '90' || rangeParam === 'custom' ? rangeParam : '30'
  const asked = params.get('tz')
  const tz = asked && isTimeZone(asked) ? asked : browserZone
  zoneNotice = asked && asked !== tz ? `Unknown time zone "${asked}": days are in ${tz}.` : ''
  const themeParam = params.get('theme') as Theme | null
  const refresh = Number(params.get('refresh') ?? 0)
  const end = today(tz)
  let from = addDays(end, -(Number(range === 'custom' ? 30 : range) - 1))
  let to = end
  // A custom range as the link gives it: load says what is wrong with it, rather than guess.
  if (range === 'custom' && (params.has('from') || params.has('to'))) {
    from = params.get('from') ?? ''
    to = params.get('to') ?? ''
  }
  return {
    range,
    from,
    to,
    tz,
    agent: params.get('agent') ?? '',
    refresh: [0, 60, 300, 900].includes(refresh) ? refresh : 0,
    theme: themeParam && THEMES.includes(themeParam) ? themeParam : 'system',
  }
}

/** The URL of a state: only what differs from the defaults, so shared links stay short. */
function writeState(state: ViewState, push: boolean): void {
  const params = new URLSearchParams()
  if (state.range !== '30') params.set('range', state.range)
  if (state.range === 'custom') {
    params.set('from', state.from)
    params.set('to', state.to)
  }
  params.set('tz', state.tz)
  if (state.agent) params.set('agent', state.agent)
  if (state.refresh) params.set('refresh', String(state.refresh))
  if (state.theme !== 'system') params.set('theme', state.theme)
  const url = `${location.pathname}?${params}`
  if (url === `${location.pathname}${location.search}`) return
  if (push) history.pushState(null, '', url)
  else history.replaceState(null, '', url)
}

// --- the key ---------------------------------------------------------------------------------

/**
 * A key in the fragment (`#key=daa_…`, the collector's start link or a shared one) is taken and
 * removed from the address. It replaces the key in use, which a key kept for this session would
 * otherwise shadow (storedKey), and is kept the way that key was: for this session only when the
 * user chose not to remember keys on this browser. Returns whether there was one.
 */
function takeKeyFromFragment(): boolean {
  const key = new URLSearchParams(location.hash.slice(1)).get('key')
  if (!key) return false
  keepKey(key, sessionStorage.getItem(KEY_STORAGE) === null)
  history.replaceState(null, '', `${location.pathname}${location.search}`)
  return true
}

function keepKey(key: string, remember: boolean): void {
  forgetKey()
  ;(remember ? localStorage : sessionStorage).setItem(KEY_STORAGE, key)
}

function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE) ?? localStorage.getItem(KEY_STORAGE)
}

function forgetKey(): void {
  sessionStorage.removeItem(KEY_STORAGE)
  localStorage.removeItem(KEY_STORAGE)
}

// --- the API ---------------------------------------------------------------------------------

function metricUrl(query: string, state: ViewState, agent: string, format: 'json' | 'csv' = 'json'): string {
  const params = new URLSearchParams({ from: state.from, to: state.to, tz: state.tz, agent })
  if (format === 'csv') params.set('format', 'csv')
  return `/api/v1/metrics/${encodeURIComponent(query)}?${params}`
}

async function send(url: string, init: { accept: string; body?: string }): Promise<Response> {
  const key = storedKey()
  if (!key) throw new UnauthorizedError('No API key')
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, accept: init.accept }
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  let response: Response
  try {
    response = await fetch(url, {
      headers,
      ...(init.body === undefined ? {} : { method: 'POST', body: init.body }),
    })
  } catch {
    // fetch fails only when no answer came (the page never aborts one).
    throw new UnreachableError()
  }
  if (response.status === 401) throw new UnauthorizedError((await response.text()) || 'The key was refused')
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`
    let code: string | undefined
    try {
      const { error } = (await response.json()) as { error?: { code?: string; message?: string } }
      message = error?.message ?? message
      code = error?.code
    } catch {}
    throw apiError(code, message)
  }
  return response
}

async function api<T>(url: string, accept = 'application/json'): Promise<T> {
  const response = await send(url, { accept })
  return (accept === 'text/csv' ? response.text() : response.json()) as Promise<T>
}

/**
 * Runs the saved queries in one request (POST /api/v1/metrics) and settles each one's promise as
 * its line of the answer arrives. A browser sends at most six requests at once to one origin, so
 * GETs would keep the last panels waiting for the first ones' answers where queries are quick
 * (collector/docs/metric-layer.md, "The page").
 */
function runQueries(queries: { query: string; agent: string }[]): Promise<ApiResult>[] {
  // A promise settles once: rejecting every one when the answer ends touches only those whose
  // line never came.
  const settlers = queries.map(() => {
    let resolve!: (result: ApiResult) => void
    let reject!: (error: Error) => void
    const promise = new Promise<ApiResult>((ok, fail) => {
      resolve = ok
      reject = fail
    })
    return { promise, resolve, reject }
  })
  const rejectRest = (error: Error) => {
    for (const { reject } of settlers) reject(error)
  }
  const body = JSON.stringify({
    queries: queries.map(({ query, agent }) => ({
      name: query,
      params: { from: state.from, to: state.to, tz: state.tz, agent },
    })),
  })
  const read = async () => {
    const response = await send('/api/v1/metrics', { accept: 'application/x-ndjson', body })
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
    let pending = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      pending += value
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const text of lines) {
        if (!text) continue
        const line = JSON.parse(text) as QueryBatchLine
        if ('result' in line) settlers[line.index]?.resolve(line.result)
        else settlers[line.index]?.reject(apiError(line.error.code, line.error.message))
      }
    }
    rejectRest(new Error('The answer ended early'))
  }
  // A stream cut off mid-answer fails with a TypeError too: the collector went away.
  read().catch((error: unknown) =>
    rejectRest(error instanceof TypeError ? new UnreachableError() : (error as Error)),
  )
  return settlers.map((settler) => settler.promise)
}

// --- rendering -------------------------------------------------------------------------------

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) if (value !== undefined) node.setAttribute(name, value)
  for (const child of children) if (child !== null && child !== undefined) node.append(child)
  return node
}

let state = readState()
let refreshTimer: number | undefined
/** The next attempt while the collector cannot be reached. */
let retryTimer: number | undefined
let generation = 0

function applyTheme(): void {
  const dark =
    state.theme === 'dark' || (state.theme === 'system' && matchMedia('(prefers-color-scheme: dark)').matches)
  document.documentElement.dataset.theme = dark ? 'dark' : 'light'
  const button = $('theme')
  button.textContent = state.theme === 'system' ? '◐ Auto' : state.theme === 'dark' ? '☾ Dark' : '☀ Light'
  button.setAttribute('aria-label', `Theme: ${state.theme}. Change theme`)
}

function syncControls(): void {
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="range"]'))
    radio.checked = radio.value === state.range
  $('custom-range').hidden = state.range !== 'custom'
  $<HTMLInputElement>('from').value = state.from
  $<HTMLInputElement>('to').value = state.to
  const tz = $<HTMLSelectElement>('tz')
  if (![...tz.options].some((option) => option.value === state.tz)) tz.add(new Option(state.tz, state.tz))
  tz.value = state.tz
  $<HTMLInputElement>('agent').value = state.agent
  $<HTMLSelectElement>('refresh').value = String(state.refresh)
  $('subtitle').replaceChildren(
    element('strong', {}, `${state.from} – ${state.to}`),
    ` · days in `,
    element('strong', { id: 'tz-label' }, state.tz),
    state.agent ? ' · agent ' : '',
    state.agent ? element('strong', {}, state.agent) : '',
  )
}

function fillTimeZones(): void {
  const select = $<HTMLSelectElement>('tz')
  let zones: string[] = []
  try {
    zones = (Intl as unknown as { supportedValuesOf(kind: string): string[] }).supportedValuesOf('timeZone')
  } catch {}
  // Chromium lists some zones by their old names (Asia/Calcutta): offer the current names first.
  const preferred = [
    'UTC',
    browserZone,
    'America/Los_Angeles',
    'America/New_York',
    'Europe/London',
    'Europe/Berlin',
    'Europe/Kyiv',
    'Asia/Kolkata',
    'Asia/Tokyo',
    'Australia/Sydney',
  ]
  const seen = new Set<string>()
  for (const zone of [...preferred, ...zones]) {
    if (seen.has(zone)) continue
    seen.add(zone)
    select.add(new Option(zone, zone))
  }
}

/** The custom range's problem, at its inputs ('' when there is none). */
function showRangeProblem(message: string, fields: ('from' | 'to')[]): void {
  const note = $('range-error')
  note.textContent = message
  note.hidden = message === ''
  for (const id of ['from', 'to'] as const) {
    const input = $<HTMLInputElement>(id)
    if (fields.includes(id)) input.setAttribute('aria-invalid', 'true')
    else input.removeAttribute('aria-invalid')
  }
}

function setStatus(text: string, error = false): void {
  const status = $('status')
  status.textContent = text
  status.classList.toggle('error', error)
}

/** A button that downloads the panel's rows as CSV (the API's own CSV, fetched with the key). */
/** The agent a query is asked for: the leaderboard always ranks every agent (the selected one is highlighted). */
function agentFor(query: string): string {
  return query === 'agent-leaderboard' ? '' : state.agent
}

function csvButton(query: string, title: string): HTMLButtonElement {
  const button = element(
    'button',
    { type: 'button', class: 'csv', 'aria-label': `Download ${title} as CSV` },
    'CSV ↓',
  )
  button.addEventListener('click', async () => {
    const agent = agentFor(query)
    try {
      const csv = await api<string>(metricUrl(query, state, agent, 'csv'), 'text/csv')
      const link = element('a', {
        href: URL.createObjectURL(new Blob([csv], { type: 'text/csv' })),
        download: `${query}_${state.from}_${state.to}${agent ? `_${agent}` : ''}.csv`,
      })
      document.body.append(link)
      link.click()
      link.remove()
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000)
    } catch (error) {
      handleError(error)
    }
  })
  return button
}

function panelShell(spec: { id: string; title: string; hint: string; query: string }, wide: boolean) {
  const body = element('div', { class: 'panel-body' })
  const section = element(
    'section',
    { class: `panel${wide ? ' wide' : ''}`, id: `panel-${spec.id}`, 'aria-labelledby': `title-${spec.id}` },
    element(
      'div',
      { class: 'panel-head' },
      element(
        'div',
        {},
        element('h2', { id: `title-${spec.id}` }, spec.title),
        element('p', { class: 'hint' }, spec.hint),
      ),
      csvButton(spec.query, spec.title),
    ),
    body,
  )
  return { section, body }
}

function cellClass(column: ColumnSpec): string {
  return column.unit === 'text' || column.unit === 'date' ? 'text' : 'num'
}

/**
 * Rows a table draws at once: the first TABLE_ROWS, then TABLE_ROWS more for each "Show more". A
 * leaderboard has a row per agent, and drawn whole at 20,000 agents it held the browser for over
 * four seconds after the last answer arrived; the rest stay one click away, and in the CSV.
 */
const TABLE_ROWS = 100

function tableRow(panel: TablePanel, row: Row, maxShare: number): HTMLTableRowElement {
  const tr = element('tr', { 'data-agent': row.agent_id === undefined ? undefined : String(row.agent_id) })
  if (panel.id === 'agent-leaderboard' && String(row.agent_id) === state.agent) tr.classList.add('selected')
  for (const column of panel.columns) {
    const value = row[column.column]
    let content: Node | string = formatValue(value, column.unit)
    if (column.column === 'agent_id') {
      const link = element(
        'button',
        { type: 'button', class: 'agent-link', title: `Drill down into ${value}` },
        String(value),
      )
      link.addEventListener('click', () => update({ agent: String(value) }, true))
      content = link
    } else if (column.column === 'status' || column.column === 'outcome') {
      content = element('span', { class: `pill ${String(value)}` }, String(value))
    } else if (column.column === 'reason' && !value) {
      content = element('span', { class: 'muted' }, '(none given)')
    } else if (column.column === 'share_of_runs') {
      const bar = element('span', { class: 'bar', 'aria-hidden': 'true' })
      bar.style.width = `${Math.round((Number(value) / maxShare) * 60)}px`
      content = element('span', {}, formatValue(value, column.unit), bar)
    }
    const text = cellClass(column) === 'text' && typeof content === 'string'
    // A text is cut short in its cell (styles.css: a table cell itself grows with its content), and
    // shows in full on hover.
    const cell = element(
      'td',
      { class: cellClass(column) },
      text ? element('span', { class: 'cut', title: content as string }, content) : content,
    )
    tr.append(cell)
  }
  return tr
}

function renderTable(host: HTMLElement, panel: TablePanel, rows: Row[]): void {
  if (rows.length === 0) {
    host.append(element('p', { class: 'empty' }, 'No runs in this range.'))
    return
  }
  let maxShare = 0.0001
  for (const row of rows) maxShare = Math.max(maxShare, Number(row.share_of_runs ?? 0))
  const head = element(
    'tr',
    {},
    ...panel.columns.map((column) => element('th', { scope: 'col', class: cellClass(column) }, column.label)),
  )
  const body = element('tbody', {})
  const more = element('button', { type: 'button' })
  const counter = element('span', { class: 'muted' })
  const footer = element('p', { class: 'table-more' }, counter, more)
  const showMore = () => {
    const shown = body.childElementCount
    body.append(...rows.slice(shown, shown + TABLE_ROWS).map((row) => tableRow(panel, row, maxShare)))
    const left = rows.length - body.childElementCount
    counter.textContent = `${body.childElementCount.toLocaleString('en-US')} of ${rows.length.toLocaleString('en-US')} rows`
    more.textContent = `Show ${Math.min(left, TABLE_ROWS).toLocaleString('en-US')} more`
    footer.hidden = left === 0
  }
  more.addEventListener('click', showMore)
  showMore()
  host.append(
    element('div', { class: 'table-wrap' }, element('table', {}, element('thead', {}, head), body)),
    footer,
  )
}

function renderCohorts(host: HTMLElement, panel: CohortPanel, rows: Row[]): void {
  const cohorts = new Map<string, { size: number; rates: Map<number, number> }>()
  let maxOffset = 0
  for (const row of rows) {
    const day = String(row[panel.cohort])
    const offset = Number(row[panel.offset])
    const entry = cohorts.get(day) ?? { size: Number(row[panel.size]), rates: new Map() }
    entry.rates.set(offset, Number(row[panel.rate]))
    cohorts.set(day, entry)
    maxOffset = Math.max(maxOffset, offset)
  }
  const shown = [...cohorts.entries()].filter(([, entry]) => entry.size > 0)
  if (shown.length === 0) {
    host.append(element('p', { class: 'empty' }, 'No agent delivered for the first time in this range.'))
    return
  }
  const offsets = Array.from({ length: Math.min(maxOffset, 30) + 1 }, (_, offset) => offset)
  const head = element(
    'tr',
    {},
    element('th', { scope: 'col', class: 'text' }, 'Cohort'),
    element('th', { scope: 'col' }, 'Agents'),
    ...offsets.map((offset) => element('th', { scope: 'col' }, `+${offset}`)),
  )
  const body = shown.map(([day, entry]) => {
    const tr = element(
      'tr',
      {},
      element('th', { scope: 'row', class: 'text' }, day),
      element('td', {}, String(entry.size)),
    )
    for (const offset of offsets) {
      const rate = entry.rates.get(offset)
      const cell = element(
        'td',
        { class: 'cell' },
        rate === undefined ? '' : formatValue(rate, 'percent', true),
      )
      if (rate !== undefined) {
        cell.style.background = `rgba(var(--cohort), ${(0.08 + rate * 0.8).toFixed(2)})`
        if (rate > 0.5) cell.classList.add('strong')
      }
      tr.append(cell)
    }
    return tr
  })
  host.append(
    element(
      'div',
      { class: 'table-wrap cohorts' },
      element('table', {}, element('thead', {}, head), element('tbody', {}, ...body)),
    ),
  )
}

function reduceStat(stat: StatSpec, rows: Row[]): number | null {
  if (rows.length === 0) return null
  const sum = (column: string) => rows.reduce((total, row) => total + Number(row[column] ?? 0), 0)
  if (stat.reduce === 'last') return Number(rows.at(-1)![stat.column] ?? 0)
  if (stat.reduce === 'sum') return sum(stat.column)
  if (stat.reduce === 'mean') return sum(stat.column) / rows.length
  // A share of nothing is no figure (the API's 0 would read as "0%" or "$0.00" of real runs).
  const denominator = sum(stat.reduce.denominator)
  return denominator === 0 ? null : sum(stat.reduce.numerator) / denominator
}

function ensureStats(): void {
  const host = $('stats')
  if (host.childElementCount > 0) return
  host.replaceChildren(
    ...STATS.map((stat) =>
      element(
        'div',
        { class: 'stat', id: `stat-${stat.id}`, 'data-value': '' },
        element('div', { class: 'label' }, stat.label),
        element('div', { class: 'value' }, '…'),
      ),
    ),
  )
}

function fillStats(query: string, rows: Row[] | undefined): void {
  for (const stat of STATS.filter((candidate) => candidate.query === query)) {
    const tile = $(`stat-${stat.id}`)
    const value = rows ? reduceStat(stat, rows) : null
    tile.dataset.value = value === null ? '' : String(value)
    tile.querySelector('.value')!.textContent = formatValue(value, stat.unit)
  }
}

function renderDrill(leaderboard: Row[], recentRuns: ApiResult | undefined): void {
  const host = $('drill')
  if (!state.agent) {
    host.hidden = true
    host.replaceChildren()
    return
  }
  host.hidden = false
  const row = leaderboard.find((candidate) => String(candidate.agent_id) === state.agent)
  const back = element('button', { type: 'button', class: 'primary' }, '← All agents')
  back.addEventListener('click', () => update({ agent: '' }, true))
  const facts: [string, unknown, Parameters<typeof formatValue>[1]][] = [
    ['Rank', row?.rank, 'count'],
    ['Runs', row?.runs ?? 0, 'count'],
    ['Delivered', row?.delivered_runs ?? 0, 'count'],
    ['Delivery rate', row?.delivery_rate ?? 0, 'percent'],
    [COST_PER_DELIVERED, row?.cost_per_delivered_usd ?? 0, 'usd'],
    [`Value${row?.value_unit ? ` (${row.value_unit})` : ''}`, row?.value ?? 0, 'value'],
  ]
  const children: Node[] = [
    element(
      'div',
      { class: 'drill-head' },
      element('h2', { id: 'drill-title' }, element('span', { class: 'muted' }, 'Agent '), state.agent),
      back,
    ),
    element(
      'div',
      { class: 'facts' },
      ...facts.map(([label, value, unit]) =>
        element(
          'div',
          { class: 'fact' },
          element('div', { class: 'label' }, label),
          element('div', { class: 'value' }, formatValue(value, unit)),
        ),
      ),
    ),
    element('p', { class: 'hint' }, 'Every panel below shows this agent only: its days, outcomes and costs.'),
  ]
  if (recentRuns) {
    const table = element('div', {})
    renderTable(table, RECENT_RUNS, recentRuns.rows)
    children.push(
      element(
        'div',
        { class: 'panel-head', id: 'recent-runs' },
        element('h3', {}, `${RECENT_RUNS.title} · ${RECENT_RUNS.hint}`),
        csvButton(RECENT_RUNS.query, RECENT_RUNS.title),
      ),
      table,
    )
  }
  host.replaceChildren(...children)
}

const panelBodies = new Map<string, HTMLElement>()
const panelCharts = new Map<string, DrawnChart>()

function ensurePanels(): void {
  if (panelBodies.size > 0) return
  const sections = PANELS.map((spec) => {
    const { section, body } = panelShell(spec, spec.width === 24)
    body.append(element('p', { class: 'empty' }, 'Loading…'))
    panelBodies.set(spec.id, body)
    return section
  })
  $('panels').replaceChildren(...sections)
}

/** Draws one panel from its query's answer (or says why there is none). */
function fillPanel(spec: PanelSpec, result: ApiResult | undefined, error: string | undefined): void {
  const timings = window as unknown as { daaFirstPanel?: number }
  timings.daaFirstPanel ??= performance.now()
  const body = panelBodies.get(spec.id)!
  panelCharts.get(spec.id)?.destroy()
  panelCharts.delete(spec.id)
  body.replaceChildren()
  const section = body.parentElement!
  section.removeAttribute('aria-busy')
  section.dataset.rows = String(result?.rows.length ?? 0)
  if (!result) {
    body.append(element('p', { class: 'empty error' }, error ?? 'No data'))
    return
  }
  if (spec.kind === 'timeseries') {
    const days = daysBetween(state.from, state.to)
    // Not hidden as a whole: its legend's buttons are for everyone (drawTimeSeries).
    const chart = element('div', { class: 'chart' })
    body.append(chart, seriesTable(spec, result.rows, days))
    panelCharts.set(spec.id, drawTimeSeries(chart, spec, result.rows, days, state.agent !== ''))
  } else if (spec.kind === 'table') renderTable(body, spec, result.rows)
  else renderCohorts(body, spec, result.rows)
}

/** Every agent of the leaderboard: what the filter box suggests, and what it matches (agentFromBox). */
let agentIds: string[] = []
/** Whether agentIds are in the datalist yet (suggestAgents). */
let agentsSuggested = true

/**
 * The agent filter's suggestions: every agent of the leaderboard. A search box over a datalist, not
 * a <select>: 20,000 options took 350–430 ms to build and lay out in a select, 110–175 ms in a
 * datalist (measured by hand in chromium, on a blank page), and typing part of a name finds it.
 * They go into the datalist when the box is focused, not when the leaderboard arrives: 20,000 took
 * 205–234 ms more there, on a page whose panels were waiting to be drawn.
 */
function fillAgents(leaderboard: Row[]): void {
  agentIds = leaderboard.map((row) => String(row.agent_id))
  agentsSuggested = false
  if (document.activeElement === $('agent')) suggestAgents()
}

function suggestAgents(): void {
  if (agentsSuggested) return
  agentsSuggested = true
  $('agent-list').replaceChildren(...[...agentIds].sort().map((agent) => new Option(agent, agent)))
}

/** Another project's agents are no suggestion for this one (a key forgotten, or replaced by a link's). */
function forgetAgents(): void {
  agentIds = []
  agentsSuggested = true
  $('agent-list').replaceChildren()
}

/**
 * Reads every panel's query for the current view and draws each panel as soon as its answer
 * arrives (the slowest query does not hold the others back); the old figures stay until replaced.
 */
async function load(): Promise<void> {
  const mine = ++generation
  const current = () => mine === generation
  clearTimeout(retryTimer)
  // A custom range is checked once, here: what is wrong is said at the range control, and no panel
  // asks the API (each would show the API's refusal).
  const problem =
    state.range === 'custom' ? rangeProblem(state.from, state.to, DAA_MAX_RANGE_DAYS) : undefined
  showRangeProblem(problem?.message ?? '', problem?.fields ?? [])
  $('stats').hidden = $('panels').hidden = !!problem
  if (problem) {
    $('drill').hidden = true
    $('empty-notice').hidden = true
    setStatus('')
    document.body.dataset.loading = 'false'
    return
  }
  // Every query the view needs, each once, in one request, sent before the panels are built (which
  // takes the browser only about 7 ms: bench:query measured no difference beyond that).
  const wanted = [
    ...new Set([
      ...PANELS.map((spec) => spec.query),
      ...STATS.map((stat) => stat.query),
      'agent-leaderboard',
      ...(state.agent ? [RECENT_RUNS.query] : []),
    ]),
  ]
  const promises = runQueries(wanted.map((query) => ({ query, agent: agentFor(query) })))
  document.body.dataset.loading = 'true'
  setStatus('Loading…')
  ensureStats()
  ensurePanels()
  for (const section of $('panels').children) section.setAttribute('aria-busy', 'true')
  const answers = new Map(wanted.map((query, index) => [query, promises[index]!]))
  const answer = (query: string) => answers.get(query)!
  const errors: string[] = []
  let refused: unknown
  let unreachable: UnreachableError | undefined
  // Only another zone helps: the view is read again in UTC (below), so no panel shows this error.
  let zoneRefused = false
  const settle = <T>(pending: Promise<T>, use: (value: T | undefined, error?: string) => void) =>
    pending.then(
      (value) => {
        if (current()) use(value)
      },
      (error: unknown) => {
        if (error instanceof UnknownZoneError && state.tz !== 'UTC') {
          zoneRefused = true
          return
        }
        // What is shown stays, marked stale, until the collector answers again (below).
        if (error instanceof UnreachableError) {
          unreachable = error
          return
        }
        if (error instanceof UnauthorizedError) refused = error
        else errors.push((error as Error).message)
        if (current()) use(undefined, (error as Error).message)
      },
    )
  const work: Promise<void>[] = [
    ...PANELS.map((spec) => settle(answer(spec.query), (result, error) => fillPanel(spec, result, error))),
    ...[...new Set(STATS.map((stat) => stat.query))].map((query) =>
      settle(answer(query), (result) => fillStats(query, result?.rows)),
    ),
    // No run in the range: say so, and how a new project gets its first (the tiles show counts of 0).
    settle(answer('daa'), (result) => {
      $('empty-notice').hidden = !result || result.rows.some((row) => Number(row.runs) > 0)
    }),
    settle(
      Promise.all([
        answer('agent-leaderboard'),
        state.agent ? answer(RECENT_RUNS.query) : Promise.resolve(undefined),
      ]),
      (both) => {
        fillAgents(both?.[0].rows ?? [])
        renderDrill(both?.[0].rows ?? [], both?.[1])
      },
    ),
  ]
  await Promise.all(work)
  if (!current()) return
  if (refused) {
    handleError(refused)
    return
  }
  if (unreachable) {
    const last = $('dashboard').dataset.updated
    setStatus(
      `${unreachable.message}: ${last ? `the figures are from ${last}, and may be stale` : 'nothing to show yet'}. Trying again every ${RETRY_MS / 1000} s…`,
      true,
    )
    $('dashboard').dataset.stale = 'true'
    document.body.dataset.stale = 'true'
    document.body.dataset.loading = 'false'
    retryTimer = window.setTimeout(() => void load(), RETRY_MS)
    return
  }
  delete $('dashboard').dataset.stale
  delete document.body.dataset.stale
  if (zoneRefused) {
    const asked = state.tz
    update({ tz: 'UTC' }, false)
    zoneNotice = `The collector's ClickHouse does not know the time zone "${asked}" (newer than its time zone database): days are in UTC.`
    return
  }
  $('dashboard').dataset.updated = new Date().toLocaleTimeString()
  const updated = `Updated ${$('dashboard').dataset.updated}${state.refresh ? ` · refreshes every ${state.refresh / 60} min` : ''}`
  setStatus(
    errors.length > 0
      ? `Some panels could not be loaded: ${errors[0]}`
      : zoneNotice
        ? `${zoneNotice} ${updated}`
        : updated,
    errors.length > 0 || zoneNotice !== '',
  )
  document.body.dataset.ready = String(mine)
  document.body.dataset.loading = 'false'
  if (mine === 1) {
    ;(window as unknown as { daaTimeToInteractive?: number }).daaTimeToInteractive = performance.now()
  }
}

function handleError(error: unknown): void {
  if (error instanceof UnauthorizedError) {
    forgetKey()
    showKeyForm('That key was refused. Check it, or create a new one.')
    return
  }
  setStatus(`Could not load the metrics: ${(error as Error).message}`, true)
}

function scheduleRefresh(): void {
  if (refreshTimer !== undefined) clearInterval(refreshTimer)
  refreshTimer = state.refresh ? window.setInterval(refreshNow, state.refresh * 1000) : undefined
}

/**
 * One auto-refresh. A rolling range ("the last 7 days") moves on when the day changes in its zone,
 * so a dashboard left on a wall shows today after midnight, not yesterday; a custom range stays.
 */
function refreshNow(): void {
  if (state.range !== 'custom' && today(state.tz) !== state.to) update({ range: state.range }, false)
  else void load()
}

/** Applies a change of view: URL, controls, data. */
function update(change: Partial<ViewState>, push: boolean): void {
  const next = { ...state, ...change }
  if (change.tz) zoneNotice = ''
  if (change.range && change.range !== 'custom') {
    next.to = today(next.tz)
    next.from = addDays(next.to, -(Number(change.range) - 1))
  }
  if (change.tz && state.range !== 'custom') {
    next.to = today(next.tz)
    next.from = addDays(next.to, -(Number(state.range) - 1))
  }
  const dataChanged = ['from', 'to', 'tz', 'agent'].some(
    (field) => next[field as keyof ViewState] !== state[field as keyof ViewState],
  )
  state = next
  writeState(state, push)
  applyTheme()
  syncControls()
  scheduleRefresh()
  if (dataChanged) {
    void load()
    if (change.agent !== undefined) $('main').focus()
  } else if ('theme' in change) renderAgainForTheme()
}

/** Charts read their colours when drawn: the view is read and drawn again in the new theme. */
function renderAgainForTheme(): void {
  void load()
}

function showKeyForm(error = ''): void {
  // Nothing read with a key stays on the page once the key is gone.
  generation++
  for (const chart of panelCharts.values()) chart.destroy()
  panelCharts.clear()
  panelBodies.clear()
  $('panels').replaceChildren()
  $('stats').replaceChildren()
  $('drill').replaceChildren()
  $('drill').hidden = true
  forgetAgents()
  clearTimeout(retryTimer)
  $('controls').hidden = true
  $('dashboard').hidden = true
  $('key-card').hidden = false
  $('key-error').textContent = error
  $<HTMLInputElement>('key-input').focus()
}

function showDashboard(): void {
  $('key-card').hidden = true
  $('controls').hidden = false
  $('dashboard').hidden = false
  void load()
}

function wireControls(): void {
  $('controls').addEventListener('submit', (event) => event.preventDefault())
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="range"]')) {
    radio.addEventListener('change', () => update({ range: radio.value as ViewState['range'] }, true))
  }
  for (const id of ['from', 'to'] as const) {
    $<HTMLInputElement>(id).addEventListener('change', (event) => {
      // An incomplete date reads ''; load says what is missing.
      update({ range: 'custom', [id]: (event.target as HTMLInputElement).value }, true)
    })
  }
  $<HTMLSelectElement>('tz').addEventListener('change', (event) =>
    update({ tz: (event.target as HTMLSelectElement).value }, true),
  )
  // Committed with Enter, by picking a suggestion, or on leaving the box; an empty box is all agents.
  const agentBox = $<HTMLInputElement>('agent')
  const chooseAgent = () => {
    const agent = agentFromBox(agentBox.value, agentIds)
    if (agent !== state.agent) update({ agent }, true)
  }
  agentBox.addEventListener('change', chooseAgent)
  agentBox.addEventListener('search', chooseAgent)
  agentBox.addEventListener('focus', suggestAgents)
  $<HTMLSelectElement>('refresh').addEventListener('change', (event) =>
    update({ refresh: Number((event.target as HTMLSelectElement).value) }, false),
  )
  $('theme').addEventListener('click', () =>
    update({ theme: THEMES[(THEMES.indexOf(state.theme) + 1) % THEMES.length]! }, false),
  )
  $('forget-key').addEventListener('click', () => {
    forgetKey()
    // The agent filter names one of the forgotten project's agents: the next key starts with all.
    if (state.agent) update({ agent: '' }, false)
    showKeyForm()
  })
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const key = $<HTMLInputElement>('key-input').value.trim()
    if (!key) return
    keepKey(key, $<HTMLInputElement>('key-remember').checked)
    $<HTMLInputElement>('key-input').value = ''
    showDashboard()
  })
  window.addEventListener('popstate', () => {
    const previous = state
    state = readState()
    applyTheme()
    syncControls()
    scheduleRefresh()
    if (
      ['from', 'to', 'tz', 'agent'].some(
        (field) => previous[field as keyof ViewState] !== state[field as keyof ViewState],
      )
    )
      void load()
  })
  // A link with a key opened in this tab for the view it shows changes only the fragment.
  window.addEventListener('hashchange', () => {
    if (!takeKeyFromFragment()) return
    forgetAgents()
    showDashboard()
  })
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    if (state.theme === 'system') update({}, false)
  })
}

function start(): void {
  takeKeyFromFragment()
  $('otlp-endpoint').textContent = `${location.origin}/v1/traces`
  fillTimeZones()
  applyTheme()
  syncControls()
  writeState(state, false)
  wireControls()
  scheduleRefresh()
  if (storedKey()) showDashboard()
  else showKeyForm()
}

start()

export type { PanelSpec }
