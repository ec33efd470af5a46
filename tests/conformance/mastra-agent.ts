/**
 * The Mastra application the Mastra conformance suite runs (in a child process: Mastra 1.x needs
 * Node ≥ 22.13). A Mastra Agent with one tool and `ai/test`'s MockLanguageModelV3, traced by
 * `@mastra/observability` with `@mastra/otel-exporter` to the collector at DAA_ENDPOINT
 * (OTLP/protobuf, key DAA_API_KEY). For each person in DAA_USERS (comma-separated) the agent answers
 * once; the first answer's run is marked delivered with `@daa/sdk`'s `outcome()`, from the trace and
 * span ids Mastra returns. Prints the run references as JSON.
 */
import { Mastra } from '@mastra/core'
import { Agent } from '@mastra/core/agent'
import { createTool } from '@mastra/core/tools'
import { Observability } from '@mastra/observability'
import { OtelExporter } from '@mastra/otel-exporter'
import { MockLanguageModelV3 } from 'ai/test'
import { z } from 'zod'
// The SDK's sources (run by tsx), so the suite needs no build first.
import { init, outcome, shutdown } from '../../sdk/src/index.js'
import { weatherReplies } from './weather-script.js'

const endpoint = process.env.DAA_ENDPOINT!
const apiKey = process.env.DAA_API_KEY!
const users = process.env.DAA_USERS!.split(',')

/** The mock model plays its replies in order: one script per run. */
const model = new MockLanguageModelV3({
  modelId: 'mock-model-1',
  doGenerate: users
    .flatMap(() => weatherReplies())
    .map((reply) => ({ ...reply, content: [...reply.content] })),
})

const weather = createTool({
  id: 'weather',
  description: 'Current temperature of a city',
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => ({ city, celsius: 4 }),
})

const exporter = new OtelExporter({
  provider: {
    custom: {
      endpoint,
      headers: { authorization: `Bearer ${apiKey}` },
      protocol: 'http/protobuf',
    },
  },
  signals: { logs: false },
})
init({ endpoint, apiKey, serviceName: 'mastra-app' })

const agent = new Agent({
  id: 'weather-bot',
  name: 'Weather Bot',
  instructions: 'Answer briefly.',
  model,
  tools: { weather },
})
const mastra = new Mastra({
  agents: { weather: agent },
  logger: false,
  observability: new Observability({
    configs: { otel: { serviceName: 'mastra-app', exporters: [exporter] } },
  }),
})
const refs: string[] = []
for (const user of users) {
  const result = await mastra.getAgent('weather').generate('Weather in Oslo?', {
    tracingOptions: { metadata: { userId: user } },
  })
  if (result.text !== 'It is 4 °C in Oslo.') throw new Error(`unexpected answer: ${result.text}`)
  refs.push(`00-${result.traceId}-${result.spanId}-01`)
}
outcome(refs[0]!, { status: 'delivered', value: 1, unit: 'answers' })

await exporter.flush()
await exporter.shutdown()
await shutdown()
process.stdout.write(`${JSON.stringify({ refs })}\n`)
