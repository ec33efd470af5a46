/**
 * The built `@daa/sdk` loaded by Node itself in an app whose only `@opentelemetry/api` is the lowest
 * of the SDK's peer range (1.3.0), as npm lays out an app on an older OpenTelemetry: every
 * package, OpenTelemetry's own included, resolves that copy. A missing export anywhere in the
 * import graph fails here at link time, as it does for users; the SDK's unit tests under the lowest
 * API (vitest.config.ts) inline the packages, where a missing export only reads as undefined.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { gunzipSync } from 'node:zlib'
import { afterAll, expect, it } from 'vitest'

const sdkDir = fileURLToPath(new URL('../../sdk/', import.meta.url))
const fromSdk = createRequire(join(sdkDir, 'package.json'))
/** Where a package the SDK depends on is installed (some export no `./package.json`). */
const packageDir = (name: string) => {
  let dir = dirname(fromSdk.resolve(name))
  while (!existsSync(join(dir, 'package.json')) || !dir.endsWith(name.split('/').at(-1)!)) dir = dirname(dir)
  return dir
}
const app = mkdtempSync(join(tmpdir(), 'daa-lowest-api-'))
afterAll(() => rmSync(app, { recursive: true, force: true }))

it('imports, records a run and exports it with @opentelemetry/api 1.3.0 as the app’s only API', async () => {
  const modules = join(app, 'node_modules')
  mkdirSync(join(modules, '@daa'), { recursive: true })
  mkdirSync(join(modules, '@opentelemetry'), { recursive: true })
  symlinkSync(sdkDir, join(modules, '@daa/sdk'))
  symlinkSync(packageDir('otel-api-lowest'), join(modules, '@opentelemetry/api'))
  // What npm installs with the SDK: its dependencies and theirs, hoisted beside it.
  const installed = new Set<string>()
  const install = (dependent: string) => {
    const manifest = JSON.parse(readFileSync(join(dependent, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>
    }
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      if (installed.has(name)) continue
      installed.add(name)
      const dir = packageDir(name)
      mkdirSync(dirname(join(modules, name)), { recursive: true })
      symlinkSync(dir, join(modules, name))
      install(dir)
    }
  }
  install(sdkDir)
  writeFileSync(
    join(app, 'app.mjs'),
    `import { init, run, shutdown } from '@daa/sdk'
init({ endpoint: process.argv[2], apiKey: 'daa_test', serviceName: 'lowest-api-app' })
// The API registered by init(): the one every package here resolved.
const api = globalThis[Symbol.for('opentelemetry.js.api.1')]?.version
await run({ agent: 'lowest-api-bot' }, async (current) => current.deliver({ value: 1, unit: 'answers' }))
await shutdown()
console.log(JSON.stringify({ api }))
`,
  )
  const bodies: Buffer[] = []
  const sink = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks)
      bodies.push(request.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body)
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
    })
  })
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = sink.address() as AddressInfo
    // Symlinks kept as the paths modules are found from: each package resolves the app's copies.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--preserve-symlinks', '--preserve-symlinks-main', join(app, 'app.mjs'), `http://127.0.0.1:${port}`],
      { cwd: app },
    )
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ api: '1.3.0' })
    expect(bodies).toHaveLength(1)
    expect(bodies[0]!.includes('invoke_agent lowest-api-bot')).toBe(true)
    expect(bodies[0]!.includes('delivered')).toBe(true)
  } finally {
    sink.close()
  }
})
