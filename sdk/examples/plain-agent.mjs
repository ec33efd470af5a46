// A plain agent loop instrumented with @daa/sdk: each question is a run; the model and the tool are
// stand-ins, so this runs offline. Run it against a collector:
//   DAA_ENDPOINT=http://127.0.0.1:4318 DAA_API_KEY=daa_… node sdk/examples/plain-agent.mjs
import { init, llm, run, shutdown, stats, tool } from '@daa/sdk'

init({ serviceName: 'plain-agent-example' })

/** A stand-in for a model API: answers from a script, reports usage like a real one. */
async function callModel(prompt) {
  const answer = prompt.includes('refund') ? 'TOOL lookup_order' : `Answer: ${prompt.length} characters read.`
  return { text: answer, usage: { input: 40 + prompt.length, output: 12 } }
}

const orders = new Map([['o-1', { status: 'shipped' }]])

const questions = [
  { user: 'u-1', text: 'Where is my parcel?' },
  { user: 'u-2', text: 'I want a refund for o-1' },
  { user: 'u-3', text: 'I want a refund for o-404' },
]

for (const question of questions) {
  await run({ agent: 'plain-agent', user: question.user }, async (current) => {
    const first = await llm({ model: 'scripted-model', provider: 'example' }, async (call) => {
      const response = await callModel(question.text)
      call.usage(response.usage)
      call.cost(0.0004)
      return response
    })
    if (first.text.startsWith('TOOL')) {
      const orderId = question.text.split(' ').pop()
      const order = await tool('lookup_order', async () => orders.get(orderId))
      if (!order) return current.fail('order not found')
    }
    current.deliver({ value: 1, unit: 'answers' })
  })
}

await shutdown() // sends what is queued before the process exits
// Telemetry never throws into the app, so the app asks: were the spans taken?
const sent = stats()
if (sent.failed > 0 || sent.dropped > 0) {
  console.error(`plain-agent: the collector did not take the spans (${sent.lastError})`)
  process.exitCode = 1
} else console.log(`plain-agent: ${questions.length} runs sent`)
