/**
 * Builds the built-in page into dist/page: index.html and assets/app.js + app.css (uPlot included),
 * one bundle each so the page loads in two requests, with no CDN. Run by the package's build.
 */
import { copyFileSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { MAX_RANGE_DAYS } from '@daa/collector'
import { build } from 'esbuild'

const root = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url))

export async function buildPage(outDir = root('dist/page/')): Promise<void> {
  mkdirSync(`${outDir}assets`, { recursive: true })
  await build({
    entryPoints: { app: root('src/page/main.ts') },
    outdir: `${outDir}assets`,
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    sourcemap: true,
    legalComments: 'linked',
    logLevel: 'warning',
    // The API's longest range, so that the page refuses a longer one before asking (page/range.ts).
    define: { DAA_MAX_RANGE_DAYS: String(MAX_RANGE_DAYS) },
  })
  copyFileSync(root('src/page/index.html'), `${outDir}index.html`)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildPage()
