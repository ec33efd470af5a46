import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources, so a change is tested without a rebuild.
    alias: {
      '@daa/collector': src('./collector/src/index.ts'),
      '@daa/sdk': src('./sdk/src/index.ts'),
      '@daa/dashboards': src('./dashboards/src/index.ts'),
    },
  },
  test: {
    include: ['{sdk,collector,dashboards}/src/**/*.test.ts', 'tests/**/*.test.ts'],
    // chdb allows one embedded data directory per process: every test file gets its own process.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})
