/**
 * Tenancy: every endpoint is called with project A's key while project B has data. Nothing of
 * B is visible to A, and nothing A sends lands in B, whatever A writes in its spans.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApiKey, createCollector, describeSavedQueries } from '@daa/collector'
import { Metadata } from '@grpc/grpc-js'
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc'
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordAgentRun } from '../support/agent-spans.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, startTestCollector } from '../support/collector-harness.js'
import { expectedTotals, makeFleetRequests } from './fleet.js'
import { countSpans, eventually, expectedLeaderboard, leaderboard, sendUntilAcknowledged } from './support.js'

const B = 'beta-corp'
let clickhouse: RunningClickHouse
let target: CollectorUnderTest
let keyA: string
let keyB: string
const fleetA = makeFleetRequests(6, { agents: 4, prefix: 'alpha-agent' })
const fleetB = makeFleetRequests(6, { agents: 4, prefix: 'beta-agent' })
const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10)
const range = `from=${day(-1)}&to=${day(1)}`

beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  target = await startTestCollector(clickhouse.url, { rollupIntervalMs: 500 })
  keyA = target.apiKey
  keyB = (await createApiKey(target.collector.store, B, 'tenancy')).key
  for (const request of fleetA) await sendUntilAcknowledged(() => target.collector.url, keyA, request.body)
  for (const request of fleetB) await sendUntilAcknowledged(() => target.collector.url, keyB, request.body)
  await eventually(async () =>
    expect(await leaderboard(target.collector.url, keyB)).toEqual(
      expectedLeaderboard(expectedTotals(fleetB)),
    ),
  )
})
afterAll(async () => {
  await target?.close()
  await clickhouse?.stop()
})

/** Nothing of B: neither its agent ids nor its project name. */
function expectNothingOfB(text: string) {
  expect(text).not.toContain('beta-agent')
  expect(text).not.toContain(B)
}

const asA = (path: string) =>
  fetch(`${target.collector.url}${path}`, { headers: { authorization: `Bearer ${keyA}` } })

/** Every GET route the collector serves, with how this test calls it. */
const GET_ROUTES: Record<string, string[]> = {
  '/healthz': ['/healthz'],
  '/readyz': ['/readyz'],
  '/metrics': ['/metrics'],
  '/api/v1/metrics': ['/api/v1/metrics'],
  '/api/v1/metrics/:name': describeSavedQueries().flatMap((query) => [
    `/api/v1/metrics/${query.name}?${range}`,
    `/api/v1/metrics/${query.name}?${range}&format=csv`,
  ]),
}

describe("project A's key against project B's data", () => {
  it('covers every GET route the collector has', async () => {
    const store = target.collector.store
    const walDir = mkdtempSync(join(tmpdir(), 'daa-tenancy-wal-'))
    try {
      const probe = await createCollector({ store, walDir, rollupIntervalMs: 0 })
      const routes = probe.app.routes.filter((route) => route.method === 'GET').map((route) => route.path)
      await probe.shutdown()
      for (const route of routes) expect(Object.keys(GET_ROUTES)).toContain(route)
    } finally {
      rmSync(walDir, { recursive: true, force: true })
    }
  })

  it('shows nothing of B on any read endpoint, in JSON or CSV', async () => {
    for (const paths of Object.values(GET_ROUTES)) {
      for (const path of paths) {
        const response = await asA(path)
        expect(response.status, path).toBe(200)
        expectNothingOfB(await response.text())
      }
    }
    // Asking for one of B's agents by name answers as for an agent that never existed.
    for (const query of describeSavedQueries()) {
      const rowsFor = async (agent: string) => {
        const response = await asA(`/api/v1/metrics/${query.name}?${range}&agent=${agent}`)
        expect(response.status).toBe(200)
        return ((await response.json()) as { rows: unknown[] }).rows
      }
      expect(await rowsFor('beta-agent-000'), query.name).toEqual(await rowsFor('no-such-agent'))
    }
    // A's own numbers are A's alone.
    expect(await leaderboard(target.collector.url, keyA)).toEqual(expectedLeaderboard(expectedTotals(fleetA)))
  })

  it('refuses to be pointed at B by a parameter', async () => {
    const response = await asA(`/api/v1/metrics/daa?${range}&project=${B}`)
    expect(response.status).toBe(400)
    expectNothingOfB(JSON.stringify((await response.json()) as object).replace(`"${B}"`, ''))
  })

  it('writes into A only, over OTLP/HTTP (protobuf and JSON) and OTLP/gRPC, whatever the spans claim', async () => {
    const spoofed = () =>
      recordAgentRun({ agent: 'spoofing-agent', outcome: 'delivered' }).map((span) => {
        Object.assign(span.attributes, { 'daa.project.id': B, 'project.id': B, tenant: B })
        return span
      })
    const json = await fetch(`${target.collector.url}/v1/traces`, {
      method: 'POST',
      body: JsonTraceSerializer.serializeRequest(spoofed()),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keyA}` },
    })
    expect(json.status).toBe(200)
    const { ProtobufTraceSerializer } = await import('@opentelemetry/otlp-transformer')
    await sendUntilAcknowledged(
      () => target.collector.url,
      keyA,
      ProtobufTraceSerializer.serializeRequest(spoofed())!,
    )
    const metadata = new Metadata()
    metadata.set('authorization', `Bearer ${keyA}`)
    const exporter = new GrpcExporter({ url: `http://127.0.0.1:${target.collector.grpcPort}`, metadata })
    const result = await new Promise<{ code: number }>((resolve) => exporter.export(spoofed(), resolve))
    await exporter.shutdown()
    expect(result.code).toBe(0)

    const a = expectedTotals(fleetA)
    await eventually(async () =>
      expect((await leaderboard(target.collector.url, keyA)).get('spoofing-agent')).toEqual({
        runs: 3,
        delivered: 3,
      }),
    )
    // B is exactly what B sent: nothing more.
    expect(await leaderboard(target.collector.url, keyB)).toEqual(expectedLeaderboard(expectedTotals(fleetB)))
    expect(await countSpans(target.collector.store, B)).toBe(expectedTotals(fleetB).spans)
    expect(await countSpans(target.collector.store, target.projectId)).toBe(a.spans + 3 * 4)
  })
})
