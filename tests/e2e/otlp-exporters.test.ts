/**
 * The official OpenTelemetry JS exporters (OTLP/HTTP protobuf, OTLP/HTTP JSON, OTLP/gRPC) send
 * to a running collector backed by a real ClickHouse server, and the rows come out right.
 */

import { Metadata } from '@grpc/grpc-js'
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc'
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordAgentRun } from '../support/agent-spans.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import {
  type CollectorUnderTest,
  metricValue,
  startTestCollector,
  UNTIL_STORED,
} from '../support/collector-harness.js'

let clickhouse: RunningClickHouse
let target: CollectorUnderTest

beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  target = await startTestCollector(clickhouse.url)
})
afterAll(async () => {
  await target?.close()
  await clickhouse?.stop()
})

function exportSpans(
  exporter: SpanExporter,
  spans: ReadableSpan[],
): Promise<{ code: number; error?: Error }> {
  return new Promise((resolve) => exporter.export(spans, resolve))
}

const exporters: Array<[string, () => SpanExporter]> = [
  [
    'OTLP/HTTP protobuf',
    () =>
      new ProtoExporter({
        url: `${target.collector.url}/v1/traces`,
        headers: { authorization: `Bearer ${target.apiKey}` },
      }),
  ],
  [
    'OTLP/HTTP JSON',
    () =>
      new JsonExporter({
        url: `${target.collector.url}/v1/traces`,
        headers: { authorization: `Bearer ${target.apiKey}` },
      }),
  ],
  [
    'OTLP/HTTP protobuf, gzip',
    () =>
      new ProtoExporter({
        url: `${target.collector.url}/v1/traces`,
        headers: { authorization: `Bearer ${target.apiKey}` },
        compression: 'gzip' as never,
      }),
  ],
  [
    'OTLP/gRPC',
    () => {
      const metadata = new Metadata()
      metadata.set('authorization', `Bearer ${target.apiKey}`)
      return new GrpcExporter({ url: `http://127.0.0.1:${target.collector.grpcPort}`, metadata })
    },
  ],
]

describe.each(exporters)('%s exporter', (_name, makeExporter) => {
  it('delivers a run whose rows come out right in ClickHouse', async () => {
    const agent = `agent-${Math.random().toString(36).slice(2, 8)}`
    const spans = recordAgentRun({ agent, user: 'u-7', outcome: 'delivered', value: 12.5 })
    const exporter = makeExporter()
    const result = await exportSpans(exporter, spans)
    await exporter.shutdown()
    expect(result.error).toBeUndefined()
    expect(result.code).toBe(0)

    const store = target.collector.store
    const runSpan = spans.find((span) => span.name.startsWith('invoke_agent'))!
    const runId = runSpan.spanContext().spanId
    const readRuns = () =>
      store.query(
        'SELECT project_id, agent_id, agent_version, user_id, conversation_id, service_name FROM runs FINAL WHERE run_id = {runId:String}',
        { runId },
      )
    const readOutcomes = () =>
      store.query('SELECT status, value, unit FROM outcomes FINAL WHERE run_id = {runId:String}', {
        runId,
      })
    const readUsage = () =>
      store.query<Record<string, number>>(
        `SELECT count() AS spans,
                countIf(operation = 'chat') AS llm_calls,
                countIf(operation = 'execute_tool') AS tool_calls,
                sum(input_tokens) AS input_tokens,
                sum(output_tokens) AS output_tokens
         FROM spans FINAL WHERE run_id = {runId:String} AND project_id = {project:String}`,
        { runId, project: target.projectId },
      )
    // The collector writes the run on its own: ask again, as a user would, until its rows are in.
    // Its run, outcome and spans are written side by side, so each is waited for.
    await expect.poll(readRuns, UNTIL_STORED).not.toHaveLength(0)
    await expect.poll(readOutcomes, UNTIL_STORED).not.toHaveLength(0)
    await expect.poll(async () => (await readUsage())[0]?.spans, UNTIL_STORED).toBeGreaterThan(0)

    const runs = await readRuns()
    expect(runs).toEqual([
      {
        project_id: target.projectId,
        agent_id: agent,
        agent_version: '1.4.0',
        user_id: 'u-7',
        conversation_id: 'conv-7',
        service_name: 'support-service',
      },
    ])
    const outcomes = await readOutcomes()
    expect(outcomes).toEqual([{ status: 'delivered', value: 12.5, unit: 'USD' }])
    const [usage] = await readUsage()
    expect(usage).toEqual({ spans: 4, llm_calls: 2, tool_calls: 1, input_tokens: 2000, output_tokens: 450 })
  })
})

describe('retries', () => {
  it('counts a batch sent twice only once', async () => {
    const spans = recordAgentRun({ agent: 'retry-bot', outcome: 'failed' })
    const exporter = exporters[0]![1]()
    expect((await exportSpans(exporter, spans)).code).toBe(0)
    expect((await exportSpans(exporter, spans)).code).toBe(0)
    await exporter.shutdown()
    // Both sends were acknowledged, so both are in the collector's log, and a second copy could only
    // show once both are in ClickHouse. Wait for that as an operator would, on /metrics: the collector
    // deletes a log segment once ClickHouse has every row of it, so an empty log means both are in.
    await expect.poll(() => metricValue(target, 'daa_wal_segments'), UNTIL_STORED).toBe(0)
    const store = target.collector.store
    const [row] = await store.query<{ runs: number; spans: number; outcomes: number }>(
      `SELECT
         (SELECT count() FROM runs FINAL WHERE agent_id = 'retry-bot') AS runs,
         (SELECT count() FROM spans FINAL WHERE agent_id = 'retry-bot' OR run_id IN (SELECT run_id FROM runs WHERE agent_id = 'retry-bot')) AS spans,
         (SELECT count() FROM outcomes FINAL WHERE run_id IN (SELECT run_id FROM runs WHERE agent_id = 'retry-bot')) AS outcomes`,
    )
    expect(row).toEqual({ runs: 1, spans: 4, outcomes: 1 })
  })
})
