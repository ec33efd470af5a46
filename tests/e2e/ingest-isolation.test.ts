/**
 * The ingest pipeline against a real ClickHouse server: rows ClickHouse refuses for their data are
 * isolated and set aside while every other row (of every project) is stored; a replayed span keeps
 * its original ingested_at; one batch may span any number of days.
 *
 * Decoding already rejects every poison value known (see bad-input.test.ts), so these tests put
 * the poison in after mapping, where a value the decoder missed would be: a token count of 1e21
 * in a UInt64 column, exactly the value of the issue that motivated this.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { createServerStore, migrate, type Store, startRollupRefresher } from '@daa/collector'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deadLetterCommand } from '../../collector/src/ingest/dead-letter-command.js'
import { listDeadLetters, readDeadLetters } from '../../collector/src/ingest/dead-letters.js'
import { createIngestMetrics } from '../../collector/src/ingest/ingest-metrics.js'
import { IngestPipeline } from '../../collector/src/ingest/ingest-pipeline.js'
import { type EncodedBatch, encodeRequest } from '../../collector/src/ingest/prepare-request.js'
import { type WalRecord, WriteAheadLog } from '../../collector/src/ingest/write-ahead-log.js'
import { mapSpans } from '../../collector/src/mapping/map-spans.js'
import { DEFAULT_PRICES } from '../../collector/src/mapping/prices.js'
import { decodeJsonRequest } from '../../collector/src/otlp/decode-json.js'
import { freshDatabaseName } from '../contract/store-contract.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'

let clickhouse: RunningClickHouse
let store: Store
const directories: string[] = []

beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  store = await createServerStore({ url: clickhouse.url, database: freshDatabaseName() })
  await migrate(store, { retentionDays: 0 })
})
afterAll(async () => {
  await store?.close()
  await clickhouse?.stop()
  for (const directory of directories) rmSync(directory, { recursive: true, force: true })
})

function freshDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'daa-isolation-'))
  directories.push(directory)
  return directory
}

let spanCounter = 0
const DAY_NS = 86_400_000_000_000n
const NOW_NS = BigInt(Date.now()) * 1_000_000n

interface SpanSpec {
  name: string
  id?: string
  trace?: string
  parent?: string
  operation?: string
  startNs?: bigint
}

/** An OTLP/JSON export body, as a sender writes it; returns the span ids too. */
function otlpBody(specs: SpanSpec[]): { body: Uint8Array; ids: string[] } {
  const ids: string[] = []
  const spans = specs.map((spec) => {
    spanCounter += 1
    const spanId = spec.id ?? spanCounter.toString(16).padStart(16, '0')
    ids.push(spanId)
    const start = spec.startNs ?? NOW_NS
    return {
      traceId: spec.trace ?? 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      spanId,
      parentSpanId: spec.parent ?? '',
      name: spec.name,
      kind: 1,
      startTimeUnixNano: start.toString(),
      endTimeUnixNano: (start + 1_000_000n).toString(),
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: spec.operation ?? 'chat' } },
        { key: 'gen_ai.agent.name', value: { stringValue: 'isolation' } },
        { key: 'gen_ai.usage.input_tokens', value: { intValue: 7 } },
      ],
    }
  })
  const text = JSON.stringify({ resourceSpans: [{ resource: {}, scopeSpans: [{ spans }] }] })
  return { body: Buffer.from(text), ids }
}

/** Decodes, maps and encodes like the collector, poisoning the spans named "poison" as a decoder bug would. */
function encodePoisoned(record: WalRecord): EncodedBatch {
  const decoded = decodeJsonRequest(Buffer.from(record.body).toString())
  const rows = mapSpans(record.projectId, decoded.spans, DEFAULT_PRICES)
  for (const row of rows.spans) if (row.span_name === 'poison') row.input_tokens = 1e21
  return encodeRequest(rows, record.ingestedAt)
}

const materialize = async (record: WalRecord) => encodePoisoned(record)

async function openPipeline(walDir: string, deadLetterDir: string) {
  const log = await WriteAheadLog.open(walDir)
  const metrics = createIngestMetrics()
  const warnings: string[] = []
  const pipeline = new IngestPipeline(store, log, metrics, materialize, {
    deadLetterDir,
    flushIntervalMs: 60_000,
    replayIntervalMs: 60_000,
    onWarning: (message) => warnings.push(message),
  })
  const accept = (projectId: string, specs: SpanSpec[], ingestedAt = Date.now()) => {
    const { body, ids } = otlpBody(specs)
    const record: WalRecord = { projectId, encoding: 'json', body, ingestedAt }
    return { ids, done: pipeline.accept(record, encodePoisoned(record)) }
  }
  return { log, metrics, warnings, pipeline, accept }
}

async function spanNames(projectId: string): Promise<string[]> {
  const rows = await store.query<{ span_name: string }>(
    'SELECT span_name FROM spans FINAL WHERE project_id = {projectId:String} ORDER BY span_name',
    { projectId },
  )
  return rows.map((row) => row.span_name)
}

describe('ingest pipeline against a ClickHouse server', () => {
  it('isolates the rows ClickHouse refuses, sets them aside, and stores every other row of every project', async () => {
    const directory = freshDirectory()
    const deadLetterDir = join(directory, 'dead-letter')
    const { accept, pipeline, metrics, warnings, log } = await openPipeline(
      join(directory, 'wal'),
      deadLetterDir,
    )
    // One batch, two projects; one poison row in the middle of alpha's request.
    const alpha = accept('alpha', [
      { name: 'alpha-1' },
      { name: 'alpha-2' },
      { name: 'poison' },
      { name: 'alpha-3' },
    ])
    const beta = accept('beta', [{ name: 'beta-1' }, { name: 'beta-2' }])
    await Promise.all([alpha.done, beta.done])
    await pipeline.flushAll()

    expect(await spanNames('alpha')).toEqual(['alpha-1', 'alpha-2', 'alpha-3'])
    expect(await spanNames('beta')).toEqual(['beta-1', 'beta-2'])
    // The batch is committed (or set aside): its log segment is gone, nothing is stuck.
    expect(log.depth).toBe(0)
    expect(pipeline.status().consecutiveFailures).toBe(0)

    const [file] = await listDeadLetters(deadLetterDir)
    expect(file).toMatchObject({ rows: 1, projects: { alpha: 1 } })
    const [letter] = await readDeadLetters(deadLetterDir, file!.file)
    expect(letter).toMatchObject({ projectId: 'alpha', table: 'spans' })
    expect(letter!.row[letter!.columns.indexOf('span_name')]).toBe('poison')
    expect(letter!.error.code).toBeGreaterThan(0)
    expect(await metrics.registry.getSingleMetricAsString('daa_dead_letter_rows_total')).toContain(
      'daa_dead_letter_rows_total{table="spans"} 1',
    )
    expect(warnings.join('\n')).toMatch(/refused a spans row of project "alpha"/)
    // What `daa dead-letter list` and `show` print.
    const listed = new PassThrough()
    expect(await deadLetterCommand(directory, ['list'], listed, process.stderr)).toBe(0)
    expect(String(listed.read())).toMatch(/\.jsonl\t1 rows\t\d+ bytes\tprojects: alpha=1/)
    const shown = new PassThrough()
    expect(await deadLetterCommand(directory, ['show', file!.file], shown, process.stderr)).toBe(0)
    expect(JSON.parse(String(shown.read()))).toEqual(letter)
    const missing = new PassThrough()
    expect(await deadLetterCommand(directory, ['show', '1999-01-01.jsonl'], shown, missing)).toBe(1)
    expect(String(missing.read())).toMatch(/no dead-letter file 1999-01-01.jsonl/)
    await pipeline.shutdown()
  })

  it("sets aside rows that break a CHECK constraint an operator added, and stores every other project's rows", async () => {
    const directory = freshDirectory()
    const deadLetterDir = join(directory, 'dead-letter')
    const { accept, pipeline, log } = await openPipeline(join(directory, 'wal'), deadLetterDir)
    await store.command("ALTER TABLE spans ADD CONSTRAINT no_forbidden CHECK span_name != 'forbidden'")
    try {
      const checked = accept('checked', [{ name: 'checked-1' }, { name: 'forbidden' }])
      const other = accept('unchecked', [{ name: 'unchecked-1' }])
      await Promise.all([checked.done, other.done])
      await pipeline.flushAll()
      // Not a stuck log: the refused row is a dead letter, the rest is stored.
      expect(await spanNames('checked')).toEqual(['checked-1'])
      expect(await spanNames('unchecked')).toEqual(['unchecked-1'])
      expect(log.depth).toBe(0)
      expect(pipeline.status().consecutiveFailures).toBe(0)
      const [file] = await listDeadLetters(deadLetterDir)
      expect(file).toMatchObject({ rows: 1, projects: { checked: 1 } })
      const [letter] = await readDeadLetters(deadLetterDir, file!.file)
      expect(letter!.error.code).toBe(469) // VIOLATED_CONSTRAINT
    } finally {
      await store.command('ALTER TABLE spans DROP CONSTRAINT no_forbidden')
      await pipeline.shutdown()
    }
  })

  it('isolates poison found on replay too, and the log does not stall', async () => {
    const directory = freshDirectory()
    const walDir = join(directory, 'wal')
    // A previous process logged these and died before ClickHouse had them.
    const earlier = await WriteAheadLog.open(walDir)
    for (const [projectId, names] of [
      ['gamma', ['gamma-1', 'poison']],
      ['delta', ['delta-1']],
    ] as const) {
      const { body } = otlpBody(names.map((name) => ({ name })))
      await earlier.append({ projectId, encoding: 'json', body, ingestedAt: Date.now() })
    }
    await earlier.close()

    const { pipeline, log } = await openPipeline(walDir, join(directory, 'dead-letter'))
    await pipeline.replay()
    expect(await spanNames('checked')).toEqual(['checked-1'])
    expect(await spanNames('unchecked')).toEqual(['unchecked-1'])
    expect(log.depth).toBe(0)
    await pipeline.shutdown()
  })

  it('replays a span with its original ingested_at, so a run attribution made since is not undone', async () => {
    const directory = freshDirectory()
    const walDir = join(directory, 'wal')
    const trace = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
    const takenAt = Date.now() - 3_600_000
    const first = await openPipeline(walDir, join(directory, 'dead-letter'))
    // The child arrives before its run: stored unattributed, with the time it was taken.
    const parentId = 'e0000000000000e1'
    const childSpan = { name: 'early-child', id: 'e0000000000000e2', trace, parent: parentId }
    const child = first.accept('epsilon', [childSpan], takenAt)
    await child.done
    await first.pipeline.flushAll()
    const [stored] = await store.query<{ ms: number }>(
      "SELECT toUnixTimestamp64Milli(ingested_at) AS ms FROM spans FINAL WHERE span_name = 'early-child'",
    )
    expect(stored?.ms).toBe(takenAt)
    await first.pipeline.shutdown()

    // The run arrives; the maintenance pass attributes the child to it.
    const second = await openPipeline(walDir, join(directory, 'dead-letter'))
    await second.accept('epsilon', [{ name: 'late-run', id: parentId, trace, operation: 'invoke_agent' }])
      .done
    await second.pipeline.flushAll()
    await second.pipeline.shutdown()
    // A collector's refresher attributes the child to its run, as it runs beside every collector.
    const refresher = startRollupRefresher(store, { intervalMs: 200 })
    const attributedRun = async () =>
      (
        await store.query<{ run_id: string }>(
          "SELECT run_id FROM spans FINAL WHERE project_id = 'epsilon' AND span_name = 'early-child'",
        )
      )[0]?.run_id
    const deadline = Date.now() + 60_000
    while ((await attributedRun()) !== parentId && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await refresher.stop()
    expect(await attributedRun()).toBe(parentId)

    // The child's request is replayed (a crash before its segment was deleted, a second collector…).
    const replayLog = await WriteAheadLog.open(walDir)
    await replayLog.append({
      projectId: 'epsilon',
      encoding: 'json',
      body: otlpBody([childSpan]).body,
      ingestedAt: takenAt,
    })
    await replayLog.close()
    const third = await openPipeline(walDir, join(directory, 'dead-letter'))
    await third.pipeline.replay()
    await third.pipeline.shutdown()

    const rows = await store.query<{ run_id: string }>(
      "SELECT run_id FROM spans FINAL WHERE project_id = 'epsilon' AND span_name = 'early-child'",
    )
    expect(rows).toEqual([{ run_id: parentId }])
  })

  it('stores one batch whose spans cover more than 100 days', async () => {
    const directory = freshDirectory()
    const { accept, pipeline } = await openPipeline(join(directory, 'wal'), join(directory, 'dead-letter'))
    const days = 110
    await accept(
      'zeta',
      Array.from({ length: days }, (_, day) => ({
        name: `day-${String(day).padStart(3, '0')}`,
        startNs: NOW_NS - BigInt(day) * DAY_NS,
      })),
    ).done
    await pipeline.flushAll()
    expect(await spanNames('zeta')).toHaveLength(days)
    expect(pipeline.status().consecutiveFailures).toBe(0)
    await pipeline.shutdown()
  })
})
