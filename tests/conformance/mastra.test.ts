/**
 * Mastra 1.x (`@mastra/core` Agent, `@mastra/observability`, `@mastra/otel-exporter`) exported to a
 * running collector: the real packages, offline, with `ai/test`'s MockLanguageModelV3. Mastra needs
 * Node ≥ 22.13, so the application (mastra-agent.ts) runs in a child process on such a Node (see
 * node-binary.ts); the suite then reads the metrics API like a dashboard would.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  conventionsOf,
  expectFigures,
  type FrameworkCollector,
  runsOf,
  startFrameworkCollector,
} from './framework-harness.js'
import { nodeBinaryAtLeast } from './node-binary.js'

const run = promisify(execFile)
const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url))
const APP = fileURLToPath(new URL('./mastra-agent.ts', import.meta.url))

let harness: FrameworkCollector
let node: string
beforeAll(async () => {
  node = nodeBinaryAtLeast(22, 13)
  harness = await startFrameworkCollector()
})
afterAll(async () => {
  await harness?.close()
})

describe('Mastra Agent + OtelExporter (real packages, Node ≥ 22.13)', () => {
  it('two runs: LLM calls without the model_generation wrapper, tokens once, the person, the outcome', async () => {
    const { stdout } = await run(node, ['--import', 'tsx', APP], {
      cwd: REPOSITORY_ROOT,
      env: {
        ...process.env,
        DAA_ENDPOINT: harness.target.collector.url,
        DAA_API_KEY: harness.target.apiKey,
        DAA_USERS: 'user-1,user-2',
      },
    })
    const { refs } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { refs: string[] }
    expect(refs).toHaveLength(2)

    // Each run: model_generation wraps two model_inference calls; only the two calls count.
    await expectFigures(harness.target, harness.target.apiKey, {
      runs: 2,
      llmCalls: 4,
      toolCalls: 2,
      inputTokens: 500,
      outputTokens: 60,
      people: 2,
      deliveredRuns: 1,
    })
    expect(await runsOf(harness.target, harness.target.projectId)).toEqual([
      { agent_id: 'weather-bot', user_id: 'user-1' },
      { agent_id: 'weather-bot', user_id: 'user-2' },
    ])
    expect(await conventionsOf(harness.target, harness.target.projectId)).toMatchObject({
      'invoke_agent Weather Bot': 'mastra,genai',
      'model_generation mock-model-1': 'mastra,genai',
      'chat mock-model-1': 'mastra,genai',
      'execute_tool weather': 'mastra,genai',
    })
    // The application on Node 24 takes about 15 s on a quiet machine, then the metrics are polled.
  }, 150_000)
})
