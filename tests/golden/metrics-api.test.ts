/**
 * The metrics API and the CLI commands over the saved queries, on a collector (embedded engine, as
 * `npm start` runs it) fed the golden fleet through OTLP, children before their runs, retries and
 * late outcomes included; nobody calls a refresh: the tests wait, as a dashboard would, until the API
 * answers exactly. Plus a check that each .sql header declares exactly the columns and types
 * ClickHouse returns, and that shared SQL fragments are expanded.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createApiKey,
  loadConfig,
  type RunningCollector,
  type Store,
  startCollectorServer,
} from '@daa/collector'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  expandIncludes,
  listQueriesCommand,
  runQueryCommand,
  SAVED_QUERIES_DIR,
  SavedQueryDefinitionError,
  SavedQueryRequestError,
  savedQueries,
  savedQueryFiles,
} from '../../collector/src/queries/index.js'
import { EXPECTED } from './expected-metrics.js'
import { GOLDEN_PROJECT, generateGoldenDataset, OTHER_PROJECT } from './golden-dataset.js'
import { sendGoldenFleet } from './golden-otlp.js'
import { RANGE } from './golden-suite.js'

const dataDir = mkdtempSync(join(tmpdir(), 'daa-metrics-api-'))
const dataset = generateGoldenDataset()
const keys = new Map<string, string>()
let collector: RunningCollector
let store: Store

const get = (path: string, project = GOLDEN_PROJECT) =>
  fetch(`${collector.url}${path}`, { headers: { authorization: `Bearer ${keys.get(project)}` } })

/** Polls the API, as a dashboard would, until `path` answers `rows` (the collector refreshes on its own). */
async function untilAnswers(
  path: string,
  project: string,
  rows: unknown[],
  withinMs = 240_000,
): Promise<void> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const body = (await (await get(path, project)).json()) as { rows?: unknown[] }
    if (JSON.stringify(body.rows) === JSON.stringify(rows)) return
    if (Date.now() > deadline) expect(body.rows).toEqual(rows)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

beforeAll(async () => {
  collector = await startCollectorServer(
    loadConfig({ host: '127.0.0.1', port: 0, grpcPort: 0, dataDir, flushIntervalMs: 50 }, {}),
  )
  store = collector.store
  for (const project of [GOLDEN_PROJECT, OTHER_PROJECT]) {
    keys.set(project, (await createApiKey(store, project, 'metrics-api')).key)
  }
  await sendGoldenFleet(dataset, [collector.url], keys)
  // Every test below reads the fleet's final answers: wait for them, without calling a refresh.
  for (const [project, tz] of [
    [GOLDEN_PROJECT, 'UTC'],
    [GOLDEN_PROJECT, 'Asia/Kolkata'],
    [OTHER_PROJECT, 'UTC'],
  ] as const) {
    await untilAnswers(
      `/api/v1/metrics/daa?${new URLSearchParams({ ...RANGE, tz })}`,
      project,
      EXPECTED.daa!(dataset.runs, { project, ...RANGE, tz, agent: '' }),
    )
  }
  // Sending waits for each acknowledgment, then the collector's refresher catches up: slow on a loaded machine.
}, 600_000)
afterAll(async () => {
  await collector?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('GET /api/v1/metrics', () => {
  it('lists every saved query with its description, parameters and columns', async () => {
    const response = await get('/api/v1/metrics')
    expect(response.status).toBe(200)
    const body = (await response.json()) as {
      queries: {
        name: string
        description: string
        params: { name: string }[]
        columns: { name: string }[]
      }[]
    }
    expect(body.queries.map((query) => query.name)).toEqual([...savedQueries().keys()])
    for (const query of body.queries) {
      expect(query.description.length).toBeGreaterThan(10)
      expect(query.params.map((param) => param.name)).toEqual(['from', 'to', 'tz', 'agent'])
      expect(query.columns.length).toBeGreaterThan(0)
    }
  })
})

describe('GET /api/v1/metrics/:name', () => {
  it('returns JSON with the query, parameters, typed columns, rows and elapsed time', async () => {
    const response = await get('/api/v1/metrics/daa?from=2026-03-01&to=2026-03-26&tz=Asia/Kolkata')
    expect(response.status).toBe(200)
    const body = (await response.json()) as Record<string, unknown>
    expect(body.query).toBe('daa')
    expect(body.params).toEqual({ ...RANGE, tz: 'Asia/Kolkata', agent: '' })
    expect(body.columns).toEqual([
      { name: 'day', type: 'Date' },
      { name: 'daa', type: 'UInt64' },
      { name: 'working_agents', type: 'UInt64' },
      { name: 'runs', type: 'UInt64' },
      { name: 'delivered_runs', type: 'UInt64' },
    ])
    expect(body.rows).toEqual(
      EXPECTED.daa!(dataset.runs, { project: GOLDEN_PROJECT, ...RANGE, tz: 'Asia/Kolkata', agent: '' }),
    )
    expect(typeof body.elapsed_ms).toBe('number')
  })

  it('returns CSV with format=csv', async () => {
    const response = await get('/api/v1/metrics/delivery-rate?from=2026-03-01&to=2026-03-03&format=csv')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/)
    const lines = (await response.text()).trimEnd().split('\r\n')
    expect(lines[0]).toBe(
      'day,runs,delivered,partial,failed,abandoned,unknown,known_outcome_runs,delivery_rate',
    )
    expect(lines).toHaveLength(4)
    expect(lines[1]).toMatch(/^2026-03-01,\d+,/)
  })

  it('takes the project from the API key only: a project parameter is refused, not obeyed', async () => {
    const sneaky = await get(`/api/v1/metrics/daa?from=2026-03-01&to=2026-03-26&project=${OTHER_PROJECT}`)
    expect(sneaky.status).toBe(400)
    expect(await sneaky.json()).toEqual({
      error: {
        code: 'invalid_parameters',
        message: 'Invalid parameters: unknown parameter "project" (the project comes from the API key).',
      },
    })
    // The same request without the parameter answers for the key's project, and only it.
    const mine = (await (await get('/api/v1/metrics/daa?from=2026-03-01&to=2026-03-26')).json()) as {
      rows: unknown[]
    }
    const theirs = (await (
      await get('/api/v1/metrics/daa?from=2026-03-01&to=2026-03-26', OTHER_PROJECT)
    ).json()) as { rows: unknown[] }
    expect(mine.rows).toEqual(
      EXPECTED.daa!(dataset.runs, { project: GOLDEN_PROJECT, ...RANGE, tz: 'UTC', agent: '' }),
    )
    expect(theirs.rows).toEqual(
      EXPECTED.daa!(dataset.runs, { project: OTHER_PROJECT, ...RANGE, tz: 'UTC', agent: '' }),
    )
    expect(mine.rows).not.toEqual(theirs.rows)
  })

  it('reads the last 30 days through today in the time zone when the range is not given', async () => {
    // Kiritimati is UTC+14: its today is tomorrow in UTC for 14 hours of each UTC day.
    const todayThere = () => new Date(Date.now() + 14 * 3_600_000).toISOString().slice(0, 10)
    const daysBefore = (day: string, days: number) =>
      new Date(Date.parse(`${day}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10)
    const before = todayThere()
    const bare = (await (await get('/api/v1/metrics/daa?tz=Pacific/Kiritimati')).json()) as {
      params: { from: string; to: string }
      rows: { day: string }[]
    }
    const after = todayThere()
    expect([before, after]).toContain(bare.params.to)
    expect(bare.params.from).toBe(daysBefore(bare.params.to, 29))
    expect(bare.rows.map((row) => row.day)).toHaveLength(30)
    const explicit = (await (
      await get(`/api/v1/metrics/daa?tz=Pacific/Kiritimati&from=${bare.params.from}&to=${bare.params.to}`)
    ).json()) as { rows: unknown[] }
    expect(bare.rows).toEqual(explicit.rows)
    // One end given: the range still spans 30 days, ending on that day.
    const ending = (await (await get('/api/v1/metrics/daa?to=2026-03-26')).json()) as {
      params: { from: string; to: string }
      rows: unknown[]
    }
    expect(ending.params).toMatchObject({ from: '2026-02-25', to: '2026-03-26' })
    expect(ending.rows).toEqual(
      EXPECTED.daa!(dataset.runs, {
        project: GOLDEN_PROJECT,
        from: '2026-02-25',
        to: '2026-03-26',
        tz: 'UTC',
        agent: '',
      }),
    )
    // The CLI takes the same defaults.
    let printed = ''
    const out = {
      write: (chunk: string) => {
        printed += chunk
        return true
      },
    }
    await runQueryCommand(
      store,
      GOLDEN_PROJECT,
      { name: 'daa', tz: 'Pacific/Kiritimati', format: 'json' },
      out,
    )
    expect(JSON.parse(printed).params).toMatchObject({ from: bare.params.from, to: bare.params.to })
  })

  it.each([
    [
      'an unknown query',
      '/api/v1/metrics/nope?from=2026-03-01&to=2026-03-02',
      404,
      'unknown_query',
      /no saved query "nope"/,
    ],
    [
      'a malformed date',
      '/api/v1/metrics/daa?from=03/01/2026&to=2026-03-02',
      400,
      'invalid_parameters',
      /from must be a date as YYYY-MM-DD/,
    ],
    [
      'an impossible date',
      '/api/v1/metrics/daa?from=2026-02-30&to=2026-03-02',
      400,
      'invalid_parameters',
      /from is not a calendar date/,
    ],
    [
      'from after to',
      '/api/v1/metrics/daa?from=2026-03-05&to=2026-03-02',
      400,
      'invalid_parameters',
      /^Invalid parameters: from must not be after to\.$/,
    ],
    [
      'a month that does not exist, reported alone (not as a range problem too)',
      '/api/v1/metrics/daa?from=2026-13-01&to=2026-03-02',
      400,
      'invalid_parameters',
      /^Invalid parameters: from is not a calendar date\.$/,
    ],
    [
      'a range too long',
      '/api/v1/metrics/daa?from=2024-01-01&to=2026-03-02',
      400,
      'invalid_parameters',
      /^Invalid parameters: the range from … to must be at most 366 days\.$/,
    ],
    [
      'an unknown time zone',
      '/api/v1/metrics/daa?from=2026-03-01&to=2026-03-02&tz=Mars/Olympus',
      400,
      'unknown_time_zone',
      /tz "Mars\/Olympus" is not an IANA time zone/,
    ],
    [
      'an unknown format',
      '/api/v1/metrics/daa?from=2026-03-01&to=2026-03-02&format=xml',
      400,
      'invalid_parameters',
      /format must be json or csv/,
    ],
  ])('refuses %s with a clear %s', async (_case, path, status, code, message) => {
    const response = await get(path)
    expect(response.status).toBe(status)
    const body = (await response.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe(code)
    expect(body.error.message).toMatch(message)
  })
})

describe('CLI commands', () => {
  const capture = () => {
    let text = ''
    const write = (chunk: string) => {
      text += chunk
      return true
    }
    return { out: { write }, text: () => text }
  }

  it('daa queries lists every query with its description', () => {
    const output = capture()
    listQueriesCommand(output.out)
    for (const query of savedQueries().values()) expect(output.text()).toContain(query.name)
    expect(output.text()).toContain(savedQueries().get('daa')!.description)
  })

  it('daa query prints an aligned table by default', async () => {
    const output = capture()
    await runQueryCommand(
      store,
      GOLDEN_PROJECT,
      { name: 'daa', from: '2026-03-01', to: '2026-03-03' },
      output.out,
    )
    const lines = output.text().trimEnd().split('\n')
    expect(lines[0]).toMatch(/^day\s+daa\s+working_agents\s+runs\s+delivered_runs$/)
    expect(lines[1]).toMatch(/^─+( +─+){4}$/)
    expect(lines.slice(2, 5).map((line) => line.slice(0, 10))).toEqual([
      '2026-03-01',
      '2026-03-02',
      '2026-03-03',
    ])
    // Columns line up: every line is as wide as the rule.
    for (const line of lines.slice(2, 5)) expect(line.length).toBe(lines[1]!.length)
    expect(lines[5]).toMatch(/^\(3 rows, [\d.]+ ms\)$/)
  })

  it('daa query prints JSON and CSV on request', async () => {
    const json = capture()
    await runQueryCommand(
      store,
      GOLDEN_PROJECT,
      { name: 'run-health', from: '2026-03-01', to: '2026-03-02', tz: 'Asia/Kathmandu', format: 'json' },
      json.out,
    )
    expect(JSON.parse(json.text())).toMatchObject({ query: 'run-health', params: { tz: 'Asia/Kathmandu' } })
    const csv = capture()
    await runQueryCommand(
      store,
      GOLDEN_PROJECT,
      { name: 'outcomes-by-reason', from: '2026-03-01', to: '2026-03-02', format: 'csv' },
      csv.out,
    )
    expect(csv.text().split('\r\n')[0]).toBe('status,reason,runs,share_of_runs,value,unit')
  })

  it('daa query reports bad input as a SavedQueryRequestError', async () => {
    const error = await runQueryCommand(
      store,
      GOLDEN_PROJECT,
      { name: 'daa', from: '2026-03-02', to: '2026-03-01' },
      capture().out,
    ).catch((reason: unknown) => reason)
    expect(error).toBeInstanceOf(SavedQueryRequestError)
    expect((error as Error).message).toMatch(/from must not be after to/)
  })
})

describe('.sql headers', () => {
  it('declare exactly the columns and types ClickHouse returns', async () => {
    for (const query of savedQueries().values()) {
      const described = await store.query<{ name: string; type: string }>(`DESCRIBE TABLE (${query.sql})`, {
        project: GOLDEN_PROJECT,
        ...RANGE,
        tz: 'UTC',
        agent: '',
      })
      expect(
        described.map(({ name, type }) => ({ name, type })),
        query.name,
      ).toEqual(query.columns.map(({ name, type }) => ({ name, type })))
    }
  })
})

describe('shared SQL fragments', () => {
  it('are written out where a query includes them, so every consumer runs one text', () => {
    const daa = savedQueries().get('daa')!
    expect(daa.sql).toContain('slices AS (')
    for (const name of ['daa', 'waa-maa', 'agent-lifecycle', 'agent-retention']) {
      const sql = savedQueries().get(name)!.sql
      expect(sql.match(/\bslices AS \(/g), name).toHaveLength(1)
      // Each include line is followed by its fragment and closed.
      expect(sql.match(/-- include: /g)?.length, name).toBe(sql.match(/-- end include: /g)?.length)
    }
    // delivering-days.sql includes calendar-slices.sql itself.
    for (const name of ['agent-lifecycle', 'agent-retention']) {
      expect(
        savedQueries()
          .get(name)!
          .sql.match(/\bdelivering_days AS \(/g),
        name,
      ).toHaveLength(1)
    }
  })

  it('are written out in the .sql files as the fragments are now (run `npm run docs` after changing one)', () => {
    for (const file of savedQueryFiles()) {
      const text = readFileSync(join(SAVED_QUERIES_DIR, file), 'utf8')
      expect(text, file).toBe(expandIncludes(file, text))
    }
  })

  it('let each .sql file run as it is, in any client, with the answers the collector gives', async () => {
    // As the README shows a platform team: the file's text and its parameters, nothing expanded.
    for (const file of savedQueryFiles()) {
      const name = file.replace(/\.sql$/, '')
      for (const tz of ['UTC', 'America/New_York']) {
        const params = { project: GOLDEN_PROJECT, ...RANGE, tz, agent: '' }
        const asFiled = await store.query(readFileSync(join(SAVED_QUERIES_DIR, file), 'utf8'), params)
        expect(asFiled, `${file} in ${tz}`).toEqual(await store.query(savedQueries().get(name)!.sql, params))
        if (name === 'daa') expect(asFiled.length).toBeGreaterThan(0)
      }
    }
  })

  it('refuse fragments that include each other in a cycle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'daa-fragments-'))
    try {
      writeFileSync(join(dir, 'a.sql'), '-- a\n    -- include: b.sql\n')
      writeFileSync(join(dir, 'b.sql'), '-- b\n    -- include: a.sql\n')
      expect(() => expandIncludes('q.sql', 'WITH\n    -- include: a.sql\nSELECT 1', dir)).toThrow(
        /nest deeper than 8/,
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuse a query that includes a fragment that does not exist', () => {
    const text = savedQueries()
      .get('daa')!
      .sql.replace('WITH\n', 'WITH\n    -- include: no-such-fragment.sql\n')
    expect(() => expandIncludes('daa.sql', text)).toThrow(SavedQueryDefinitionError)
    expect(() => expandIncludes('daa.sql', text)).toThrow(/includes no-such-fragment.sql/)
  })
})
