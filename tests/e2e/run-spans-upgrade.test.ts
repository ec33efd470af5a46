/**
 * A database made by an earlier release (schema version 11) is upgraded in place by migration 12,
 * which adds `run_spans`: a refresh now recomputes a run's facts from its spans sorted by run instead
 * of from `spans`. A run stored before the upgrade keeps every span it had: a later change to it
 * (here a late tool call, sent after the upgrade) recomputes its facts with the LLM call stored
 * before, which the migration copied in. Sent through a collector and read from the metrics API.
 */
import { migrate } from '@daa/collector'
import { expect, it } from 'vitest'
import type { GoldenCall, GoldenRun } from '../golden/golden-dataset.js'
import { callSpan, runSpan } from '../golden/golden-otlp.js'
import { withCollector } from '../support/collector-session.js'
import { useUpgradeDatabases } from '../support/upgrade-databases.js'

const databases = useUpgradeDatabases('run_spans')

const now = BigInt(Date.now()) * 1_000_000n
const today = new Date().toISOString().slice(0, 10)

const run: GoldenRun = {
  project: 'p',
  runId: 'cafe000000000001',
  traceId: 'cafe0000000000000000000000000001',
  parentRunId: '',
  agentId: 'upgraded-agent',
  userId: '',
  startNs: now,
  durationNs: 5_000_000,
  statusError: false,
  ownCostUsd: 0,
  calls: [],
  outcomes: [],
  runArrivesLate: false,
}

const call = (spanId: string, kind: 'llm' | 'tool', costUsd: number, inputTokens: number): GoldenCall => ({
  spanId,
  kind,
  startNs: now + 1_000n,
  durationNs: 1_000_000,
  costUsd,
  inputTokens,
  outputTokens: kind === 'llm' ? 100 : 0,
  cacheReadTokens: 0,
  reasoningTokens: 0,
  failed: false,
  attributedLate: false,
})

const facts = async (rows: (name: string, query: string) => Promise<Record<string, unknown>[]>) =>
  (await rows('recent-runs', `from=${today}&to=${today}&tz=UTC&agent=${run.agentId}`)).map(
    ({ run_id, cost_usd, total_tokens, llm_calls, tool_calls }) => ({
      run_id,
      cost_usd,
      total_tokens,
      llm_calls,
      tool_calls,
    }),
  )

it('recomputes a run stored before the upgrade with the spans it had, after a late change', async () => {
  const { upgraded } = databases
  await migrate(upgraded, { retentionDays: 0 })
  // The run and its LLM call, stored and counted before the upgrade.
  await withCollector(upgraded, async ({ send, rows }) => {
    await send([runSpan(run), callSpan(run, call('cafe0000000000c1', 'llm', 0.5, 900))])
    await expect
      .poll(() => facts(rows), { timeout: 30_000, interval: 100 })
      .toEqual([{ run_id: run.runId, cost_usd: 0.5, total_tokens: 1000, llm_calls: 1, tool_calls: 0 }])
  })

  // What version 11 left: the same spans, no run_spans, its feed, or migration 12 recorded.
  await upgraded.command('DROP VIEW run_spans_from_spans SYNC')
  await upgraded.command('DROP TABLE run_spans SYNC')
  await upgraded.command('ALTER TABLE daa_migrations DELETE WHERE version = 12 SETTINGS mutations_sync = 1')
  expect((await migrate(upgraded, { retentionDays: 0 })).applied).toEqual([12])

  // A late tool call with a cost: the run is recomputed from all of its spans.
  await withCollector(upgraded, async ({ send, rows }) => {
    await send([callSpan(run, call('cafe0000000000c2', 'tool', 0.25, 0))])
    await expect
      .poll(() => facts(rows), { timeout: 30_000, interval: 100 })
      .toEqual([{ run_id: run.runId, cost_usd: 0.75, total_tokens: 1000, llm_calls: 1, tool_calls: 1 }])
  })
})
