/**
 * The built-in dashboard page. Everything it shows comes from the collector's metrics API, read
 * with the API key the user gives (or that the collector's start link carries in its fragment);
 * without a key it shows nothing. The view (range, time zone, agent, refresh, theme) lives in the
 * URL's query string, so a link restores it; the key never goes into the query string.
 */
import {
  type CohortPanel,
  type ColumnSpec,
  PANELS,
  type PanelSpec,
  STATS,
  type StatSpec,
  type TablePanel,
} from '../panels.js'
import { type DrawnChart, drawTimeSeries, type Row } from './chart.js'
import { formatValue } from './format.js'
// After chart.js, so the page's sheet follows uPlot's in the bundle.
import './styles.css'

const KEY_STORAGE = 'daa.apiKey'
const THEMES = ['system', 'light', 'dark'] as const
type Theme = (typeof THEMES)[number]
/** An optional saved query: the drill-down lists an agent's recent runs when the collector has it. */
const RECENT_RUNS_QUERY = 'recent-runs'

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

const isDay = (text: string | null): text is string => !!text && /^\d{4}-\d{2}-\d{2}$/.test(text)

function readState(): ViewState {
  const params = new URLSearchParams(location.search)
  const rangeParam = params.get('range')
  const range = rangeParam === '7' || rangeParam === '90' || rangeParam === 'custom' ? rangeParam : '30'
  const tz = params.get('tz') || browserZone
  const themeParam = params.get('theme') as Theme | null
  const refresh = Number(params.get('refresh') ?? 0)
  const end = today(tz)
  let from = addDays(end, -(Number(range === 'custom' ? 30 : range) - 1))
  let to = end
  if (range === 'custom' && isDay(params.get('from')) && isDay(params.get('to'))) {
    from = params.get('from')!
    to = params.get('to')!
    if (from > to) [from, to] = [to, from]
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

/** A key in the fragment (`#key=daa_…`, from the collector's start link) is taken and removed. */
function takeKeyFromFragment(): void {
  const fragment = new URLSearchParams(location.hash.slice(1))
  const key = fragment.get('key')
  if (!key) return
  localStorage.setItem(KEY_STORAGE, key)
  history.replaceState(null, '', `${location.pathname}${location.search}`)
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

async function api<T>(url: string, accept = 'application/json'): Promise<T> {
  const key = storedKey()
  if (!key) throw new UnauthorizedError('No API key')
  const response = await fetch(url, { headers: { authorization: `Bearer ${key}`, accept } })
  if (response.status === 401) throw new UnauthorizedError((await response.text()) || 'The key was refused')
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`
    try {
      message = ((await response.json()) as { error?: { message?: string } }).error?.message ?? message
    } catch {}
    throw new Error(message)
  }
  return (accept === 'text/csv' ? response.text() : response.json()) as Promise<T>
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

let charts: DrawnChart[] = []
let state = readState()
let refreshTimer: number | undefined
let generation = 0
let knownQueries = new Set<string>()

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
  const agent = $<HTMLSelectElement>('agent')
  if (state.agent && ![...agent.options].some((option) => option.value === state.agent))
    agent.add(new Option(state.agent, state.agent))
  agent.value = state.agent
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
  for (const zone of [
    'UTC',
    browserZone,
    ...zones.filter((zone) => zone !== 'UTC' && zone !== browserZone),
  ]) {
    if (![...select.options].some((option) => option.value === zone)) select.add(new Option(zone, zone))
  }
}

function setStatus(text: string, error = false): void {
  const status = $('status')
  status.textContent = text
  status.classList.toggle('error', error)
}

/** A button that downloads the panel's rows as CSV (the API's own CSV, fetched with the key). */
function csvButton(query: string, agent: string, title: string): HTMLButtonElement {
  const button = element(
    'button',
    { type: 'button', class: 'csv', 'aria-label': `Download ${title} as CSV` },
    'CSV ↓',
  )
  button.addEventListener('click', async () => {
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

function panelShell(
  spec: { id: string; title: string; hint: string; query: string },
  wide: boolean,
  agent: string,
) {
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
      csvButton(spec.query, agent, spec.title),
    ),
    body,
  )
  return { section, body }
}

function cellClass(column: ColumnSpec): string {
  return column.unit === 'text' || column.unit === 'date' ? 'text' : 'num'
}

function renderTable(host: HTMLElement, panel: TablePanel, rows: Row[]): void {
  if (rows.length === 0) {
    host.append(element('p', { class: 'empty' }, 'No runs in this range.'))
    return
  }
  const maxShare = Math.max(...rows.map((row) => Number(row.share_of_runs ?? 0)), 0.0001)
  const head = element(
    'tr',
    {},
    ...panel.columns.map((column) => element('th', { scope: 'col', class: cellClass(column) }, column.label)),
  )
  const body = rows.map((row) => {
    const tr = element('tr', { 'data-agent': row.agent_id === undefined ? undefined : String(row.agent_id) })
    if (row.agent_id !== undefined && String(row.agent_id) === state.agent) tr.classList.add('selected')
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
      } else if (column.column === 'status') {
        content = element('span', { class: `pill ${String(value)}` }, String(value))
      } else if (column.column === 'reason' && !value) {
        content = element('span', { class: 'muted' }, '(none given)')
      } else if (column.column === 'share_of_runs') {
        const bar = element('span', { class: 'bar', 'aria-hidden': 'true' })
        bar.style.width = `${Math.round((Number(value) / maxShare) * 60)}px`
        content = element('span', {}, formatValue(value, column.unit), bar)
      }
      tr.append(element('td', { class: cellClass(column) }, content))
    }
    return tr
  })
  host.append(
    element(
      'div',
      { class: 'table-wrap' },
      element('table', {}, element('thead', {}, head), element('tbody', {}, ...body)),
    ),
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
  const denominator = sum(stat.reduce.denominator)
  return denominator === 0 ? 0 : sum(stat.reduce.numerator) / denominator
}

function renderStats(results: Map<string, ApiResult>): void {
  const host = $('stats')
  host.replaceChildren(
    ...STATS.map((stat) => {
      const value = reduceStat(stat, results.get(stat.query)?.rows ?? [])
      return element(
        'div',
        { class: 'stat', id: `stat-${stat.id}`, 'data-value': value === null ? '' : String(value) },
        element('div', { class: 'label' }, stat.label),
        element('div', { class: 'value' }, formatValue(value, stat.unit)),
      )
    }),
  )
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
    ['Cost / delivered', row?.cost_per_delivered_usd ?? 0, 'usd'],
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
    const columns: ColumnSpec[] = recentRuns.columns.map((column) => ({
      column: column.name,
      label: column.name.replace(/_/g, ' '),
      unit: /Float|Int/.test(column.type)
        ? column.name.includes('usd')
          ? 'usd'
          : column.name.endsWith('_ms')
            ? 'ms'
            : 'count'
        : 'text',
    }))
    const table = element('div', {})
    renderTable(
      table,
      {
        id: 'recent-runs',
        kind: 'table',
        title: 'Recent runs',
        query: RECENT_RUNS_QUERY,
        hint: '',
        width: 24,
        columns,
      },
      recentRuns.rows,
    )
    children.push(
      element(
        'div',
        { class: 'panel-head' },
        element('h3', {}, 'Recent runs'),
        csvButton(RECENT_RUNS_QUERY, state.agent, 'Recent runs'),
      ),
      table,
    )
  }
  host.replaceChildren(...children)
}

function renderPanels(results: Map<string, ApiResult>, errors: Map<string, string>): void {
  for (const chart of charts) chart.destroy()
  charts = []
  const days = daysBetween(state.from, state.to)
  const host = $('panels')
  const sections: HTMLElement[] = []
  const drawLater: (() => void)[] = []
  for (const spec of PANELS) {
    const agent = spec.query === 'agent-leaderboard' ? '' : state.agent
    const { section, body } = panelShell(spec, spec.width === 24, agent)
    const result = results.get(spec.query)
    const error = errors.get(spec.query)
    if (error || !result) body.append(element('p', { class: 'empty error' }, error ?? 'No data'))
    else if (spec.kind === 'timeseries') {
      const chart = element('div', { class: 'chart', role: 'img', 'aria-label': `${spec.title} chart` })
      body.append(chart)
      drawLater.push(() => charts.push(drawTimeSeries(chart, spec, result.rows, days)))
    } else if (spec.kind === 'table') renderTable(body, spec, result.rows)
    else renderCohorts(body, spec, result.rows)
    section.dataset.rows = String(result?.rows.length ?? 0)
    sections.push(section)
  }
  host.replaceChildren(...sections)
  // Charts size themselves to their container, so they are drawn once it is laid out.
  for (const draw of drawLater) draw()
}

function fillAgents(leaderboard: Row[]): void {
  const select = $<HTMLSelectElement>('agent')
  const agents = leaderboard.map((row) => String(row.agent_id)).sort()
  if (state.agent && !agents.includes(state.agent)) agents.unshift(state.agent)
  select.replaceChildren(new Option('All agents', ''), ...agents.map((agent) => new Option(agent, agent)))
  select.value = state.agent
}

async function load(): Promise<void> {
  const mine = ++generation
  setStatus('Loading…')
  const queries = new Set<string>([...PANELS.map((panel) => panel.query), ...STATS.map((stat) => stat.query)])
  const results = new Map<string, ApiResult>()
  const errors = new Map<string, string>()
  const fetchOne = async (query: string, agent: string) => api<ApiResult>(metricUrl(query, state, agent))
  try {
    if (knownQueries.size === 0) {
      const listing = await api<{ queries: { name: string }[] }>('/api/v1/metrics')
      knownQueries = new Set(listing.queries.map((query) => query.name))
    }
    const recent =
      state.agent && knownQueries.has(RECENT_RUNS_QUERY)
        ? fetchOne(RECENT_RUNS_QUERY, state.agent)
        : undefined
    await Promise.all(
      [...queries].map(async (query) => {
        try {
          results.set(query, await fetchOne(query, query === 'agent-leaderboard' ? '' : state.agent))
        } catch (error) {
          if (error instanceof UnauthorizedError) throw error
          errors.set(query, (error as Error).message)
        }
      }),
    )
    const recentRuns = await recent?.catch(() => undefined)
    if (mine !== generation) return
    const leaderboard = results.get('agent-leaderboard')?.rows ?? []
    fillAgents(leaderboard)
    renderStats(results)
    renderDrill(leaderboard, recentRuns)
    renderPanels(results, errors)
    setStatus(
      errors.size > 0
        ? `${errors.size} panel${errors.size > 1 ? 's' : ''} failed: ${[...errors.values()][0]}`
        : `Updated ${new Date().toLocaleTimeString()}${state.refresh ? ` · refreshes every ${state.refresh / 60} min` : ''}`,
      errors.size > 0,
    )
    document.body.dataset.ready = String(mine)
    if (mine === 1) {
      const ready = performance.now()
      ;(window as unknown as { daaTimeToInteractive?: number }).daaTimeToInteractive = ready
    }
  } catch (error) {
    if (mine === generation) handleError(error)
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
  refreshTimer = state.refresh ? window.setInterval(() => void load(), state.refresh * 1000) : undefined
}

/** Applies a change of view: URL, controls, data. */
function update(change: Partial<ViewState>, push: boolean): void {
  const next = { ...state, ...change }
  if (change.range && change.range !== 'custom') {
    next.to = today(next.tz)
    next.from = addDays(next.to, -(Number(change.range) - 1))
  }
  if (change.tz && state.range !== 'custom') {
    next.to = today(next.tz)
    next.from = addDays(next.to, -(Number(state.range) - 1))
  }
  if (next.from > next.to) [next.from, next.to] = [next.to, next.from]
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

/** Charts read their colours when drawn: draw them again in the new theme, from the last data. */
function renderAgainForTheme(): void {
  void load()
}

function showKeyForm(error = ''): void {
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
      const value = (event.target as HTMLInputElement).value
      if (isDay(value)) update({ range: 'custom', [id]: value }, true)
    })
  }
  $<HTMLSelectElement>('tz').addEventListener('change', (event) =>
    update({ tz: (event.target as HTMLSelectElement).value }, true),
  )
  $<HTMLSelectElement>('agent').addEventListener('change', (event) =>
    update({ agent: (event.target as HTMLSelectElement).value }, true),
  )
  $<HTMLSelectElement>('refresh').addEventListener('change', (event) =>
    update({ refresh: Number((event.target as HTMLSelectElement).value) }, false),
  )
  $('theme').addEventListener('click', () =>
    update({ theme: THEMES[(THEMES.indexOf(state.theme) + 1) % THEMES.length]! }, false),
  )
  $('forget-key').addEventListener('click', () => {
    forgetKey()
    showKeyForm()
  })
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const key = $<HTMLInputElement>('key-input').value.trim()
    if (!key) return
    const remember = $<HTMLInputElement>('key-remember').checked
    forgetKey()
    ;(remember ? localStorage : sessionStorage).setItem(KEY_STORAGE, key)
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
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    if (state.theme === 'system') update({}, false)
  })
}

function start(): void {
  takeKeyFromFragment()
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
