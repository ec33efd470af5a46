/**
 * The store contract: what every backend (embedded, server, two-shard cluster) must do the same.
 * Each backend's test file calls `describeStoreContract` with a factory for a fresh database.
 */
import { randomUUID } from 'node:crypto'
import {
  ClickHouseError,
  MIGRATIONS,
  type MigrationReport,
  type SchemaOptions,
  type Store,
} from '@daa/collector'
import { afterEach, describe, expect, it } from 'vitest'

export interface StoreUnderTest {
  store: Store
  schema: SchemaOptions
  /** Migrates the fresh database the way this backend needs (e.g. node by node on a cluster). */
  migrate(schema: SchemaOptions): Promise<MigrationReport>
  dispose(): Promise<void>
}

/** A database name no other test uses, so every test starts from nothing. */
export function freshDatabaseName(): string {
  return `t_${randomUUID().replaceAll('-', '').slice(0, 16)}`
}

const HOSTILE_STRINGS = [
  "it's",
  "'; DROP TABLE spans; --",
  'back\\slash \\\\ and \\n not a newline',
  'unicode: 日本語 ✓ émoji 🚀 עברית',
  'nul:\u0000:byte',
  'tab\tnewline\nreturn\r',
  '{project:String} looks like a placeholder',
  '`backticks` and "double quotes"',
]

function spanRow(projectId: string, index: number, overrides: Record<string, unknown> = {}) {
  return {
    project_id: projectId,
    timestamp: '2026-11-27T23:59:59.123456789Z',
    trace_id: '0af7651916cd43dd8448eb211c80319c',
    span_id: `b7ad6b71692033${String(index).padStart(2, '0')}`,
    parent_span_id: '',
    trace_state: 'vendor=1',
    span_name: 'invoke_agent support-bot',
    span_kind: 'INTERNAL',
    service_name: 'support',
    resource_attributes: { 'service.name': 'support', 'host.name': 'h1' },
    scope_name: '@daa/sdk',
    scope_version: '0.1.0',
    span_attributes: { 'gen_ai.operation.name': 'invoke_agent', 'user.id': 'u-42' },
    duration_ns: 1_500_000_000,
    status_code: 'ERROR',
    status_message: 'tool failed',
    'events.timestamp': ['2026-11-27T23:59:59.5Z'],
    'events.name': ['gen_ai.evaluation.result'],
    'events.attributes': [{ 'gen_ai.evaluation.name': 'helpful', 'gen_ai.evaluation.score.value': '0.9' }],
    'links.trace_id': ['1af7651916cd43dd8448eb211c80319c'],
    'links.span_id': ['c7ad6b7169203331'],
    'links.trace_state': [''],
    'links.attributes': [{ kind: 'follows' }],
    operation: 'invoke_agent',
    run_id: 'b7ad6b7169203300',
    agent_id: 'support-bot',
    user_id: 'u-42',
    conversation_id: 'c-1',
    request_model: 'gpt-5',
    response_model: 'gpt-5-2026-08-01',
    provider: 'openai',
    tool_name: '',
    tool_call_id: '',
    input_tokens: 1200,
    output_tokens: 300,
    cache_read_tokens: 1000,
    cache_write_tokens: 10,
    reasoning_tokens: 50,
    cost_usd: 0.0123,
    error_type: 'TimeoutError',
    ...overrides,
  }
}

export function describeStoreContract(backend: string, open: () => Promise<StoreUnderTest>): void {
  describe(`store contract: ${backend}`, () => {
    let current: StoreUnderTest | undefined
    const start = async () => {
      current = await open()
      return current
    }
    afterEach(async () => {
      await current?.dispose()
      current = undefined
    })

    it('applies migrations once; running them again changes nothing', async () => {
      const { store, schema, migrate: run } = await start()
      const first = await run(schema)
      expect(first.applied).toEqual(MIGRATIONS.map((migration) => migration.version))
      const tables = () =>
        store.query<{ name: string; create_table_query: string }>(
          'SELECT name, create_table_query FROM system.tables WHERE database = currentDatabase() ORDER BY name',
        )
      const before = await tables()
      expect(before.map((table) => table.name)).toEqual(
        expect.arrayContaining(['spans', 'runs', 'outcomes', 'api_keys']),
      )
      const second = await run(schema)
      expect(second).toEqual({
        applied: [],
        retentionDays: schema.retentionDays,
        previousRetentionDays: schema.retentionDays,
        retentionChanged: [],
      })
      expect(await tables()).toEqual(before)
      const [recorded] = await store.query<{ n: number }>('SELECT count() AS n FROM daa_migrations FINAL')
      expect(recorded?.n).toBe(MIGRATIONS.length)
    })

    it('changes the retention TTL when the configured days change', async () => {
      const { store, schema, migrate: run } = await start()
      await run(schema)
      const changed = await run({ ...schema, retentionDays: 30 })
      expect(changed.retentionChanged.map((name) => name.replace(/_local$/, '')).sort()).toEqual([
        'agent_day_units',
        'agent_days',
        'bucket_outcomes',
        'bucket_totals',
        'outcomes',
        'pending_traces',
        'person_activity',
        'person_quarters',
        'quarter_outcomes',
        'quarter_totals',
        'run_facts',
        'run_spans',
        'runs',
        'spans',
      ])
      const [spans] = await store.query<{ engine_full: string }>(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name IN ('spans', 'spans_local') AND engine != 'Distributed'",
      )
      expect(spans?.engine_full).toContain('toIntervalDay(30)')
      expect((await run({ ...schema, retentionDays: 30 })).retentionChanged).toEqual([])
    })

    it('keeps the retention the database has when none is given (any daa command runs the migrations)', async () => {
      const { store, schema, migrate: run } = await start()
      const { retentionDays: _, ...unset } = schema
      // A new database gets the default.
      expect(await run(unset)).toMatchObject({ retentionDays: 400, previousRetentionDays: undefined })
      await run({ ...schema, retentionDays: 30 })
      // `daa keys list` without DAA_RETENTION_DAYS: nothing changes, and it says what is kept.
      expect(await run(unset)).toEqual({
        applied: [],
        retentionDays: 30,
        previousRetentionDays: 30,
        retentionChanged: [],
      })
      await run({ ...schema, retentionDays: 0 })
      expect(await run(unset)).toMatchObject({ retentionDays: 0, retentionChanged: [] })
      const [spans] = await store.query<{ engine_full: string }>(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name IN ('spans', 'spans_local') AND engine != 'Distributed'",
      )
      expect(spans?.engine_full).not.toContain('TTL')
    })

    it('round-trips every column of a span', async () => {
      const { store, schema, migrate: run } = await start()
      await run(schema)
      const row = spanRow('p1', 1)
      await store.insert('spans', [row])
      const [back] = await store.query<Record<string, unknown>>(
        'SELECT * EXCEPT ingested_at FROM spans FINAL WHERE project_id = {project:String}',
        { project: 'p1' },
      )
      expect(back).toEqual({
        ...row,
        timestamp: '2026-11-27T23:59:59.123456789Z',
        'events.timestamp': ['2026-11-27T23:59:59.500000000Z'],
      })
    })

    it('round-trips runs, outcomes and api keys', async () => {
      const { store, schema, migrate: run } = await start()
      await run(schema)
      const runRow = {
        project_id: 'p1',
        run_id: 'b7ad6b7169203300',
        trace_id: '0af7651916cd43dd8448eb211c80319c',
        parent_run_id: '',
        agent_id: 'support-bot',
        agent_name: 'Support Bot',
        agent_version: '1.2.0',
        user_id: 'u-42',
        conversation_id: 'c-1',
        service_name: 'support',
        start_time: '2026-11-27T23:59:59.123456789Z',
        duration_ns: 18_446_744_073_709,
        status_code: 'OK',
        error_type: '',
        cost_usd: 0.5,
      }
      const outcomeRow = {
        project_id: 'p1',
        run_id: 'b7ad6b7169203300',
        status: 'delivered',
        value: 12.5,
        unit: 'USD',
        reason: 'ticket resolved',
        recorded_at: '2026-11-28T00:00:01.000000001Z',
        source_span_id: 'b7ad6b7169203300',
      }
      const keyRow = {
        key_hash: 'a'.repeat(64),
        project_id: 'p1',
        name: 'ci',
        created_at: '2026-11-28T00:00:00.000Z',
        revoked: 0,
      }
      await store.insert('runs', [runRow])
      await store.insert('outcomes', [outcomeRow])
      await store.insert('api_keys', [keyRow])
      expect(await store.query('SELECT * EXCEPT ingested_at FROM runs FINAL')).toEqual([runRow])
      expect(await store.query('SELECT * EXCEPT ingested_at FROM outcomes FINAL')).toEqual([outcomeRow])
      expect(await store.query('SELECT * EXCEPT updated_at FROM api_keys FINAL')).toEqual([keyRow])
    })

    it('keeps hostile parameter values as data, never as SQL', async () => {
      const { store, schema, migrate: run } = await start()
      await run(schema)
      for (const value of HOSTILE_STRINGS) {
        const [echo] = await store.query<{ value: string; length: number }>(
          'SELECT {value:String} AS value, length({value:String}) AS length',
          { value },
        )
        expect(echo).toEqual({ value, length: Buffer.byteLength(value) })
      }
      await store.insert(
        'spans',
        HOSTILE_STRINGS.map((value, index) => spanRow(value, index, { user_id: value })),
      )
      for (const value of HOSTILE_STRINGS) {
        const rows = await store.query<{ user_id: string }>(
          'SELECT user_id FROM spans FINAL WHERE project_id = {project:String}',
          { project: value },
        )
        expect(rows).toEqual([{ user_id: value }])
      }
      const [count] = await store.query<{ n: number }>('SELECT count() AS n FROM spans FINAL')
      expect(count?.n).toBe(HOSTILE_STRINGS.length)
      const arrays = await store.query<{ found: number }>(
        'SELECT count() AS found FROM spans FINAL WHERE project_id IN {projects:Array(String)}',
        { projects: HOSTILE_STRINGS.slice(0, 3) },
      )
      expect(arrays).toEqual([{ found: 3 }])
    })

    it('accepts concurrent inserts without losing a row', async () => {
      const { store, schema, migrate: run } = await start()
      await run(schema)
      const batches = Array.from({ length: 20 }, (_, batch) =>
        Array.from({ length: 50 }, (_, index) =>
          spanRow('p-concurrent', index, { trace_id: `${String(batch).padStart(2, '0')}${'f'.repeat(30)}` }),
        ),
      )
      await Promise.all(batches.map((rows) => store.insert('spans', rows)))
      const [count] = await store.query<{ n: number }>(
        'SELECT count() AS n FROM spans FINAL WHERE project_id = {project:String}',
        { project: 'p-concurrent' },
      )
      expect(count?.n).toBe(1000)
    })

    it('replaces a retried row instead of counting it twice', async () => {
      const { store, schema, migrate: run } = await start()
      await run(schema)
      const row = spanRow('p-retry', 7)
      await store.insert('spans', [row])
      await store.insert('spans', [row])
      const [count] = await store.query<{ n: number }>('SELECT count() AS n FROM spans FINAL')
      expect(count?.n).toBe(1)
    })

    it('surfaces ClickHouse errors as a typed error with code and name', async () => {
      const { store } = await start()
      const unknownTable = await store.query('SELECT * FROM no_such_table').catch((error: unknown) => error)
      expect(unknownTable).toBeInstanceOf(ClickHouseError)
      expect(unknownTable).toMatchObject({ code: 60, type: 'UNKNOWN_TABLE' })
      expect((unknownTable as Error).message).toContain('no_such_table')
      const syntax = await store.command('SELEC 1').catch((error: unknown) => error)
      expect(syntax).toMatchObject({ code: 62, type: 'SYNTAX_ERROR' })
      const badParam = await store
        .query('SELECT {n:UInt8} AS n', { n: 'not a number' })
        .catch((error: unknown) => error)
      expect(badParam).toBeInstanceOf(ClickHouseError)
      expect(await store.ping()).toBe(true)
    })
  })
}
