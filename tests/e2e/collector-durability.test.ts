/**
 * Durability and backpressure, for real: ClickHouse servers are stopped and started under a
 * running collector, and a collector is restarted over its write-ahead log.
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServerStore, migrate } from '@daa/collector'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeRpcStatus } from '../../collector/src/otlp/rpc-status.js'
import { recordAgentRun } from '../support/agent-spans.js'
import { pickFreePorts, type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import {
  type CollectorUnderTest,
  metricValue,
  postSpans,
  startTestCollector,
} from '../support/collector-harness.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

async function clickhouseOn(port: number): Promise<RunningClickHouse> {
  const server = await startClickHouseServer({ httpPort: port })
  cleanups.push(() => server.stop())
  return server
}

function sendRun(target: CollectorUnderTest, agent: string, apiKey = target.apiKey): Promise<Response> {
  return postSpans(target, recordAgentRun({ agent, outcome: 'delivered', value: 3 }), apiKey)
}

async function eventually<T>(check: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

async function runsOf(url: string, database: string, agent: string): Promise<number> {
  const store = await createServerStore({ url, database })
  try {
    const [row] = await store.query<{ n: number }>(
      'SELECT count() AS n FROM runs FINAL WHERE agent_id = {agent:String}',
      {
        agent,
      },
    )
    return row?.n ?? 0
  } finally {
    await store.close()
  }
}

describe('collector durability', () => {
  it('acknowledges while ClickHouse is down, keeps the log, and replays it once it is back', async () => {
    const [port] = await pickFreePorts(1)
    const first = await clickhouseOn(port!)
    const target = await startTestCollector(first.url, { replayIntervalMs: 100 })
    cleanups.push(() => target.close())
    expect((await sendRun(target, 'before-outage')).status).toBe(200)
    // A 200 means "in the log", not "in ClickHouse": wait until ClickHouse has the first run and
    // its segment is gone, or the outage would catch that batch too and leave a second segment.
    await eventually(async () =>
      expect(await runsOf(first.url, target.config.clickhouseDatabase, 'before-outage')).toBe(1),
    )
    await eventually(async () => expect(await metricValue(target, 'daa_wal_segments')).toBe(0))

    await first.stop()
    const during = await sendRun(target, 'during-outage')
    expect(during.status).toBe(200)
    expect(await metricValue(target, 'daa_wal_segments')).toBe(1)
    // A key never seen before cannot be checked while ClickHouse is away: retry later, not "unauthorised".
    const unknownKey = await sendRun(target, 'x', 'daa_never-seen-before')
    expect(unknownKey.status).toBe(503)
    expect(Number(unknownKey.headers.get('retry-after'))).toBeGreaterThan(0)

    // ClickHouse comes back (empty: a new server on the same port) and is migrated.
    const second = await clickhouseOn(port!)
    const store = await createServerStore({ url: second.url, database: target.config.clickhouseDatabase })
    await migrate(store, { retentionDays: 400 })
    await store.close()
    await eventually(async () =>
      expect(await runsOf(second.url, target.config.clickhouseDatabase, 'during-outage')).toBe(1),
    )
    await eventually(async () => expect(await metricValue(target, 'daa_wal_segments')).toBe(0))
  })

  it("rides out a full log with OpenTelemetry's own exporter: its Retry-After is one the exporter waits for", async () => {
    const [port] = await pickFreePorts(1)
    const dataDir = mkdtempSync(join(tmpdir(), 'daa-full-log-ch-'))
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }))
    let clickhouse = await startClickHouseServer({ httpPort: port, dataDir })
    cleanups.push(() => clickhouse.stop())
    // A log of one record at most: the second request during an outage finds it full.
    const target = await startTestCollector(clickhouse.url, { replayIntervalMs: 100, maxLogMb: 1e-6 })
    cleanups.push(() => target.close())
    expect((await sendRun(target, 'warm-up')).status).toBe(200)
    await eventually(async () => expect(await metricValue(target, 'daa_wal_segments')).toBe(0))

    await clickhouse.stop()
    expect((await sendRun(target, 'fills-the-log')).status).toBe(200)
    // The exporter as an application configures it, with its defaults (10 s per export, retries).
    const exporter = new OTLPTraceExporter({
      url: `${target.collector.url}/v1/traces`,
      headers: { authorization: `Bearer ${target.apiKey}` },
    })
    const exported = new Promise<{ code: number; error?: Error }>((resolve) =>
      exporter.export(recordAgentRun({ agent: 'rides-out', outcome: 'delivered' }), resolve),
    )
    // Refused (503 with its Retry-After) while the log is full; ClickHouse comes back meanwhile.
    await eventually(async () =>
      expect(await metricValue(target, 'daa_export_requests_total{transport="http",status="503"}')).toBe(1),
    )
    clickhouse = await startClickHouseServer({ httpPort: port, dataDir })
    // The exporter waited as told and tried again within its own deadline: delivered, not given up
    // (a hint over its 10 s makes it give up at once: with 10 or 30 s this export failed).
    expect(await exported).toEqual({ code: 0 }) // ExportResultCode.SUCCESS
    await exporter.shutdown()
    for (const agent of ['fills-the-log', 'rides-out']) {
      await eventually(async () =>
        expect(await runsOf(clickhouse.url, target.config.clickhouseDatabase, agent)).toBe(1),
      )
    }
  })

  it('replays the write-ahead log of a previous process after a restart', async () => {
    const [port] = await pickFreePorts(1)
    const first = await clickhouseOn(port!)
    const target = await startTestCollector(first.url)
    expect((await sendRun(target, 'warm-up')).status).toBe(200)
    await first.stop()
    expect((await sendRun(target, 'spooled-before-restart')).status).toBe(200)
    // The log keeps each request as sent: a JSON export is replayed as JSON.
    const json = await fetch(`${target.collector.url}/v1/traces`, {
      method: 'POST',
      body: JsonTraceSerializer.serializeRequest(
        recordAgentRun({ agent: 'json-before-restart', outcome: 'partial' }),
      ),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${target.apiKey}` },
    })
    expect(json.status).toBe(200)
    const database = target.config.clickhouseDatabase
    // The process stops with the batch still in its log (ClickHouse is away).
    await target.collector.close()

    const second = await clickhouseOn(port!)
    const restarted = await startTestCollector(second.url, {
      dataDir: target.dataDir,
      clickhouseDatabase: database,
    })
    cleanups.push(() => restarted.close())
    await eventually(async () => expect(await runsOf(second.url, database, 'spooled-before-restart')).toBe(1))
    await eventually(async () => expect(await runsOf(second.url, database, 'json-before-restart')).toBe(1))
  })

  /**
   * A collector whose buffer holds about one request, with a first run's rows waiting in it for
   * `flushIntervalMs` (the first request's answer is still to come).
   */
  async function bufferHoldingOneRun(flushIntervalMs: number) {
    const clickhouse = await clickhouseOn((await pickFreePorts(1))[0]!)
    const target = await startTestCollector(clickhouse.url, { maxBufferMb: 0.001, flushIntervalMs })
    cleanups.push(() => target.close())
    const first = sendRun(target, 'first-in')
    // The second request comes once the first one's rows wait in memory.
    await eventually(async () => expect(await metricValue(target, 'daa_buffered_bytes')).toBeGreaterThan(0))
    const runs = (agent: string) => runsOf(clickhouse.url, target.config.clickhouseDatabase, agent)
    return { target, first, runs }
  }

  it('answers 429 with Retry-After instead of buffering without bound', async () => {
    // The first request's rows stay in memory (10 s) far longer than a request waits for room (2 s).
    const { target, first, runs } = await bufferHoldingOneRun(10_000)
    const second = await sendRun(target, 'pushed-back')
    expect(second.status).toBe(429)
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0)
    // Its google.rpc.Status says RESOURCE_EXHAUSTED, as code.proto maps HTTP 429.
    expect(decodeRpcStatus(new Uint8Array(await second.arrayBuffer())).code).toBe(8)
    expect((await first).status).toBe(200)
    // The first run reaches ClickHouse on its own once its flush interval is up: wait for it there, as a
    // user would. The refused request came before that write, so if it had been kept it would be in by now.
    await eventually(async () => expect(await runs('first-in')).toBe(1))
    expect(await runs('first-in')).toBe(1)
    expect(await runs('pushed-back')).toBe(0)
    // Ops see the wait that ended in the refusal.
    expect(await metricValue(target, 'daa_admission_waits_total{result="refused"}')).toBe(1)
    expect(await metricValue(target, 'daa_admission_wait_seconds_total')).toBeGreaterThan(1)
    expect(await metricValue(target, 'daa_admission_waiting')).toBe(0)
  })

  it('lets a request that finds the buffer full wait for room rather than refusing it', async () => {
    // The first request's rows go to ClickHouse after 500 ms, well within the second one's wait.
    const { target, first, runs } = await bufferHoldingOneRun(500)
    const second = await sendRun(target, 'waited-for-room')
    expect(second.status).toBe(200)
    expect((await first).status).toBe(200)
    // Both show up in ClickHouse on their own, as the collector writes its batches.
    await eventually(async () => expect(await runs('first-in')).toBe(1))
    await eventually(async () => expect(await runs('waited-for-room')).toBe(1))
    expect(await metricValue(target, 'daa_admission_waits_total{result="admitted"}')).toBe(1)
    expect(await metricValue(target, 'daa_admission_waiting')).toBe(0)
  })

  it('answers a request still uploading its body with 503 when the collector stops, instead of cutting it off', async () => {
    const clickhouse = await clickhouseOn((await pickFreePorts(1))[0]!)
    const target = await startTestCollector(clickhouse.url)
    cleanups.push(() => target.close())
    const { hostname, port } = new URL(target.collector.url)
    const socket = connect(Number(port), hostname)
    cleanups.push(async () => socket.destroy())
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('data', (text: string) => {
      answer += text
    })
    // The collector may close the connection with the body's unread bytes pending, which TCP
    // signals as a reset after the answer: the answer is what counts.
    socket.on('error', () => {})
    const closed = new Promise((resolve) => socket.once('close', resolve))
    // The connection is the collector's (a first request on it is answered), then a slow sender's
    // request follows on it: the headers and the first bytes of a 100 kB body, and no more for now.
    socket.write('GET /healthz HTTP/1.1\r\nHost: collector\r\n\r\n')
    await eventually(async () => expect(answer).toContain('"ok"'))
    answer = ''
    socket.write(
      'POST /v1/traces HTTP/1.1\r\nHost: collector\r\nContent-Type: application/x-protobuf\r\n' +
        `Authorization: Bearer ${target.apiKey}\r\nContent-Length: 100000\r\n\r\n` +
        '\n\x00'.repeat(8),
    )
    // Once the collector is reading it, the collector is told to stop, as SIGTERM does.
    await eventually(async () => expect(await metricValue(target, 'daa_exports_in_progress')).toBe(1))
    await target.collector.close()
    await closed
    // Told to come back, with a reason and a hint, not cut off without an answer.
    expect(answer).toMatch(/^HTTP\/1\.1 503 /)
    expect(answer).toMatch(/\r\nretry-after: \d+\r\n/i)
    expect(answer).toMatch(/\r\nconnection: close\r\n/i)
    expect(answer).toContain('shutting down')
  })

  it('answers a request waiting for room with 503 when the collector stops, and stores what it acknowledged', async () => {
    // The first request's rows would wait a minute in memory; the second waits for room behind them.
    const { target, first, runs } = await bufferHoldingOneRun(60_000)
    const second = sendRun(target, 'waiting-at-shutdown')
    await eventually(async () => expect(await metricValue(target, 'daa_admission_waiting')).toBe(1))
    expect((await first).status).toBe(200)
    const stopped = target.collector.close()
    // The waiting request is told to come back (to another collector, or this one restarted),
    // not left to its 2 s wait and a 429, and not taken by a collector that is stopping.
    const answer = await second
    expect(answer.status).toBe(503)
    expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await answer.text()).toContain('shutting down')
    await stopped
    // What was acknowledged reached ClickHouse on the way out; the refused request did not.
    expect(await runs('first-in')).toBe(1)
    expect(await runs('waiting-at-shutdown')).toBe(0)
  })
})
