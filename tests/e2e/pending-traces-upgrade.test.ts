/**
 * A database made by an earlier release (schema version 10) is upgraded in place by migration 11,
 * which adds `pending_traces`: the run resolver now reads only the changed traces that ever held a
 * span waiting for its run. A child stored before the upgrade, whose run had not arrived, must still
 * find its run when the run arrives afterwards: the migration copies the traces of such children in.
 * Everything goes through a collector, as senders use it: the child (children first, as batch
 * exporters send), the upgrade, then the run span; the answer is read from the metrics API.
 */
import { migrate } from '@daa/collector'
import { expect, it } from 'vitest'
import type { GoldenCall, GoldenRun } from '../golden/golden-dataset.js'
import { callSpan, runSpan } from '../golden/golden-otlp.js'
import { withCollector } from '../support/collector-session.js'
import { useUpgradeDatabases } from '../support/upgrade-databases.js'

const databases = useUpgradeDatabases('pending')

const now = BigInt(Date.now()) * 1_000_000n
const today = new Date().toISOString().slice(0, 10)

const run: GoldenRun = {
  project: 'p',
  runId: 'babe000000000001',
  traceId: 'babe0000000000000000000000000001',
  parentRunId: '',
  agentId: 'waiting-agent',
  userId: '',
  startNs: now,
  durationNs: 2_000_000,
  statusError: false,
  ownCostUsd: 0,
  calls: [],
  outcomes: [],
  runArrivesLate: true,
}

const chat: GoldenCall = {
  spanId: 'babe0000000000c1',
  kind: 'llm',
  startNs: now + 1_000n,
  durationNs: 1_000_000,
  costUsd: 0.25,
  inputTokens: 1200,
  outputTokens: 300,
  cacheReadTokens: 0,
  reasoningTokens: 0,
  failed: false,
  attributedLate: true,
}

it('attributes a child stored before the upgrade to its run sent after it', async () => {
  const { upgraded } = databases
  await migrate(upgraded, { retentionDays: 0 })
  // The child arrives first; its run has not been sent, so it waits (run_id '').
  await withCollector(upgraded, ({ send }) => send([callSpan(run, chat)]))
  const [waiting] = await upgraded.query<{ n: number }>(
    "SELECT count() AS n FROM spans FINAL WHERE span_id = {span:String} AND run_id = ''",
    { span: chat.spanId },
  )
  expect(waiting!.n).toBe(1)

  // What version 10 left: the same spans, no pending_traces, its feed, or migration 11 recorded.
  await upgraded.command('DROP VIEW pending_traces_from_spans SYNC')
  await upgraded.command('DROP TABLE pending_traces SYNC')
  await upgraded.command('ALTER TABLE daa_migrations DELETE WHERE version = 11 SETTINGS mutations_sync = 1')

  expect((await migrate(upgraded, { retentionDays: 0 })).applied).toEqual([11])
  const [copied] = await upgraded.query<{ n: number }>(
    'SELECT count() AS n FROM pending_traces FINAL WHERE trace_id = {trace:String}',
    { trace: run.traceId },
  )
  expect(copied!.n).toBe(1)

  // The run arrives after the upgrade; its child's cost and tokens count toward it.
  await withCollector(upgraded, async ({ send, rows }) => {
    await send([runSpan(run)])
    const recent = async () =>
      (await rows('recent-runs', `from=${today}&to=${today}&tz=UTC&agent=${run.agentId}`)).map(
        ({ run_id, cost_usd, total_tokens, llm_calls }) => ({ run_id, cost_usd, total_tokens, llm_calls }),
      )
    await expect
      .poll(recent, { timeout: 30_000, interval: 100 })
      .toEqual([{ run_id: run.runId, cost_usd: 0.25, total_tokens: 1500, llm_calls: 1 }])
  })
})
