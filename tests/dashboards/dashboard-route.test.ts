/**
 * The collector serves the built page at `/` and its assets from this origin only (no CDN), with a
 * content security policy that lets the page talk to nothing but the collector.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Collector, createCollector, createEmbeddedStore, type Store } from '@daa/collector'
import { PAGE_DIR } from '@daa/dashboards'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const directory = mkdtempSync(join(tmpdir(), 'daa-page-'))
let store: Store
let collector: Collector

beforeAll(async () => {
  store = await createEmbeddedStore({ path: join(directory, 'data'), database: 'page_test' })
  collector = await createCollector({
    store,
    walDir: join(directory, 'wal'),
    rollupIntervalMs: 0,
  })
})
afterAll(async () => {
  await collector.shutdown()
  await store.close()
  rmSync(directory, { recursive: true, force: true })
})

describe('the built-in page route', () => {
  it('serves the page at / with a policy that allows this origin only', async () => {
    const response = await collector.app.request('/')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const policy = response.headers.get('content-security-policy')!
    expect(policy).toContain("default-src 'none'")
    expect(policy).toContain("connect-src 'self'")
    expect(policy).toContain("script-src 'self'")
    const html = await response.text()
    expect(html).toBe(readFileSync(join(PAGE_DIR, 'index.html'), 'utf8'))
  })

  it('serves every asset the page names, and nothing from elsewhere', async () => {
    const html = await (await collector.app.request('/')).text()
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!)
    expect(references.filter((reference) => /^(https?:)?\/\//.test(reference))).toEqual([])
    const assets = references.filter((reference) => reference.startsWith('/assets/'))
    expect(assets.sort()).toEqual(['/assets/app.css', '/assets/app.js'])
    for (const asset of assets) {
      const response = await collector.app.request(asset)
      expect(response.status, asset).toBe(200)
      expect(response.headers.get('content-type')).toMatch(
        asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/,
      )
      const text = await response.text()
      // No fonts, scripts or styles fetched from another host (a URL in a comment or a licence is fine).
      expect(text, asset).not.toMatch(/@import\s+url\(|import\s*\(\s*["']https?:|fetch\(\s*["']https?:/)
    }
  })

  it('serves nothing outside the page directory', async () => {
    for (const path of [
      '/assets/../package.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/assets/missing.js',
    ]) {
      expect((await collector.app.request(path)).status, path).toBe(404)
    }
  })

  it('says so when the page was not built', async () => {
    const bare = await createCollector({
      store,
      walDir: join(directory, 'wal-bare'),
      rollupIntervalMs: 0,
      dashboardDir: join(directory, 'no-page'),
    })
    const response = await bare.app.request('/')
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({ error: { code: 'dashboard_not_built' } })
    await bare.shutdown()
  })
})
