// The app's own OpenTelemetry setup, as most Node services have it: NodeSDK with the
// auto-instrumentations. daa joins with one span processor; nothing else changes.
// Loaded before the app: node --import ./instrumentation.mjs app.mjs
import { register } from 'node:module'
import { DaaSpanProcessor } from '@daa/sdk'
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node'
import { NodeSDK } from '@opentelemetry/sdk-node'

// ESM modules are instrumented through this loader hook (CommonJS ones without it).
register('@opentelemetry/instrumentation/hook.mjs', import.meta.url)

const sdk = new NodeSDK({
  serviceName: 'node-sdk-example',
  // DAA_ENDPOINT and DAA_API_KEY are read from the environment. Keep your own processors beside it.
  spanProcessors: [new DaaSpanProcessor()],
  instrumentations: [
    getNodeAutoInstrumentations({
      // File-system and DNS spans are noise for this example.
      '@opentelemetry/instrumentation-fs': { enabled: false },
      '@opentelemetry/instrumentation-dns': { enabled: false },
      '@opentelemetry/instrumentation-net': { enabled: false },
    }),
  ],
})
sdk.start()
globalThis.shutdownTelemetry = () => sdk.shutdown()
