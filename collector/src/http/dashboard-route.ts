/**
 * The built-in dashboard: `GET /` and `GET /assets/*`, static files from the @daa/dashboards
 * package's build (dist/page). The page holds no data: it asks for an API key and reads the metrics
 * API with it, so these routes need no key.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, normalize, sep } from 'node:path'
import type { Hono } from 'hono'
import type { CollectorEnv } from './collector-env.js'

export interface DashboardRouteOptions {
  /**
   * Directory holding the built page (index.html and assets/). Default: `dist/page` of the
   * installed @daa/dashboards package; when it is not installed, `/` answers 404 saying so.
   */
  pageDir?: string
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
}

/** Everything comes from this origin; the page talks to nothing else (no CDN, no third party). */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

function defaultPageDir(): string | undefined {
  try {
    const packageJson = createRequire(import.meta.url).resolve('@daa/dashboards/package.json')
    return join(dirname(packageJson), 'dist', 'page')
  } catch {
    return undefined
  }
}

export function registerDashboardRoute(app: Hono<CollectorEnv>, options: DashboardRouteOptions = {}): void {
  let pageDir: string | undefined | null = options.pageDir ?? null

  const serve = async (relative: string, cache: string) => {
    if (pageDir === null) pageDir = defaultPageDir()
    if (!pageDir) return undefined
    const file = normalize(join(pageDir, relative))
    // No way out of the page directory (`..`, encoded or not, was normalized away above).
    if (!file.startsWith(pageDir.endsWith(sep) ? pageDir : pageDir + sep)) return undefined
    const extension = file.slice(file.lastIndexOf('.'))
    const type = CONTENT_TYPES[extension]
    if (!type) return undefined
    const body = await readFile(file).catch(() => undefined)
    if (!body) return undefined
    return new Response(body, {
      headers: { 'content-type': type, 'cache-control': cache, ...SECURITY_HEADERS },
    })
  }

  const missing = {
    error: {
      code: 'dashboard_not_built',
      message:
        'The built-in dashboard is not available: install @daa/dashboards beside the collector, or run `npm run build`.',
    },
  }

  app.get('/', async (c) => (await serve('index.html', 'no-cache')) ?? c.json(missing, 404))
  app.get('/assets/*', async (c) => {
    const relative = decodeURIComponent(c.req.path.slice('/'.length))
    // Asset names carry no hash, so browsers revalidate; they are small.
    return (await serve(relative, 'no-cache')) ?? c.notFound()
  })
}
