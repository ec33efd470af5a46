/**
 * A database made by the previous release (schema version 5, people kept per quarter-hour in
 * `people_quarters`) is upgraded in place by migration 6: its people rows are copied person first
 * into `person_quarters`, with their own versions, and every person's `person_activity` row is
 * built from them. The API's people answers are the same before and after, an older unmerged row
 * does not come back to life, a late outcome sent afterwards through a collector still takes a
 * delivery back, and a full rebuild builds every person's row again.
 *
 * No user path makes a version-5 database any more, so the test makes one from a current database
 * the way version 5 stored it: the same people rows in the old table, the new tables dropped.
 */
import { createServerStore, migrate, type Store } from '@daa/collector'
import type { ReadableSpan } from '@opentelemetry/sdk-trace'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { LEGACY_PEOPLE_QUARTERS } from '../../collector/src/queries/rollup-schema.js'
import { createTable } from '../../collector/src/store/migrations.js'
import type { GoldenRun } from '../golden/golden-dataset.js'
import { lateOutcomeSpans, runSpan } from '../golden/golden-otlp.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorSession, withCollector } from '../support/collector-session.js'

let clickhouse: RunningClickHouse
let store: Store
beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  store = await createServerStore({ url: clickhouse.url, database: 'upgrade_people' })
}, 120_000)
afterAll(async () => {
  await store?.close()
  await clickhouse?.stop()
})

const now = BigInt(Date.now()) * 1_000_000n
/** The UTC day the runs start on (a minute ago): from their start, so a run at midnight cannot flake the test. */
const today = new Date(Number(now / 1_000_000n) - 60_000).toISOString().slice(0, 10)

/** A run of `agent` for `user`, started a minute ago, with its outcome on the run span. */
function run(id: number, agent: string, user: string, status: 'delivered' | 'failed'): GoldenRun {
  return {
    project: 'p',
    runId: `0a0a00000000000${id}`,
    traceId: `0a0a000000000000000000000000000${id}`,
    parentRunId: '',
    agentId: agent,
    userId: user,
    startNs: now - 60_000_000_000n,
    durationNs: 1_000_000,
    statusError: false,
    ownCostUsd: 0,
    calls: [],
    outcomes: [
      {
        status,
        value: 1,
        unit: 'USD',
        reason: '',
        recordedAt: now,
        sourceSpanId: `0a0a0000000000a${id}`,
        late: false,
      },
    ],
    runArrivesLate: false,
  }
}

const runs = [
  run(1, 'agent-a', 'ana', 'delivered'),
  run(2, 'agent-a', 'bo', 'delivered'),
  run(3, 'agent-b', 'ana', 'delivered'),
  run(4, 'agent-b', 'cy', 'failed'),
]

interface PeopleAnswers {
  served: unknown[]
  leaderboard: unknown[]
}

async function peopleAnswers(rows: CollectorSession['rows']): Promise<PeopleAnswers> {
  const query = `from=${today}&to=${today}&tz=UTC`
  const served = (await rows('people-served', query)).map(({ day, people_served, people_with_runs }) => ({
    day,
    people_served,
    people_with_runs,
  }))
  const leaderboard = (await rows('agent-leaderboard', query)).map(({ agent_id, people_served }) => ({
    agent_id,
    people_served,
  }))
  return { served, leaderboard }
}

/** Polls the API until its people answers equal `expected`, as a dashboard would. */
async function awaitPeople(rows: CollectorSession['rows'], expected: PeopleAnswers): Promise<void> {
  await expect.poll(() => peopleAnswers(rows), { timeout: 30_000, interval: 100 }).toEqual(expected)
}

/** Outcome `status` for `target`, recorded `later` seconds after the run's own, as a late daa.outcome span. */
function lateOutcome(target: GoldenRun, status: 'failed', later: number, spanId: string): ReadableSpan[] {
  return lateOutcomeSpans({
    ...target,
    outcomes: [
      {
        status,
        value: 0,
        unit: '',
        reason: 'refunded',
        recordedAt: now + BigInt(later) * 1_000_000_000n,
        sourceSpanId: spanId,
        late: true,
      },
    ],
  })
}

// ana and bo were served (cy's run failed); ana by both agents.
const sent: PeopleAnswers = {
  served: [{ day: today, people_served: 2, people_with_runs: 3 }],
  leaderboard: [
    { agent_id: 'agent-a', people_served: 2 },
    { agent_id: 'agent-b', people_served: 1 },
  ],
}

// agent-b's delivery for ana taken back: ana is still served that day, by agent-a.
const revoked: PeopleAnswers = {
  served: [{ day: today, people_served: 2, people_with_runs: 3 }],
  leaderboard: [
    { agent_id: 'agent-a', people_served: 2 },
    { agent_id: 'agent-b', people_served: 0 },
  ],
}

it('upgrades a version-5 database in place: the same people answers, and later outcomes still count', async () => {
  await migrate(store, { retentionDays: 0 })
  await withCollector(store, async ({ send, rows }) => {
    await send(runs.map(runSpan))
    await awaitPeople(rows, sent)
    await send(lateOutcome(runs[2]!, 'failed', 1, '0a0a0000000000b3'))
    await awaitPeople(rows, revoked)
  })

  // What version 5 left: the same people rows in people_quarters (quarter-hour first), and no
  // person tables. The revoked key also keeps its older row, not merged yet (agent-b delivered to
  // ana): the newer row must still win after the copy.
  for (const statement of createTable(LEGACY_PEOPLE_QUARTERS, {
    database: store.database,
    retentionDays: 0,
  })) {
    await store.command(statement)
  }
  await store.command(
    `INSERT INTO people_quarters SELECT project_id, quarter, agent_id, person, runs, delivered_runs, refreshed_at
     FROM person_quarters FINAL`,
  )
  await store.command(
    `INSERT INTO people_quarters SELECT project_id, quarter, agent_id, person, runs, toUInt32(1), refreshed_at - INTERVAL 1 HOUR
     FROM person_quarters FINAL WHERE agent_id = 'agent-b' AND delivered_runs = 0`,
  )
  for (const table of ['person_quarters', 'person_activity']) await store.command(`DROP TABLE ${table} SYNC`)
  await store.command('ALTER TABLE daa_migrations DELETE WHERE version = 6 SETTINGS mutations_sync = 1')

  expect((await migrate(store, { retentionDays: 0 })).applied).toEqual([6])
  const tables = await store.query<{ name: string }>(
    "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'person%' ORDER BY name",
  )
  expect(tables.map((row) => row.name)).toEqual(['person_activity', 'person_quarters'])

  await withCollector(store, async ({ send, rows }) => {
    await awaitPeople(rows, revoked)
    // A later outcome sent through a collector: agent-a's delivery for bo is taken back too, so bo
    // is served by nobody that day; the refresh rebuilds bo's row.
    await send(lateOutcome(runs[1]!, 'failed', 2, '0a0a0000000000b2'))
    await awaitPeople(rows, afterUpgrade)
  })

  // A full rebuild (the first refresh after a migration that empties the refresh log, or after a
  // collector was down longer than the change log keeps entries) builds every person's row again.
  await store.command('TRUNCATE TABLE person_activity')
  await store.command('TRUNCATE TABLE metric_refreshes')
  await withCollector(store, async ({ rows }) => {
    await awaitPeople(rows, afterUpgrade)
    const [refresh] = await store.query<{ mode: string }>(
      'SELECT mode FROM metric_refreshes ORDER BY started_at LIMIT 1',
    )
    expect(refresh?.mode).toBe('full')
  })
}, 180_000)

// bo's delivery by agent-a taken back too: only ana is served, by agent-a.
const afterUpgrade: PeopleAnswers = {
  served: [{ day: today, people_served: 1, people_with_runs: 3 }],
  leaderboard: [
    { agent_id: 'agent-a', people_served: 1 },
    { agent_id: 'agent-b', people_served: 0 },
  ],
}
