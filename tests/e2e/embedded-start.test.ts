/**
 * `npm start` on the embedded default: a first start creates a key for project `default` (kept
 * beside the data, readable by its owner only), spans sent with it are stored, and a restart over
 * the same directory shows the same key.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, startCollectorServer } from '@daa/collector'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { afterAll, describe, expect, it } from 'vitest'
import { recordAgentRun } from '../support/agent-spans.js'

const dataDir = mkdtempSync(join(tmpdir(), 'daa-embedded-start-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

const config = () => loadConfig({ host: '127.0.0.1', port: 0, grpcPort: -1, dataDir }, {})

describe('embedded start', () => {
  it('hands out a local key on first start, which works and survives a restart', async () => {
    const first = await startCollectorServer(config())
    const key = first.localApiKey
    expect(key).toMatch(/^daa_[A-Za-z0-9_-]{20,}$/)
    const keyFile = join(dataDir, 'default-api-key')
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(key)
    expect(statSync(keyFile).mode & 0o777).toBe(0o600)
    // Only its owner may enter the data directory; only this start prints the key.
    expect(statSync(dataDir).mode & 0o777).toBe(0o700)
    expect(first.localApiKeyCreated).toBe(true)
    const response = await fetch(`${first.url}/v1/traces`, {
      method: 'POST',
      body: ProtobufTraceSerializer.serializeRequest(
        recordAgentRun({ agent: 'local-bot', outcome: 'delivered' }),
      )!,
      headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${key}` },
    })
    expect(response.status).toBe(200)
    await first.flush()
    const rows = await first.store.query('SELECT project_id, agent_id FROM runs FINAL')
    expect(rows).toEqual([{ project_id: 'default', agent_id: 'local-bot' }])
    await first.close()

    const second = await startCollectorServer(config())
    expect(second.localApiKey).toBe(key)
    expect(second.localApiKeyCreated).toBe(false)
    const [keys] = await second.store.query<{ n: number }>('SELECT count() AS n FROM api_keys FINAL')
    expect(keys?.n).toBe(1)
    await second.close()
  })

  it('shows the key on the next start when the first failed before listening (its port taken)', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'daa-embedded-taken-'))
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = taken.address() as AddressInfo
      const on = (port: number) => loadConfig({ host: '127.0.0.1', port, grpcPort: -1, dataDir: fresh }, {})
      await expect(startCollectorServer(on(port))).rejects.toThrow(/already in use/)
      const retried = await startCollectorServer(on(0))
      expect(retried.localApiKeyCreated).toBe(true)
      const key = retried.localApiKey
      await retried.close()
      const later = await startCollectorServer(on(0))
      expect(later.localApiKey).toBe(key)
      expect(later.localApiKeyCreated).toBe(false)
      await later.close()
    } finally {
      taken.close()
      rmSync(fresh, { recursive: true, force: true })
    }
  })
})
