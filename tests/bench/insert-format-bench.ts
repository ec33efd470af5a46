/**
 * npm run bench:insert-format — which format the collector should insert spans in, measured: the
 * same span rows (mapped from realistic OTLP requests) encoded as JSONCompactEachRow, exactly as the
 * collector's pipeline encodes them, and as RowBinary (row-binary.ts), then inserted into a real
 * ClickHouse server in 20k-row batches, two at a time, as the collector does. Reported per million
 * spans: the encoder's CPU seconds (this process), ClickHouse's CPU seconds (from /proc) and the
 * bytes sent; and the insert rate. Interleaved rounds, medians. The rows read back are compared
 * first, so both formats are known to store the same thing.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { createClient } from '@clickhouse/client'
import { createServerStore, migrate } from '@daa/collector'
import { mapSpans } from '../../collector/dist/mapping/map-spans.js'
import { DEFAULT_PRICES } from '../../collector/dist/mapping/prices.js'
import { decodeProtobufRequest } from '../../collector/dist/otlp/decode-protobuf.js'
import { INGESTED_AT_COLUMN, SPAN_COLUMNS, type SpanRow } from '../../collector/dist/store/rows.js'
import { SPANS } from '../../collector/dist/store/schema.js'
import { chunkPieces, encodeRows, quoteIdentifier } from '../../collector/dist/store/store.js'
import { startClickHouseServer } from '../support/clickhouse-server.js'
import { makeTraceRequests } from './realistic-traces.js'
import { rowBinaryEncoder } from './row-binary.js'

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const BATCH_REQUESTS = 200 // 100 spans each: the collector's 20k-span batches
const INGESTED_AT = 1_764_000_000_123

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}
function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const requests = makeTraceRequests(REQUESTS, 100).map(
  (body) => mapSpans('bench', decodeProtobufRequest(body).spans, DEFAULT_PRICES).spans,
)
const spans = requests.reduce((sum, rows) => sum + rows.length, 0)
const columns = [...SPAN_COLUMNS, INGESTED_AT_COLUMN]

type Encoded = Buffer[]
const formats: Record<string, (rows: SpanRow[]) => Buffer> = {
  // As the pipeline does it (ingest-pipeline.ts encodeRequest): one flat Buffer per request.
  JSONCompactEachRow: (rows) => {
    const { chunks } = encodeRows(rows, SPAN_COLUMNS, [INGESTED_AT], { sameShape: true })
    // The bytes sent: a request's lines are one flat string, unless a resource of 1 KiB or more is shared.
    return Buffer.from(chunks.flatMap(chunkPieces).join(''))
  },
  RowBinary: (() => {
    const encode = rowBinaryEncoder(SPANS, columns)
    return (rows: SpanRow[]) => encode(rows, [INGESTED_AT]).data
  })(),
}

/** Encodes every request (CPU measured), then groups them into the collector's batches. */
function encodeAll(encode: (rows: SpanRow[]) => Buffer): { batches: Encoded[]; cpu: number; bytes: number } {
  const before = ownCpuSeconds()
  const encoded = requests.map(encode)
  const cpu = ownCpuSeconds() - before
  const batches: Encoded[] = []
  for (let index = 0; index < encoded.length; index += BATCH_REQUESTS)
    batches.push(encoded.slice(index, index + BATCH_REQUESTS))
  return { batches, cpu, bytes: encoded.reduce((sum, buffer) => sum + buffer.length, 0) }
}

const clickhouse = await startClickHouseServer()
try {
  const database = `bench_format_${Date.now()}`
  const store = await createServerStore({ url: clickhouse.url, database })
  await migrate(store, { retentionDays: 0 })
  const client = createClient({ url: clickhouse.url, database, max_open_connections: 4 })
  const insert = async (format: string, batch: Encoded) => {
    const result = await client.exec({
      query: `INSERT INTO spans (${columns.map(quoteIdentifier).join(', ')}) FORMAT ${format}`,
      values: Readable.from(batch),
    })
    result.stream.resume()
    await new Promise((resolve, reject) => result.stream.once('end', resolve).once('error', reject))
  }
  const readBack = async () =>
    JSON.stringify(
      await (
        await client.query({ query: 'SELECT * FROM spans ORDER BY trace_id, span_id', format: 'JSONEachRow' })
      ).json(),
    )
  // Both formats store the same rows.
  const stored: string[] = []
  for (const [format, encode] of Object.entries(formats)) {
    await client.command({ query: 'TRUNCATE TABLE spans' })
    await insert(format, requests.slice(0, 20).map(encode))
    stored.push(await readBack())
  }
  if (stored[0] !== stored[1]) throw new Error('the two formats stored different rows')

  const results: Record<string, { encoder: number[]; clickhouse: number[]; rate: number[]; bytes: number }> =
    {}
  for (let round = 0; round < ROUNDS; round++) {
    for (const [format, encode] of Object.entries(formats)) {
      const { batches, cpu, bytes } = encodeAll(encode)
      await client.command({ query: 'TRUNCATE TABLE spans' })
      const cpuBefore = cpuSeconds(clickhouse.pid)
      const started = performance.now()
      let next = 0
      await Promise.all(
        [0, 1].map(async () => {
          while (next < batches.length) await insert(format, batches[next++]!)
        }),
      )
      const seconds = (performance.now() - started) / 1000
      results[format] ??= { encoder: [], clickhouse: [], rate: [], bytes }
      const result = results[format]
      result.encoder.push((cpu * 1e6) / spans)
      result.clickhouse.push(((cpuSeconds(clickhouse.pid) - cpuBefore) * 1e6) / spans)
      result.rate.push(spans / seconds)
    }
  }
  const lines = [
    '',
    `insert format benchmark: ${spans} span rows in ${REQUESTS / BATCH_REQUESTS} batches, ${ROUNDS} interleaved rounds (medians); rows read back identical in both formats`,
    '  format               encoder CPU s/M spans   ClickHouse CPU s/M spans   bytes/span   insert rate (spans/s)',
    ...Object.entries(results).map(
      ([format, result]) =>
        `  ${format.padEnd(20)} ${median(result.encoder).toFixed(2).padStart(21)} ${median(result.clickhouse).toFixed(1).padStart(26)} ${(result.bytes / spans).toFixed(0).padStart(12)} ${median(result.rate).toFixed(0).padStart(23)}`,
    ),
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
  await client.close()
  await store.command(`DROP DATABASE ${database}`)
  await store.close()
} finally {
  await clickhouse.stop()
}
