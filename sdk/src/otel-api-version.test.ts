import { createRequire } from 'node:module'
import { propagation } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { describe, expect, it } from 'vitest'

// The suite runs twice: with the highest @opentelemetry/api installed and with the lowest of the
// peer range (see vitest.config.ts). This says which one the code under test really got.
describe('@opentelemetry/api under test', () => {
  it('is the version this run is meant to test', () => {
    const expected =
      process.env.DAA_EXPECTED_OTEL_API ??
      // Else the highest: the version the SDK's own tests install.
      (createRequire(import.meta.url)('../package.json') as { devDependencies: Record<string, string> })
        .devDependencies['@opentelemetry/api']
    propagation.setGlobalPropagator(new W3CTraceContextPropagator())
    const registered = (globalThis as Record<symbol, { version?: string } | undefined>)[
      Symbol.for('opentelemetry.js.api.1')
    ]
    propagation.disable()
    expect(registered?.version).toBe(expected)
  })
})
