// A service that answers questions with an agent run that calls an HTTP API and a PostgreSQL
// database. The HTTP and database spans come from the auto-instrumentations, and inside a run they
// carry its daa.run.id, so they count toward the run. Runs offline: the "API" is a local HTTP
// server and the database is PGlite (PostgreSQL in WebAssembly) served on a local socket.
//   DAA_ENDPOINT=http://127.0.0.1:4318 DAA_API_KEY=daa_… node --import ./sdk/examples/node-sdk/instrumentation.mjs sdk/examples/node-sdk/app.mjs
import { createServer } from 'node:http'
import { llm, run } from '@daa/sdk'
import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import pg from 'pg'

// The local stand-ins for a real API and database.
const api = createServer((_request, response) => {
  response.setHeader('content-type', 'application/json')
  response.end(JSON.stringify({ status: 'shipped' }))
})
await new Promise((resolve) => api.listen(0, '127.0.0.1', resolve))
const database = await PGlite.create()
await database.exec(
  "CREATE TABLE orders (id text PRIMARY KEY, customer text); INSERT INTO orders VALUES ('o-1', 'u-1')",
)
const socketServer = new PGLiteSocketServer({ db: database, port: 0, host: '127.0.0.1' })
await socketServer.start()
const { port: dbPort } = socketServer.server.address()

const client = new pg.Client({ host: '127.0.0.1', port: dbPort, user: 'postgres', database: 'postgres' })
await client.connect()

const status = await run({ agent: 'order-status-agent', user: 'u-1' }, async (current) => {
  const { rows } = await client.query('SELECT id, customer FROM orders WHERE id = $1', ['o-1'])
  const shipping = await (await fetch(`http://127.0.0.1:${api.address().port}/orders/${rows[0].id}`)).json()
  await llm({ model: 'scripted-model', provider: 'example' }, async (call) => {
    call.usage({ input: 120, output: 18 })
  })
  current.deliver({ value: 1, unit: 'answers' })
  return shipping.status
})

await client.end()
await socketServer.stop()
await database.close()
api.close()
await globalThis.shutdownTelemetry()
console.log(`node-sdk: order o-1 is ${status}`)
