/**
 * Starts a real collector (HTTP + gRPC listeners on loopback) over a fresh database in a real
 * ClickHouse server, with an API key for one project. Each call gets its own database and spool.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type CollectorConfig,
  createApiKey,
  loadConfig,
  type RunningCollector,
  startCollectorServer,
} from '@daa/collector'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import type { ReadableSpan } from '@opentelemetry/sdk-trace'
import { freshDatabaseName } from '../contract/store-contract.js'

export interface CollectorUnderTest {
  collector: RunningCollector
  /** An API key of `projectId`. */
  apiKey: string
  projectId: string
  dataDir: string
  config: CollectorConfig
  close(): Promise<void>
}

export async function startTestCollector(
  clickhouseUrl: string,
  overrides: Partial<Record<keyof CollectorConfig, unknown>> = {},
): Promise<CollectorUnderTest> {
  const dataDir = mkdtempSync(join(tmpdir(), 'daa-collector-'))
  const config = loadConfig(
    {
      host: '127.0.0.1',
      port: 0,
      grpcPort: 0,
      dataDir,
      clickhouseUrl,
      clickhouseDatabase: freshDatabaseName(),
      flushIntervalMs: 50,
      ...overrides,
    },
    {},
  )
  const collector = await startCollectorServer(config)
  const projectId = 'acme'
  const { key } = await createApiKey(collector.store, projectId, 'tests')
  return {
    collector,
    apiKey: key,
    projectId,
    dataDir,
    config,
    async close() {
      // The collector first (its metrics refresher may be mid-refresh), then its database.
      await collector.close()
      await fetch(
        `${clickhouseUrl}/?query=${encodeURIComponent(`DROP DATABASE IF EXISTS ${config.clickhouseDatabase}`)}`,
        { method: 'POST' },
      ).catch(() => {})
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Spans as one OTLP/protobuf export request with `apiKey`, for `fetch` or `app.request`. */
export function protobufExport(spans: ReadableSpan[], apiKey: string): RequestInit {
  return {
    method: 'POST',
    body: ProtobufTraceSerializer.serializeRequest(spans)!,
    headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${apiKey}` },
  }
}

/** Posts spans to the collector as one OTLP/protobuf request, with the project's key unless told otherwise. */
export function postSpans(
  target: CollectorUnderTest,
  spans: ReadableSpan[],
  apiKey: string = target.apiKey,
): Promise<Response> {
  return fetch(`${target.collector.url}/v1/traces`, protobufExport(spans, apiKey))
}

/**
 * How long and how often a test asks again for data the collector writes on its own, as a user or a
 * dashboard would (`expect.poll(read, UNTIL_STORED)`): generous, since rows reach ClickHouse within
 * about a flush interval, yet inside the 60 s test timeout, so that data that never comes is
 * reported as a failed wait.
 */
export const UNTIL_STORED = { timeout: 30_000, interval: 100 } as const

/** A value the collector reports on /metrics, as an operator's scraper reads it; NaN when it reports none. */
export async function metricValue(target: CollectorUnderTest, name: string): Promise<number> {
  const text = await (await fetch(`${target.collector.url}/metrics`)).text()
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `))
  return Number(line?.split(' ')[1] ?? Number.NaN)
}
