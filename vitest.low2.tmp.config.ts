import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
const src = (path: string) => fileURLToPath(new URL(path, 'file:///work/wt-13/'))
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@opentelemetry\/api$/, replacement: '/tmp/wt13-api100/package/build/esm/index.js' },
      { find: /^@daa\/sdk$/, replacement: src('./sdk/src/index.ts') },
      { find: /^@daa\/sdk\/openai-agents$/, replacement: src('./sdk/src/openai-agents/index.ts') },
    ],
  },
  test: {
    root: '/work/wt-13',
    include: ['sdk/src/**/*.test.ts'],
    pool: 'forks',
    server: { deps: { inline: [/@opentelemetry\//, /@openai\//, /node_modules\/ai\//, /@ai-sdk\//] } },
  },
})
