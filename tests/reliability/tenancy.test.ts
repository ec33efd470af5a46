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
  // The dashboard page and its assets: static files, no data of anyone's (404 when not built).
  '/': ['/'],
  '/assets/*': ['/assets/index.js'],
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
      // Admin routes (registered only with an admin credential) take no project key: checked below.
      const probe = await createCollector({ store, walDir, rollupIntervalMs: 0 })
      const routes = (method: string) =>
        probe.app.routes.filter((route) => route.method === method).map((route) => route.path)
      await probe.shutdown()
      for (const route of routes('GET')) expect(Object.keys(GET_ROUTES)).toContain(route)
      // The other reads: several saved queries in one POST (checked below), and OTLP, which writes.
      for (const route of routes('POST')) expect(['/api/v1/metrics', '/v1/traces']).toContain(route)
    } finally {
      rmSync(walDir, { recursive: true, force: true })
    }
  })

  it('shows nothing of B on any read endpoint, in JSON or CSV', async () => {
    for (const [route, paths] of Object.entries(GET_ROUTES)) {
      for (const path of paths) {
        const response = await asA(path)
        if (route === '/' || route === '/assets/*') expect([200, 404], path).toContain(response.status)
        else expect(response.status, path).toBe(200)
        expectNothingOfB(await response.text())
      }
    }
    // Every saved query in one POST, as the page asks for them.
    const batch = await fetch(`${target.collector.url}/api/v1/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keyA}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        queries: describeSavedQueries().map((query) => ({
          name: query.name,
          params: Object.fromEntries(new URLSearchParams(range)),
        })),
      }),
    })
    expect(batch.status).toBe(200)
    const lines = (await batch.text()).trimEnd().split('\n')
    expect(lines).toHaveLength(describeSavedQueries().length)
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty('result')
    expectNothingOfB(lines.join('\n'))
    // A project key opens no admin route (they take the collector's admin credential).
    for (const [method, path] of [
      ['GET', '/admin/v1/keys'],
      ['GET', `/admin/v1/keys?project=${B}`],
      ['GET', `/admin/v1/metrics/daa?project=${B}&${range}`],
      ['POST', '/admin/v1/keys'],
      ['DELETE', `/admin/v1/keys/${keyB}`],
      ['POST', `/admin/v1/import?project=${B}`],
    ] as const) {
      const response = await fetch(`${target.collector.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${keyA}`, 'content-type': 'application/json' },
        ...(method === 'POST' ? { body: JSON.stringify({ project: B }) } : {}),
      })
      expect(response.status, `${method} ${path}`).toBe(401)
      expectNothingOfB((await response.text()).replaceAll(B, ''))
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
    // Nor inside a POST's parameters: that query's line is the GET's 400.
    const batch = await fetch(`${target.collector.url}/api/v1/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keyA}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        queries: [{ name: 'daa', params: { ...Object.fromEntries(new URLSearchParams(range)), project: B } }],
      }),
    })
    const line = JSON.parse(await batch.text()) as { status: number; error: { message: string } }
    expect(line.status).toBe(400)
    expect(line.error.message).toContain('the project comes from the API key')
    expectNothingOfB(JSON.stringify(line))
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
