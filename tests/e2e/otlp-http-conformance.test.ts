/**
 * Conformance table: every status the OTLP/HTTP endpoint can answer, each triggered for real
 * against a running collector and ClickHouse server.
 */
import { gzipSync } from 'node:zlib'
import { DEFAULT_RETENTION_DAYS } from '@daa/collector'
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeRpcStatus } from '../../collector/src/otlp/rpc-status.js'
import { recordAgentRun } from '../support/agent-spans.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, startTestCollector, UNTIL_STORED } from '../support/collector-harness.js'

let clickhouse: RunningClickHouse
let target: CollectorUnderTest

beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  target = await startTestCollector(clickhouse.url, { maxBodyMb: 1 })
})
afterAll(async () => {
  await target?.close()
  await clickhouse?.stop()
})

const protobufBody = () => ProtobufTraceSerializer.serializeRequest(recordAgentRun({ outcome: 'delivered' }))!
const jsonText = () => new TextDecoder().decode(JsonTraceSerializer.serializeRequest(recordAgentRun())!)

function post(body: string | Uint8Array, headers: Record<string, string>): Promise<Response> {
  return fetch(`${target.collector.url}/v1/traces`, { method: 'POST', body, headers })
}
const auth = () => ({ authorization: `Bearer ${target.apiKey}` })
const PROTOBUF = { 'content-type': 'application/x-protobuf' }
const JSON_TYPE = { 'content-type': 'application/json' }

/** A JSON request whose second span has a trace id of the wrong length, beside a valid one. */
function jsonWithOneBadSpan(): string {
  const request = JSON.parse(jsonText())
  const spans = request.resourceSpans[0].scopeSpans[0].spans
  spans[1].traceId = 'abc'
  return JSON.stringify(request)
}

interface Case {
  name: string
  send: () => Promise<Response>
  status: number
  message?: RegExp
  retryAfter?: boolean
}

const cases: Case[] = [
  { name: 'protobuf export', send: () => post(protobufBody(), { ...PROTOBUF, ...auth() }), status: 200 },
  { name: 'JSON export', send: () => post(jsonText(), { ...JSON_TYPE, ...auth() }), status: 200 },
  {
    name: 'gzip protobuf export',
    send: () => post(gzipSync(protobufBody()), { ...PROTOBUF, ...auth(), 'content-encoding': 'gzip' }),
    status: 200,
  },
  {
    name: 'malformed protobuf',
    send: () => post(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f, 1, 2]), { ...PROTOBUF, ...auth() }),
    status: 400,
  },
  {
    name: 'malformed JSON',
    send: () => post('{"resourceSpans": [', { ...JSON_TYPE, ...auth() }),
    status: 400,
  },
  {
    name: 'JSON of the wrong shape',
    send: () => post('{"resourceSpans": 7}', { ...JSON_TYPE, ...auth() }),
    status: 400,
  },
  {
    name: 'body that is not gzip although it says so',
    send: () => post(protobufBody(), { ...PROTOBUF, ...auth(), 'content-encoding': 'gzip' }),
    status: 400,
    message: /gzip/,
  },
  {
    name: 'missing API key',
    send: () => post(protobufBody(), PROTOBUF),
    status: 401,
    message: /Authorization/,
  },
  {
    name: 'API key without the Bearer scheme',
    send: () => post(protobufBody(), { ...PROTOBUF, authorization: 'daa_not-a-real-key' }),
    status: 401,
    message: /not "Bearer <key>"/,
  },
  {
    name: 'unknown API key',
    send: () => post(protobufBody(), { ...PROTOBUF, authorization: 'Bearer daa_not-a-real-key' }),
    status: 401,
    message: /Unknown/,
  },
  {
    name: 'body over the 1 MiB limit',
    send: () => post(new Uint8Array(1024 * 1024 + 1), { ...PROTOBUF, ...auth() }),
    status: 413,
  },
  {
    name: 'gzip bomb (small compressed, over the limit once inflated)',
    send: () =>
      post(gzipSync(new Uint8Array(64 * 1024 * 1024)), {
        ...PROTOBUF,
        ...auth(),
        'content-encoding': 'gzip',
      }),
    status: 413,
  },
  {
    name: 'unknown content type',
    send: () => post('hello', { 'content-type': 'text/plain', ...auth() }),
    status: 415,
    message: /Content-Type/,
  },
  {
    name: 'unknown content encoding',
    send: () => post(protobufBody(), { ...PROTOBUF, ...auth(), 'content-encoding': 'br' }),
    status: 415,
    message: /Content-Encoding/,
  },
]

describe('OTLP/HTTP status conformance', () => {
  it.each(cases)('$name → $status', async ({ send, status, message, retryAfter }) => {
    const response = await send()
    expect(response.status).toBe(status)
    const type = response.headers.get('content-type') ?? ''
    const bytes = new Uint8Array(await response.arrayBuffer())
    if (status !== 200) {
      // Error bodies are a google.rpc.Status in the request's encoding (in JSON for a content type
      // that is neither).
      const statusBody = type.includes('json')
        ? (JSON.parse(new TextDecoder().decode(bytes)) as { code?: number; message?: string })
        : decodeRpcStatus(bytes)
      // The code google.rpc's code.proto gives the HTTP status.
      expect(statusBody.code).toBe(({ 400: 3, 401: 16, 413: 8, 415: 3 } as Record<number, number>)[status])
      const text = statusBody.message ?? ''
      expect(text.length).toBeGreaterThan(0)
      if (message) expect(text).toMatch(message)
    }
    if (retryAfter) expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0)
  })

  it('counts every refusal by its status, as ops see it on /metrics', async () => {
    const counts = async () => {
      const scraped = await (await fetch(`${target.collector.url}/metrics`)).text()
      const counted = new Map<number, number>()
      for (const match of scraped.matchAll(
        /^daa_export_requests_total\{transport="http",status="(\d+)"\} (\d+)$/gm,
      ))
        counted.set(Number(match[1]), Number(match[2]))
      return counted
    }
    // Sent here, counted as differences: the test holds on its own, whatever ran before it.
    const before = await counts()
    for (const refusal of cases) if (refusal.status !== 200) await (await refusal.send()).arrayBuffer()
    const after = await counts()
    for (const status of new Set(cases.map((refusal) => refusal.status))) {
      if (status === 200) continue
      expect({ status, counted: (after.get(status) ?? 0) - (before.get(status) ?? 0) }).toEqual({
        status,
        counted: cases.filter((refusal) => refusal.status === status).length,
      })
    }
  })

  it('answers partial_success for invalid spans and stores the valid ones beside them', async () => {
    const response = await post(jsonWithOneBadSpan(), { ...JSON_TYPE, ...auth() })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('application/json')
    const body = (await response.json()) as {
      partialSuccess?: { rejectedSpans: number; errorMessage: string }
    }
    expect(body.partialSuccess?.rejectedSpans).toBe(1)
    expect(body.partialSuccess?.errorMessage).toMatch(/trace/i)
  })

  /** One recorded run as OTLP/JSON, with its spans laid open for a test to spoil. */
  const runAsJson = (agent: string, value?: number) => {
    const request = JSON.parse(
      new TextDecoder().decode(
        JsonTraceSerializer.serializeRequest(recordAgentRun({ agent, outcome: 'delivered', value }))!,
      ),
    )
    type JsonSpan = { name: string; attributes: { key: string; value: Record<string, unknown> }[] }
    const spans = request.resourceSpans[0].scopeSpans[0].spans as JsonSpan[]
    const spanNamed = (prefix: string) => spans.find((span) => span.name.startsWith(prefix))!
    const attribute = (span: JsonSpan, key: string) => span.attributes.find((each) => each.key === key)!
    return { request, spanNamed, attribute }
  }
  /** Posts it, expecting a 200 whose partial_success rejects nothing; returns its message. */
  const postKept = async (request: unknown) => {
    const response = await post(JSON.stringify(request), { ...JSON_TYPE, ...auth() })
    expect(response.status).toBe(200)
    const body = (await response.json()) as {
      partialSuccess?: { rejectedSpans?: number; errorMessage: string }
    }
    expect(body.partialSuccess?.rejectedSpans ?? 0).toBe(0)
    return body.partialSuccess?.errorMessage
  }
  /** The agent's leaderboard row, once stored (as the page reads it). */
  const leaderboardRowOf = (agent: string) => async () => {
    const answer = await fetch(`${target.collector.url}/api/v1/metrics/agent-leaderboard`, {
      headers: auth(),
    })
    const rows = ((await answer.json()) as { rows: Record<string, unknown>[] }).rows
    return rows.find((row) => row.agent_id === agent)
  }

  it('keeps a span whose cost or outcome value is not a usable number, and says so in partial_success', async () => {
    const { request, spanNamed, attribute } = runAsJson('nan-value-bot', 5)
    attribute(spanNamed('invoke_agent'), 'daa.outcome.value').value = { stringValue: 'lots' }
    spanNamed('chat').attributes.push({ key: 'daa.cost.usd', value: { doubleValue: -2 } })
    // A warning: nothing rejected, each unusable number named.
    const message = await postKept(request)
    expect(message).toContain(
      '1 span kept: daa.outcome.value "lots" is not a finite number, so the outcome\'s value is 0',
    )
    expect(message).toContain(
      '1 span kept: daa.cost.usd "-2" is not a number of 0 or more, so it was ignored',
    )
    // The run and its outcome are stored: delivered, with a value of 0 and no negative cost.
    await expect
      .poll(leaderboardRowOf('nan-value-bot'), UNTIL_STORED)
      .toMatchObject({ runs: 1, delivered_runs: 1, value: 0, cost_usd: 0 })
  })

  it('keeps a run whose daa.outcome is not a contract value, and says in partial_success why no outcome was counted', async () => {
    const { request, spanNamed, attribute } = runAsJson('capital-outcome-bot')
    // A hand-written sender's spelling: the contract's values are lower case.
    attribute(spanNamed('invoke_agent'), 'daa.outcome').value = { stringValue: 'Delivered' }
    expect(await postKept(request)).toContain(
      '1 span kept: daa.outcome "Delivered" is not one of delivered, partial, failed, abandoned (case-sensitive), so no outcome was recorded',
    )
    // The run counts, with no outcome.
    await expect
      .poll(leaderboardRowOf('capital-outcome-bot'), UNTIL_STORED)
      .toMatchObject({ runs: 1, delivered_runs: 0 })
  })

  it('refuses spans older than the retention with a reason, instead of acknowledging what the TTL deletes', async () => {
    const DAY_NS = 86_400_000_000_000n
    /** One run's OTLP/JSON resourceSpans, every time moved `days` into the past. */
    const runDaysAgo = (agent: string, days: number) => {
      const request = JSON.parse(
        new TextDecoder().decode(
          JsonTraceSerializer.serializeRequest(recordAgentRun({ agent, outcome: 'delivered' }))!,
        ),
      )
      for (const span of request.resourceSpans[0].scopeSpans[0].spans) {
        for (const field of ['startTimeUnixNano', 'endTimeUnixNano'])
          span[field] = String(BigInt(span[field]) - BigInt(days) * DAY_NS)
      }
      return request.resourceSpans[0]
    }
    // A new database keeps the default, which the collector then applies.
    const retention = target.config.retentionDays ?? DEFAULT_RETENTION_DAYS
    const response = await post(
      JSON.stringify({
        resourceSpans: [runDaysAgo('ancient-bot', retention + 100), runDaysAgo('recent-bot', 10)],
      }),
      { ...JSON_TYPE, ...auth() },
    )
    expect(response.status).toBe(200)
    const body = (await response.json()) as {
      partialSuccess?: { rejectedSpans: number; errorMessage: string }
    }
    // The old run's four spans, each named; the recent run beside them is taken.
    expect(body.partialSuccess?.rejectedSpans).toBe(4)
    expect(body.partialSuccess?.errorMessage).toContain(
      `4 spans rejected: started more than the retention of ${retention} days ago`,
    )
    const day = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10)
    const agents = async () => {
      const answer = await fetch(
        `${target.collector.url}/api/v1/metrics/agent-leaderboard?from=${day(12)}&to=${day(8)}`,
        { headers: auth() },
      )
      return ((await answer.json()) as { rows: { agent_id: string }[] }).rows.map((row) => row.agent_id)
    }
    await expect.poll(agents, UNTIL_STORED).toContain('recent-bot')
  })

  it('rejects alone a protobuf span whose name is not UTF-8, and stores the run beside it', async () => {
    const spans = recordAgentRun({ agent: 'utf8-bot', outcome: 'delivered' })
    const tool = spans.find((span) => span.name.startsWith('execute_tool'))!
    const body = Uint8Array.from(ProtobufTraceSerializer.serializeRequest(spans)!)
    // The tool span's name, made invalid UTF-8 in place (same length, so the framing holds).
    body[Buffer.from(body).indexOf(tool.name)] = 0xff
    const response = await post(body, { ...PROTOBUF, ...auth() })
    expect(response.status).toBe(200)
    const answer = ProtobufTraceSerializer.deserializeResponse(new Uint8Array(await response.arrayBuffer()))
    expect(Number(answer.partialSuccess?.rejectedSpans)).toBe(1)
    expect(answer.partialSuccess?.errorMessage).toMatch(/not valid UTF-8/)
    const leaderboard = async () => {
      const reply = await fetch(`${target.collector.url}/api/v1/metrics/agent-leaderboard`, {
        headers: auth(),
      })
      return ((await reply.json()) as { rows: Record<string, unknown>[] }).rows.find(
        (row) => row.agent_id === 'utf8-bot',
      )
    }
    await expect.poll(leaderboard, UNTIL_STORED).toMatchObject({ runs: 1, delivered_runs: 1 })
  })

  it('answers a protobuf request in protobuf', async () => {
    const response = await post(protobufBody(), { ...PROTOBUF, ...auth() })
    expect(response.headers.get('content-type')).toBe('application/x-protobuf')
  })
})
