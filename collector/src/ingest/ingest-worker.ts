/**
 * An ingest worker thread's entry (started by IngestWorkerPool, ingest-workers.ts): prepares each
 * request it is sent and hands the body back with the result, moved rather than copied.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { createPriceTable, type ModelPrice } from '../mapping/prices.js'
import { errorToWire, preparedToWire, type WorkerJob, type WorkerMessage } from './ingest-workers.js'
import { prepareRequest } from './prepare-request.js'

const port = parentPort
if (!port) throw new Error('ingest-worker runs as a worker thread of IngestWorkerPool')
const settings = workerData as { prices: Array<[string, ModelPrice]>; retentionDays: number }
const prices = createPriceTable(settings.prices)

port.on('message', (job: WorkerJob) => {
  let answer: WorkerMessage
  try {
    answer = {
      id: job.id,
      body: job.body,
      prepared: preparedToWire(prepareRequest(job, prices, settings.retentionDays)),
    }
  } catch (error) {
    answer = { id: job.id, body: job.body, error: errorToWire(error) }
  }
  port.postMessage(answer, [job.body.buffer as ArrayBuffer])
})
port.postMessage({ ready: true } satisfies WorkerMessage)
