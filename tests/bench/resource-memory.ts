/**
 * npm run bench:memory — peak RSS of one collector process (a real ClickHouse server behind it)
 * taking seven OTLP/JSON requests at once, each ~1 MB: one resource with a 32–64 KiB attribute
 * shared by 3,000–6,000 spans. Every span row carries the resource attributes, so a collector
 * that copies them per row holds gigabytes for megabytes received. Prints the collector's peak
 * RSS against its RSS once idle (the baseline, measured in the same run), and whether every
 * span was stored. `BENCH_CLI=path/to/cli.js` measures another build; `BENCH_NO_HEAP_LIMIT=1` runs
 * it without the heap limit of the bin's shebang (to see how far a build grows instead of where it
 * stops).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createApiKey, createServerStore, migrate } from '@daa/collector'
import { startClickHouseServer } from '../support/clickhouse-server.js'

const CLI = process.env.BENCH_CLI ?? fileURLToPath(new URL('../../collector/dist/cli.js', import.meta.url))
const REQUESTS = 7

function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024
}

function body(index: number): { text: string; spans: number } {
  const attributeBytes = (32 + ((index * 5) % 33)) * 1024
  const spans = 3000 + ((index * 500) % 3001)
  const trace = (index + 1).toString(16).padStart(32, '0')
  const now = BigInt(Date.now()) * 1_000_000n
  const list = Array.from({ length: spans }, (_, span) => ({
    traceId: trace,
    spanId: (index * 100_000 + span + 1).toString(16).padStart(16, '0'),
    name: 'chat',
    kind: 3,
    startTimeUnixNano: (now + BigInt(span)).toString(),
    endTimeUnixNano: (now + BigInt(span) + 1000n).toString(),
    attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: 'chat' } }],
  }))
  const text = JSON.stringify({
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: `svc-${index}` } },
            { key: 'big', value: { stringValue: 'x'.repeat(attributeBytes) } },
          ],
        },
        scopeSpans: [{ scope: { name: 'bench' }, spans: list }],
      },
    ],
  })
  return { text, spans }
}

async function main() {
  const clickhouse = await startClickHouseServer()
  const dataDir = mkdtempSync(join(tmpdir(), 'daa-memory-bench-'))
  const database = 'memory_bench'
  let collector: ChildProcess | undefined
  try {
    const setup = await createServerStore({ url: clickhouse.url, database })
    await migrate(setup, { retentionDays: 0 })
    const { key } = await createApiKey(setup, 'bench')
    const plain = process.env.BENCH_NO_HEAP_LIMIT === '1'
    collector = spawn(plain ? process.execPath : CLI, plain ? [CLI, 'collector'] : ['collector'], {
      env: {
        ...process.env,
        CLICKHOUSE_URL: clickhouse.url,
        CLICKHOUSE_DATABASE: database,
        DAA_DATA_DIR: dataDir,
        DAA_PORT: '0',
        DAA_GRPC_PORT: '-1',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const child = collector
    const url = await new Promise<string>((resolve, reject) => {
      let seen = ''
      child.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString()
        const match = /listening on (http:\/\/\S+)/.exec(seen)
        if (match) resolve(match[1]!)
      })
      child.once('exit', (code) => reject(new Error(`collector exited with ${code}`)))
    })
    const bodies = Array.from({ length: REQUESTS }, (_, index) => body(index))
    const sentBytes = bodies.reduce((sum, entry) => sum + entry.text.length, 0)
    const expectedSpans = bodies.reduce((sum, entry) => sum + entry.spans, 0)
    const idleMb = rssMb(child.pid!, 'VmRSS')

    const statuses: number[] = []
    // Senders retry a 429 or 503 after its Retry-After, as the OTLP exporters do.
    await Promise.all(
      bodies.map(async (entry) => {
        for (;;) {
          const response = await fetch(`${url}/v1/traces`, {
            method: 'POST',
            body: entry.text,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          })
          statuses.push(response.status)
          await response.arrayBuffer()
          if (response.status !== 429 && response.status !== 503) return
          await new Promise((resolve) =>
            setTimeout(resolve, Number(response.headers.get('retry-after') ?? 1) * 1000),
          )
        }
      }),
    )
    // Stored once ClickHouse has every span (polled, the way a dashboard would see them).
    let stored = 0
    for (let attempt = 0; attempt < 600 && stored < expectedSpans; attempt++) {
      const [row] = await setup.query<{ n: number }>('SELECT count() AS n FROM spans FINAL')
      stored = row?.n ?? 0
      if (stored < expectedSpans) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const peakMb = rssMb(child.pid!, 'VmHWM')
    await setup.close()
    process.stdout.write(
      [
        `requests: ${REQUESTS} OTLP/JSON, ${(sentBytes / 1024 / 1024).toFixed(1)} MB in all, ${expectedSpans} spans`,
        `answers: ${statuses.join(' ')}`,
        `spans stored: ${stored} of ${expectedSpans}`,
        `collector RSS: idle ${idleMb.toFixed(0)} MB, peak ${peakMb.toFixed(0)} MB (${(peakMb / idleMb).toFixed(1)}x idle)`,
        '',
      ].join('\n'),
    )
  } finally {
    collector?.kill('SIGTERM')
    if (collector && collector.exitCode === null)
      await new Promise((resolve) => collector!.once('exit', resolve))
    await clickhouse.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
