/**
 * Every example in sdk/examples runs as a user runs it (node, a child process, offline) against a
 * running collector, and its runs show up in the metrics API the way a dashboard reads them.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { loadConfig, type RunningCollector, startCollectorServer } from '@daa/collector'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const run = promisify(execFile)

const EXAMPLES: { name: string; args: string[]; agent: string; prints: RegExp }[] = [
  {
    name: 'plain agent loop',
    args: ['sdk/examples/plain-agent.mjs'],
    agent: 'plain-agent',
    prints: /3 runs sent/,
  },
  {
    name: 'NodeSDK app with auto-instrumentations',
    args: ['--import', './sdk/examples/node-sdk/instrumentation.mjs', 'sdk/examples/node-sdk/app.mjs'],
    agent: 'order-status-agent',
    prints: /order o-1 is shipped/,
  },
  {
    name: 'Vercel AI SDK',
    args: ['sdk/examples/vercel-ai-sdk.mjs'],
    agent: 'vercel-weather-agent',
    prints: /Sunny in Paris/,
  },
  {
    name: 'OpenAI Agents SDK',
    args: ['sdk/examples/openai-agents.mjs'],
    agent: 'openai-order-desk',
    prints: /ships tomorrow/,
  },
  {
    name: 'LangChain.js with OpenInference',
    args: ['sdk/examples/langchain.mjs'],
    agent: 'langchain-researcher',
    prints: /pre-aggregate/,
  },
]

const dataDir = mkdtempSync(join(tmpdir(), 'daa-examples-'))
let collector: RunningCollector
let apiKey: string
const outputs = new Map<string, string>()

beforeAll(async () => {
  collector = await startCollectorServer(
    loadConfig(
      { host: '127.0.0.1', port: 0, grpcPort: -1, dataDir, flushIntervalMs: 50, rollupIntervalMs: 500 },
      {},
    ),
  )
  apiKey = collector.localApiKey!
  // The examples run side by side, as separate processes would in a fleet.
  await Promise.all(
    EXAMPLES.map(async (example) => {
      const { stdout } = await run(process.execPath, example.args, {
        cwd: root,
        env: { ...process.env, NODE_ENV: 'production', DAA_ENDPOINT: collector.url, DAA_API_KEY: apiKey },
      })
      outputs.set(example.name, stdout)
    }),
  )
})
afterAll(async () => {
  await collector?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10)

/** Polls the leaderboard, as a dashboard would, until the agent has its delivered runs. */
async function leaderboardRow(agent: string): Promise<{ runs: number; delivered_runs: number }> {
  for (;;) {
    const response = await fetch(
      `${collector.url}/api/v1/metrics/agent-leaderboard?from=${day(-1)}&to=${day(1)}&agent=${agent}`,
      { headers: { authorization: `Bearer ${apiKey}` } },
    )
    const { rows } = (await response.json()) as { rows: { runs: number; delivered_runs: number }[] }
    if (rows[0] && Number(rows[0].delivered_runs) > 0) return rows[0]
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

describe('sdk/examples', () => {
  it.each(EXAMPLES)('$name runs offline and its runs appear in the metrics', async (example) => {
    expect(outputs.get(example.name)).toMatch(example.prints)
    const row = await leaderboardRow(example.agent)
    expect(Number(row.delivered_runs)).toBeGreaterThanOrEqual(1)
    if (example.agent === 'plain-agent') expect(row).toMatchObject({ runs: 3, delivered_runs: 2 })
  })

  it('plain-agent says so, and exits 1, when the collector refuses its key', async () => {
    const refused = await run(process.execPath, ['sdk/examples/plain-agent.mjs'], {
      cwd: root,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        DAA_ENDPOINT: collector.url,
        DAA_API_KEY: 'daa_not-a-key',
      },
    }).catch((error: { code: number; stdout: string; stderr: string }) => error)
    expect(refused).toMatchObject({ code: 1, stdout: '' })
    expect((refused as { stderr: string }).stderr).toMatch(/did not take the spans .*401/)
  })

  it('counts only the agents the examples declare: a framework agent inside a run is part of it', async () => {
    for (const example of EXAMPLES) await leaderboardRow(example.agent)
    const response = await fetch(
      `${collector.url}/api/v1/metrics/agent-leaderboard?from=${day(-1)}&to=${day(1)}`,
      { headers: { authorization: `Bearer ${apiKey}` } },
    )
    const { rows } = (await response.json()) as { rows: { agent_id: string }[] }
    expect(rows.map((row) => row.agent_id).sort()).toEqual(EXAMPLES.map((example) => example.agent).sort())
  })

  it('NodeSDK: the HTTP and database spans inside the run carry its run id', async () => {
    await leaderboardRow('order-status-agent')
    const [runRow] = await collector.store.query<{ run_id: string; trace_id: string }>(
      "SELECT run_id, trace_id FROM runs FINAL WHERE agent_id = 'order-status-agent'",
    )
    const spans = await collector.store.query<{
      span_name: string
      span_kind: string
      stamped: string
      run_id: string
    }>(
      `SELECT span_name, span_kind, span_attributes['daa.run.id'] AS stamped, run_id FROM spans FINAL
       WHERE trace_id = {trace:String} AND span_kind = 'CLIENT' ORDER BY timestamp`,
      { trace: runRow!.trace_id },
    )
    const names = spans.map((span) => span.span_name)
    expect(names.some((name) => /^GET\b/.test(name))).toBe(true)
    expect(names.some((name) => /^pg\.query/.test(name))).toBe(true)
    for (const span of spans) expect(span).toMatchObject({ stamped: runRow!.run_id, run_id: runRow!.run_id })
  })
})
