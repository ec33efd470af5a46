/**
 * A collector writing to a two-shard ClickHouse cluster (Distributed tables, no Keeper): runs and
 * their late-arriving children land on the shards and come back whole, attributed and counted by
 * the metrics without anyone calling a refresh. (Two collectors and every saved query on this
 * cluster: tests/golden/golden-cluster.test.ts.)
 */
import { context, trace } from '@opentelemetry/api'
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordAgentRun } from '../support/agent-spans.js'
import { type RunningClickHouseCluster, startClickHouseCluster } from '../support/clickhouse-cluster.js'
import { type CollectorUnderTest, postSpans, startTestCollector } from '../support/collector-harness.js'

let cluster: RunningClickHouseCluster
let target: CollectorUnderTest

beforeAll(async () => {
  cluster = await startClickHouseCluster({ shards: 2 })
  target = await startTestCollector(cluster.nodes[0]!.url, {
    clickhouseCluster: cluster.clusterName,
    clickhouseClusterReplicated: 'false',
    clickhouseClusterNodes: cluster.nodes.map((node) => node.url).join(','),
  })
})
afterAll(async () => {
  // The collector first (its refresher reads every shard), then its database on the other nodes.
  await target?.close()
  for (const node of cluster?.nodes.slice(1) ?? []) {
    await fetch(
      `${node.url}/?query=${encodeURIComponent(`DROP DATABASE IF EXISTS ${target?.config.clickhouseDatabase}`)}`,
      { method: 'POST' },
    ).catch(() => {})
  }
  await cluster?.stop()
})

async function send(spans: ReadableSpan[]): Promise<void> {
  expect((await postSpans(target, spans)).status).toBe(200)
}

/** Polls `read` until it returns `wanted` (deep equality); fails after two minutes. */
async function eventually<T>(read: () => Promise<T>, wanted: T): Promise<void> {
  const deadline = Date.now() + 120_000
  let last = await read()
  while (JSON.stringify(last) !== JSON.stringify(wanted) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    last = await read()
  }
  expect(last).toEqual(wanted)
}

describe('collector on a two-shard cluster', () => {
  it('stores runs across both shards and reads them back whole', async () => {
    const runs = Array.from({ length: 40 }, (_, index) =>
      recordAgentRun({ agent: `agent-${index % 8}`, outcome: 'delivered', value: 1 }),
    )
    await send(runs.flat())
    const store = target.collector.store
    await eventually(
      async () =>
        (
          await store.query<{ runs: number; spans: number }>(
            'SELECT (SELECT count() FROM runs FINAL) AS runs, (SELECT count() FROM spans FINAL) AS spans',
          )
        )[0],
      { runs: 40, spans: 160 },
    )
    // The metrics API counts them (rollups kept on the cluster by the collector's own refresher).
    const today = new Date().toISOString().slice(0, 10)
    await eventually(
      async () => {
        const response = await fetch(`${target.collector.url}/api/v1/metrics/daa?from=${today}&to=${today}`, {
          headers: { authorization: `Bearer ${target.apiKey}` },
        })
        const [row] = ((await response.json()) as { rows: Record<string, number>[] }).rows
        return { daa: row?.daa, runs: row?.runs, delivered_runs: row?.delivered_runs }
      },
      { daa: 8, runs: 40, delivered_runs: 40 },
    )
    const perShard = await Promise.all(
      cluster.nodes.map(async (node) => {
        const response = await fetch(
          `${node.url}/?database=${target.config.clickhouseDatabase}&query=${encodeURIComponent('SELECT count() FROM spans_local')}`,
        )
        return Number((await response.text()).trim())
      }),
    )
    expect(perShard.every((count) => count > 0)).toBe(true)
  })

  it('attributes a child that arrived before its run, on the shard they share', async () => {
    const exporter = new InMemorySpanExporter()
    const tracer = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer(
      'plain',
    )
    const run = tracer.startSpan('invoke_agent late', {
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'late' },
    })
    const chat = tracer.startSpan(
      'chat',
      { attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 7 } },
      trace.setSpan(context.active(), run),
    )
    chat.end()
    run.end()
    const [chatSpan, runSpan] = exporter.getFinishedSpans()
    const runIdOfChat = () =>
      target.collector.store.query<{ run_id: string }>(
        'SELECT run_id FROM spans FINAL WHERE span_id = {span:String}',
        { span: chatSpan!.spanContext().spanId },
      )
    await send([chatSpan!])
    await eventually(runIdOfChat, [{ run_id: '' }])
    await send([runSpan!])
    await eventually(runIdOfChat, [{ run_id: runSpan!.spanContext().spanId }])
  })
})
