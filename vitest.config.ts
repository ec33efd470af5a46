import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/**
 * The lowest `@opentelemetry/api` the SDK's peer range admits, installed beside the highest under an
 * npm alias (sdk/package.json). A second project runs the SDK's tests with every module, OpenTelemetry's
 * own included, given that copy of the API.
 */
const lowestOtelApi = join(
  dirname(createRequire(src('./sdk/package.json')).resolve('otel-api-lowest/package.json')),
  'build/esm/index.js',
)

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources, so a change is tested without a rebuild.
    // Exact matches, so that subpath exports (e.g. @daa/sdk/openai-agents) map to their own sources.
    alias: [
      { find: /^@daa\/collector$/, replacement: src('./collector/src/index.ts') },
      { find: /^@daa\/sdk$/, replacement: src('./sdk/src/index.ts') },
      { find: /^@daa\/sdk\/openai-agents$/, replacement: src('./sdk/src/openai-agents/index.ts') },
      { find: /^@daa\/sdk\/attributes$/, replacement: src('./sdk/src/attributes.ts') },
      { find: /^@daa\/dashboards$/, replacement: src('./dashboards/src/index.ts') },
    ],
  },
  test: {
    // chdb allows one embedded data directory per process: every test file gets its own process.
    pool: 'forks',
    reporters: ['default', './tests/support/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: 'daa', include: ['{sdk,collector,dashboards}/src/**/*.test.ts', 'tests/**/*.test.ts'] },
      },
      {
        extends: true,
        resolve: { alias: [{ find: /^@opentelemetry\/api$/, replacement: lowestOtelApi }] },
        test: {
          name: 'sdk with the lowest @opentelemetry/api',
          include: ['sdk/src/**/*.test.ts'],
          env: { DAA_EXPECTED_OTEL_API: '1.3.0' },
          // Inlined, so OpenTelemetry's packages and the frameworks import the aliased API too.
          server: {
            deps: { inline: [/@opentelemetry\//, /@openai\//, /\/node_modules\/ai\//, /@ai-sdk\//] },
          },
        },
      },
    ],
  },
})
