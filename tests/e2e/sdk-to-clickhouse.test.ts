/**
 * @daa/sdk end to end: instrumented agent code → OTLP → a running collector → a real ClickHouse
 * server. The run row has the right agent, user, outcome, value, token totals and tool count.
 */
import { flush, init, llm, outcome, type RunRef, run, shutdown, stats, tool } from '@daa/sdk'
import { trace } from '@opentelemetry/api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningClickHouse, startClickHouseServer } from '../support/clickhouse-server.js'
import { type CollectorUnderTest, startTestCollector, UNTIL_STORED } from '../support/collector-harness.js'

let clickhouse: RunningClickHouse
let target: CollectorUnderTest

beforeAll(async () => {
  clickhouse = await startClickHouseServer()
  target = await startTestCollector(clickhouse.url)
  init({ endpoint: target.collector.url, apiKey: target.apiKey, serviceName: 'refunds' })
})
afterAll(async () => {
  await shutdown({ timeoutMs: 5000 })
  await target?.close()
  await clickhouse?.stop()
})

/** The agent under test: 3 LLM calls, 5 tool calls (one failing), then an outcome. */
async function refundAgent(user: string): Promise<RunRef> {
  return run({ agent: 'refund-bot', user, conversation: 'thread-9', version: '2.1.0' }, async (current) => {
    for (const input of [1000, 2000, 3000]) {
      await llm({ model: 'gpt-5', provider: 'openai' }, async (call) => {
        call.usage({ input, output: input / 10, cacheRead: input / 2 })
      })
    }
    for (const name of ['lookup_order', 'check_policy', 'issue_refund', 'notify', 'log']) {
      await tool(name, async () => {
        if (name === 'notify') throw new Error('smtp down')
      }).catch(() => {})
    }
    current.partial({ value: 20, unit: 'USD', reason: 'awaiting approval' })
    return current.ref
  })
}

describe('@daa/sdk → collector → ClickHouse', () => {
  let ref: RunRef

  it('stores the run with its agent, user, outcome, value, tokens and tools', async () => {
    ref = await refundAgent('customer-17')
    await flush(5000)
    expect(stats().dropped).toBe(0)
    const store = target.collector.store
    const readRun = () =>
      store.query<Record<string, string>>(
        `SELECT run_id, agent_id AS agent, agent_version AS version, user_id AS user, conversation_id AS conversation,
                service_name AS service
         FROM runs FINAL WHERE user_id = 'customer-17'`,
      )
    // The collector writes what it acknowledged on its own: ask again, as a dashboard would, until it is in.
    await expect.poll(readRun, UNTIL_STORED).not.toHaveLength(0)
    const [run] = await readRun()
    const runId = run!.run_id!
    const readResult = () =>
      store.query<Record<string, unknown>>(
        'SELECT argMax(status, recorded_at) AS outcome, argMax(value, recorded_at) AS value, argMax(unit, recorded_at) AS unit FROM outcomes FINAL WHERE run_id = {runId:String}',
        { runId },
      )
    const readUsage = () =>
      store.query<Record<string, number>>(
        `SELECT sumIf(input_tokens, operation = 'chat') AS input_tokens,
                sumIf(output_tokens, operation = 'chat') AS output_tokens,
                sumIf(cache_read_tokens, operation = 'chat') AS cached,
                countIf(operation = 'execute_tool') AS tools,
                countIf(operation = 'execute_tool' AND error_type != '') AS failed_tools
         FROM spans FINAL WHERE run_id = {runId:String}`,
        { runId },
      )
    // Its outcome and spans go to their own tables in inserts beside the run's: wait for them too (over
    // no rows, the aggregates answer '' and 0).
    await expect.poll(async () => (await readResult())[0]?.outcome, UNTIL_STORED).toBeTruthy()
    await expect.poll(async () => (await readUsage())[0]?.tools, UNTIL_STORED).toBeGreaterThan(0)
    const [result] = await readResult()
    const [usage] = await readUsage()
    const row = { ...run, run_id: undefined, ...result, ...usage }
    delete row.run_id
    expect(row).toEqual({
      agent: 'refund-bot',
      version: '2.1.0',
      user: 'customer-17',
      conversation: 'thread-9',
      service: 'refunds',
      outcome: 'partial',
      value: 20,
      unit: 'USD',
      input_tokens: 6000,
      output_tokens: 600,
      cached: 3000,
      tools: 5,
      failed_tools: 1,
    })
  })

  it('records a late outcome that wins over the one recorded during the run', async () => {
    outcome(ref, { status: 'delivered', value: 40, unit: 'USD' })
    await flush(5000)
    // Every outcome recorded is kept: wait, as a dashboard would, until the late one is stored beside
    // the first, then see which one wins.
    await expect
      .poll(async () => {
        const [row] = await target.collector.store.query<{ n: number }>(
          `SELECT count() AS n FROM outcomes FINAL
           WHERE run_id IN (SELECT run_id FROM runs FINAL WHERE user_id = 'customer-17')`,
        )
        return row?.n
      }, UNTIL_STORED)
      .toBeGreaterThan(1)
    const rows = await target.collector.store.query<{ status: string; value: number }>(
      `SELECT argMax(status, recorded_at) AS status, argMax(value, recorded_at) AS value
       FROM outcomes FINAL WHERE run_id IN (SELECT run_id FROM runs FINAL WHERE user_id = 'customer-17')`,
    )
    expect(rows).toEqual([{ status: 'delivered', value: 40 }])
  })

  it("counts a framework's agent span of the run's own agent once, though it is exported before the run", async () => {
    let runId = ''
    await run({ agent: 'planner-bot', user: 'u-9' }, async (current) => {
      runId = current.id
      // Another library's agent span for the same agent (as LangChain's createAgent inside run()).
      trace
        .getTracer('agent-framework')
        .startSpan('invoke_agent planner-bot', {
          attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner-bot' },
        })
        .end()
      // It goes out in a request of its own before the run ends, as a batch processor sends a run
      // that outlasts its flush interval.
      await flush(5000)
      current.deliver()
    })
    await flush(5000)
    const store = target.collector.store
    const stored = () =>
      store.query<{ span_name: string; operation: string; run_id: string }>(
        `SELECT span_name, operation, run_id FROM spans FINAL WHERE trace_id IN
           (SELECT trace_id FROM spans WHERE span_id = {runId:String}) ORDER BY operation`,
        { runId },
      )
    await expect.poll(async () => (await stored()).length, UNTIL_STORED).toBe(2)
    // The framework's span is a step of the run, not a run of its own.
    expect(await stored()).toEqual([
      { span_name: 'invoke_agent planner-bot', operation: '', run_id: runId },
      { span_name: 'invoke_agent planner-bot', operation: 'invoke_agent', run_id: runId },
    ])
    const [runs] = await store.query<{ n: number }>(
      "SELECT count() AS n FROM runs FINAL WHERE agent_id = 'planner-bot'",
    )
    expect(Number(runs!.n)).toBe(1)
  })

  it("keeps a run's outcome behind 200 attributes of its own (OpenTelemetry's default keeps 128)", async () => {
    const attributes = Object.fromEntries(
      Array.from({ length: 200 }, (_, index) => [`app.field_${index}`, index]),
    )
    const runId = await run({ agent: 'wide-bot', attributes }, async (current) => {
      current.deliver({ value: 7, unit: 'tickets' })
      return current.id
    })
    await flush(5000)
    const outcome = () =>
      target.collector.store.query<{ status: string; value: number; unit: string }>(
        'SELECT status, value, unit FROM outcomes FINAL WHERE run_id = {runId:String}',
        { runId },
      )
    await expect.poll(outcome, UNTIL_STORED).toEqual([{ status: 'delivered', value: 7, unit: 'tickets' }])
  })

  it('counts the spans the collector refuses as failed, with its reason, not as exported', async () => {
    const before = stats()
    // An attribute key over the collector's 1,024 characters: that run span is refused alone
    // (partial_success), its LLM call beside it is stored.
    await run({ agent: 'refused-bot', attributes: { ['k'.repeat(1100)]: 'v' } }, async () => {
      await llm({ model: 'gpt-5', provider: 'openai' }, async () => {})
    })
    await flush(5000)
    const after = stats()
    expect(after.failed - before.failed).toBe(1)
    expect(after.exported - before.exported).toBe(1)
    expect(after.lastError).toMatch(/the collector refused 1 of 2 spans: .*longer than 1024 characters/)
  })
})
