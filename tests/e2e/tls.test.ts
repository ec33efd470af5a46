/**
 * TLS: given a certificate and key, the collector serves HTTPS and OTLP/gRPC over TLS only. The
 * certificate is self-signed, made here with openssl; the senders are the official exporters,
 * trusting exactly that certificate.
 */
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { credentials, Metadata } from '@grpc/grpc-js'
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc'
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordAgentRun } from '../support/agent-spans.js'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, startTestCollector, UNTIL_STORED } from '../support/collector-harness.js'

let clickhouse: RunningClickHouse
let target: CollectorUnderTest
let certDir: string
let ca: Buffer

beforeAll(async () => {
  certDir = mkdtempSync(join(tmpdir(), 'daa-tls-'))
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      join(certDir, 'key.pem'),
      '-out',
      join(certDir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  )
  ca = readFileSync(join(certDir, 'cert.pem'))
  clickhouse = await startClickHouseServer()
  target = await startTestCollector(clickhouse.url, {
    tlsCert: join(certDir, 'cert.pem'),
    tlsKey: join(certDir, 'key.pem'),
  })
})
afterAll(async () => {
  await target?.close()
  await clickhouse?.stop()
  rmSync(certDir, { recursive: true, force: true })
})

function exportSpans(
  exporter: SpanExporter,
  spans: ReadableSpan[],
): Promise<{ code: number; error?: Error }> {
  return new Promise((resolve) => exporter.export(spans, resolve))
}

async function runsOf(agent: string): Promise<number> {
  const [row] = await target.collector.store.query<{ n: number }>(
    'SELECT count() AS n FROM runs FINAL WHERE agent_id = {agent:String}',
    { agent },
  )
  return row?.n ?? 0
}

function httpsGet(url: string, options: { ca?: Buffer }): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { ca: options.ca }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
      .on('error', reject)
      .end()
  })
}

describe('TLS', () => {
  it('serves HTTPS with the given certificate, and nothing in plaintext', async () => {
    expect(target.collector.url).toMatch(/^https:\/\//)
    expect(await httpsGet(`${target.collector.url}/healthz`, { ca })).toBe(200)
    // A client that does not trust the certificate is refused by its own TLS check.
    await expect(httpsGet(`${target.collector.url}/healthz`, {})).rejects.toThrow(/self.signed|certificate/i)
    const plain = target.collector.url.replace('https://', 'http://')
    await expect(fetch(`${plain}/healthz`)).rejects.toThrow()
  })

  it('takes OTLP/HTTP from the official exporter over TLS', async () => {
    const exporter = new ProtoExporter({
      url: `${target.collector.url}/v1/traces`,
      headers: { authorization: `Bearer ${target.apiKey}` },
      httpAgentOptions: { ca },
    })
    const result = await exportSpans(exporter, recordAgentRun({ agent: 'over-https', outcome: 'delivered' }))
    await exporter.shutdown()
    expect(result.error).toBeUndefined()
    expect(result.code).toBe(0)
    // The collector writes the run on its own: ask again, as a user would, until it is in.
    await expect.poll(() => runsOf('over-https'), UNTIL_STORED).toBeGreaterThan(0)
    expect(await runsOf('over-https')).toBe(1)
  })

  it('takes OTLP/gRPC from the official exporter over TLS, and refuses plaintext gRPC', async () => {
    const metadata = new Metadata()
    metadata.set('authorization', `Bearer ${target.apiKey}`)
    // Plaintext first: the run sent over TLS after it then shows when the collector has written past it.
    const insecure = new GrpcExporter({
      url: `http://127.0.0.1:${target.collector.grpcPort}`,
      metadata,
      credentials: credentials.createInsecure(),
      timeoutMillis: 3000,
    })
    const refused = await exportSpans(insecure, recordAgentRun({ agent: 'plaintext-grpc' }))
    await insecure.shutdown()
    expect(refused.code).not.toBe(0)

    const secure = new GrpcExporter({
      url: `https://localhost:${target.collector.grpcPort}`,
      metadata,
      credentials: credentials.createSsl(ca),
    })
    const result = await exportSpans(secure, recordAgentRun({ agent: 'over-grpc-tls', outcome: 'delivered' }))
    await secure.shutdown()
    expect(result.error).toBeUndefined()
    expect(result.code).toBe(0)
    // Ask again, as a user would, until the run sent over TLS is in; only then is an absence telling.
    await expect.poll(() => runsOf('over-grpc-tls'), UNTIL_STORED).toBeGreaterThan(0)
    expect(await runsOf('over-grpc-tls')).toBe(1)
    expect(await runsOf('plaintext-grpc')).toBe(0)
  })
})

describe('the daa CLI beside a collector serving TLS', () => {
  const DAA = fileURLToPath(new URL('../../collector/bin/daa.js', import.meta.url))
  const daa = (env: Record<string, string> = {}) =>
    promisify(execFile)(DAA, ['keys', 'list', '--data-dir', target.dataDir], {
      env: { ...process.env, ...env },
    })

  it('says the certificate is not trusted and how to trust it, then works through the collector once it is', async () => {
    const untrusted = await daa().catch((error: { code: number; stderr: string }) => error)
    expect(untrusted).toMatchObject({ code: 1 })
    expect((untrusted as { stderr: string }).stderr).toMatch(
      /serves https:\/\/\S+ with a certificate this command does not trust .*set NODE_EXTRA_CA_CERTS/,
    )
    const trusted = await daa({ NODE_EXTRA_CA_CERTS: join(certDir, 'cert.pem') })
    expect(trusted.stdout).toMatch(/acme\s+tests\s+/)
  })
})
