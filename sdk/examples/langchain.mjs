// A LangChain.js agent traced by OpenInference's LangChain instrumentation, inside a daa run. The
// chat model is scripted (LangChain's FakeListChatModel), so this runs offline.
//   DAA_ENDPOINT=http://127.0.0.1:4318 DAA_API_KEY=daa_… node sdk/examples/langchain.mjs
import { LangChainInstrumentation } from '@arizeai/openinference-instrumentation-langchain'
import { init, run, shutdown, tool } from '@daa/sdk'
import * as CallbackManagerModule from '@langchain/core/callbacks/manager'
import { StringOutputParser } from '@langchain/core/output_parsers'
import { ChatPromptTemplate } from '@langchain/core/prompts'
import { FakeListChatModel } from '@langchain/core/utils/testing'

// init() registers daa's tracer provider globally; the instrumentation's spans go there and join the run.
init({ serviceName: 'langchain-example' })
new LangChainInstrumentation().manuallyInstrument(CallbackManagerModule)

const model = new FakeListChatModel({
  responses: ['SEARCH: clickhouse rollups', 'Rollups pre-aggregate data so dashboards stay fast.'],
})
const chain = ChatPromptTemplate.fromMessages([
  ['system', 'You are a research assistant. Reply SEARCH: <terms> to search first.'],
  ['human', '{question}'],
])
  .pipe(model)
  .pipe(new StringOutputParser())

const answer = await run({ agent: 'langchain-researcher', user: 'u-11' }, async (current) => {
  let reply = await chain.invoke({ question: 'Why use rollups?' })
  if (reply.startsWith('SEARCH:')) {
    const notes = await tool('web_search', async () => `results for ${reply.slice(7).trim()}`)
    reply = await chain.invoke({ question: `Why use rollups? Notes: ${notes}` })
  }
  current.deliver({ value: 1, unit: 'answers' })
  return reply
})

await shutdown()
console.log(`langchain: ${answer}`)
