/**
 * A database made by the previous release (schema version 6, every run's duration kept in the
 * `run_durations_ns` arrays of quarter_totals and bucket_totals) is upgraded in place by migration
 * 7: each row's durations become runs per duration bucket, and the arrays are dropped. The API's
 * run-health answers are the hand-computed percentiles before and after, a run sent afterwards
 * through a collector counts, and the upgraded tables (and run_summary, which gains each run's
 * duration bucket) have the columns of a new database.
 *
 * No user path makes a version-6 database any more, so the test makes one from a current database
 * the way version 6 stored it: the same rows, each with the durations of its runs (from run_facts)
 * instead of their buckets.
 */
import { migrate, type Store } from '@daa/collector'
import { expect, it } from 'vitest'
import {
  AGENT_BUCKET,
  BUCKET_TOTALS_BEFORE_7,
  QUARTER_TOTALS_BEFORE_7,
} from '../../collector/src/queries/rollup-schema.js'
import { FLOAT_DIGITS } from '../../collector/src/queries/run-saved-query.js'
import { createTable } from '../../collector/src/store/migrations.js'
import type { TableDefinition } from '../../collector/src/store/schema.js'
import { latencyPercentile } from '../golden/expected-metrics.js'
import type { GoldenRun } from '../golden/golden-dataset.js'
import { runSpan } from '../golden/golden-otlp.js'
import { type CollectorSession, withCollector } from '../support/collector-session.js'
import { useUpgradeDatabases } from '../support/upgrade-databases.js'

const databases = useUpgradeDatabases('latency')

const now = BigInt(Date.now()) * 1_000_000n
/** The UTC day the runs start on (a minute ago): taken from their start, so a run at midnight cannot flake the test. */
const today = new Date(Number(now / 1_000_000n) - 60_000).toISOString().slice(0, 10)

/** A delivered run of `agent`, started a minute ago, lasting `durationNs`. */
function run(id: number, agent: string, durationNs: number): GoldenRun {
  const hex = id.toString(16).padStart(4, '0')
  return {
    project: 'p',
    runId: `0b0b000000000${hex.slice(1)}`,
    traceId: `0b0b000000000000000000000000${hex}`,
    parentRunId: '',
    agentId: agent,
    userId: '',
    startNs: now - 60_000_000_000n,
    durationNs,
    statusError: false,
    ownCostUsd: 0,
    calls: [],
    outcomes: [],
    runArrivesLate: false,
  }
}

// Durations on both sides of bucket edges (a bucket is exact below 64 ns), from 40 ns to 3 hours.
const durations = [40, 63, 64, 65, 127, 128, 129, 131, 1_000_000, 1_015_808, 1_015_809, 2_500_000_000]
const runs = durations.map((ns, index) => run(index + 1, index % 3 === 0 ? 'agent-b' : 'agent-a', ns))
runs.push(run(100, 'agent-a', 10_800_000_000_000))
const later = run(101, 'agent-b', 777_777_777)

interface Latency {
  runs: number
  latency_p50_ms: number
  latency_p95_ms: number
  latency_p99_ms: number
}

/** The hand-computed run-health latency of `sent`, as the query's header defines it. */
function expected(sent: readonly GoldenRun[]): Latency {
  const sorted = sent.map((sentRun) => sentRun.durationNs).sort((a, b) => a - b)
  // In milliseconds, with the API's significant digits.
  const ms = (level: number) => Number((latencyPercentile(sorted, level) / 1e6).toPrecision(FLOAT_DIGITS))
  return { runs: sent.length, latency_p50_ms: ms(0.5), latency_p95_ms: ms(0.95), latency_p99_ms: ms(0.99) }
}

async function latency(rows: CollectorSession['rows'], agent: string): Promise<Latency | undefined> {
  const [row] = await rows('run-health', `from=${today}&to=${today}&tz=UTC&agent=${agent}`)
  return (
    row && {
      runs: row.runs as number,
      latency_p50_ms: row.latency_p50_ms as number,
      latency_p95_ms: row.latency_p95_ms as number,
      latency_p99_ms: row.latency_p99_ms as number,
    }
  )
}

/** Polls the API until run-health for all agents and for agent-b equals the hand-computed answers. */
async function awaitLatency(rows: CollectorSession['rows'], sent: readonly GoldenRun[]): Promise<void> {
  const want = {
    all: expected(sent),
    agentB: expected(sent.filter((sentRun) => sentRun.agentId === 'agent-b')),
  }
  const got = async () => ({ all: await latency(rows, ''), agentB: await latency(rows, 'agent-b') })
  await expect.poll(got, { timeout: 30_000, interval: 100 }).toEqual(want)
}

/** The columns of `table` as system.columns describes them, in order. */
async function columnsOf(database: Store, table: string): Promise<unknown[]> {
  return database.query(
    `SELECT name, type, default_kind, default_expression, compression_codec FROM system.columns
     WHERE database = currentDatabase() AND table = {table:String} ORDER BY position`,
    { table },
  )
}

/**
 * Replaces the table `legacy` defines with its version-6 shape: its rows, each with the durations
 * of the runs it sums. `runKeys` selects the table's key columns from run_facts; `allAgents` adds
 * the rows that sum every agent (quarter_totals' agent_id ''), or is empty.
 */
async function makeVersion6(legacy: TableDefinition, runKeys: string, allAgents: string): Promise<void> {
  const staging = `${legacy.name}_v6`
  for (const statement of createTable(
    { ...legacy, name: staging },
    { database: databases.upgraded.database, retentionDays: 0 },
  )) {
    await databases.upgraded.command(statement)
  }
  const columns = (await columnsOf(databases.upgraded, staging)).map(
    (column) => (column as { name: string }).name,
  )
  const keys = legacy.orderBy.replace(/[()]/g, '')
  await databases.upgraded.command(
    `INSERT INTO ${staging} (${columns.join(', ')})
     SELECT ${columns.map((column) => (column === 'run_durations_ns' ? 'd.durations' : `t.${column}`)).join(', ')}
     FROM ${legacy.name} AS t FINAL
     INNER JOIN (
         SELECT ${runKeys}, arraySort(groupArray(duration_ns)) AS durations FROM run_facts FINAL GROUP BY ${keys}
         ${allAgents}
     ) AS d USING (${keys})`,
  )
  await databases.upgraded.command(`DROP TABLE ${legacy.name} SYNC`)
  await databases.upgraded.command(`RENAME TABLE ${staging} TO ${legacy.name}`)
}

it('upgrades a version-6 database in place: the same latency answers, from duration buckets', async () => {
  await migrate(databases.upgraded, { retentionDays: 0 })
  await migrate(databases.fresh, { retentionDays: 0 })
  await withCollector(databases.upgraded, async ({ send, rows }) => {
    await send(runs.map(runSpan))
    await awaitLatency(rows, runs)
    // Until a refresh covers the sends, so the refreshes after the upgrade do not recompute these
    // runs: what they answer is then what the migration made.
    const [sent] = await databases.upgraded.query<{ at: string }>("SELECT toString(now64(3, 'UTC')) AS at")
    const covering = async () =>
      (
        await databases.upgraded.query<{ n: number }>(
          "SELECT count() AS n FROM metric_refreshes WHERE started_at > toDateTime64({at:String}, 3, 'UTC')",
          { at: sent!.at },
        )
      )[0]!.n
    await expect.poll(covering, { timeout: 30_000, interval: 100 }).toBeGreaterThan(0)
  })

  const quarter = 'toStartOfFifteenMinutes(start_time) AS quarter'
  await makeVersion6(
    QUARTER_TOTALS_BEFORE_7,
    `project_id, agent_id, ${quarter}`,
    `UNION ALL SELECT project_id, '' AS agent_id, ${quarter}, arraySort(groupArray(duration_ns)) FROM run_facts FINAL GROUP BY project_id, quarter`,
  )
  await makeVersion6(BUCKET_TOTALS_BEFORE_7, `project_id, ${quarter}, ${AGENT_BUCKET} AS bucket`, '')
  await databases.upgraded.command(
    'ALTER TABLE daa_migrations DELETE WHERE version = 7 SETTINGS mutations_sync = 1',
  )
  const [before] = await databases.upgraded.query<{ n: number }>(
    "SELECT sum(length(run_durations_ns)) AS n FROM quarter_totals WHERE agent_id = ''",
  )
  expect(before!.n).toBe(runs.length)

  expect((await migrate(databases.upgraded, { retentionDays: 0 })).applied).toEqual([7])
  for (const table of ['quarter_totals', 'bucket_totals', 'run_summary']) {
    expect(await columnsOf(databases.upgraded, table)).toEqual(await columnsOf(databases.fresh, table))
  }

  await withCollector(databases.upgraded, async ({ send, rows }) => {
    await awaitLatency(rows, runs)
    // A run sent after the upgrade: the refresh adds its bucket to rows the migration converted.
    await send([runSpan(later)])
    await awaitLatency(rows, [...runs, later])
  })
}, 180_000)
