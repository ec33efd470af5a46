import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources, so a change is tested without a rebuild.
    // Exact matches, so that subpath exports (e.g. @daa/sdk/openai-agents) map to their own sources.
    alias: [
      { find: /^@daa\/collector$/, replacement: src('./collector/src/index.ts') },
      { find: /^@daa\/sdk$/, replacement: src('./sdk/src/index.ts') },
      { find: /^@daa\/sdk\/openai-agents$/, replacement: src('./sdk/src/openai-agents/index.ts') },
      { find: /^@daa\/dashboards$/, replacement: src('./dashboards/src/index.ts') },
    ],
  },
  test: {
    include: ['{sdk,collector,dashboards}/src/**/*.test.ts', 'tests/**/*.test.ts'],
    // chdb allows one embedded data directory per process: every test file gets its own process.
    pool: 'forks',
    reporters: ['default', './tests/support/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})
