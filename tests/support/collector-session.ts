import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Collector, createApiKey, createCollector, type Store } from '@daa/collector'
import type { ReadableSpan } from '@opentelemetry/sdk-trace'
import { expect } from 'vitest'
import { protobufExport } from './collector-harness.js'

export interface CollectorSession {
  collector: Collector
  /** An API key of the session's project. */
  key: string
  /** Posts spans as one OTLP/protobuf request, expects 200, and waits until they are stored. */
  send(spans: ReadableSpan[]): Promise<void>
  /** The rows of saved query `name` from the metrics API, as a dashboard reads them (`query`: its parameters). */
  rows(name: string, query: string): Promise<Record<string, unknown>[]>
}

/**
 * Runs `use` with a collector on `store` (its refresher on, every 100 ms, as deployed but faster)
 * and an API key of `project`, then shuts the collector down and removes its write-ahead log.
 */
export async function withCollector<T>(
  store: Store,
  use: (session: CollectorSession) => Promise<T>,
  project = 'p',
): Promise<T> {
  const walDir = mkdtempSync(join(tmpdir(), 'daa-session-'))
  const collector = await createCollector({ store, walDir, rollupIntervalMs: 100 })
  try {
    const { key } = await createApiKey(store, project, 'session')
    const send = async (spans: ReadableSpan[]) => {
      const response = await collector.app.request('/v1/traces', protobufExport(spans, key))
      expect(response.status).toBe(200)
      await collector.flush()
    }
    const rows = async (name: string, query: string) => {
      const response = await collector.app.request(`/api/v1/metrics/${name}?${query}`, {
        headers: { authorization: `Bearer ${key}` },
      })
      expect(response.status).toBe(200)
      return ((await response.json()) as { rows: Record<string, unknown>[] }).rows
    }
    return await use({ collector, key, send, rows })
  } finally {
    await collector.shutdown()
    rmSync(walDir, { recursive: true, force: true })
  }
}
