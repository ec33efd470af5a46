#!/usr/bin/env -S node --max-semi-space-size=32 --max-old-space-size=256
// The `daa` command. npm links this file at install time, before anything is built, so it is
// committed rather than generated: it runs the built CLI (dist/cli.js) and, in a fresh checkout
// where nothing is built yet, builds the workspace first. The node flags are dist/cli.js's own
// (see there why).
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const cli = join(here, '..', 'dist', 'cli.js')

if (!existsSync(cli)) {
  const root = join(here, '..', '..')
  const rootPackage = join(root, 'package.json')
  const inRepository =
    existsSync(rootPackage) && JSON.parse(readFileSync(rootPackage, 'utf8')).workspaces?.includes('collector')
  if (!inRepository) {
    process.stderr.write(`daa: ${cli} is missing: reinstall @daa/collector\n`)
    process.exit(1)
  }
  process.stderr.write('daa: first run in this checkout: building it (npm run build)…\n')
  // npm_execpath is npm's own script when daa runs under npx or an npm script.
  const npm = process.env.npm_execpath
  const build = npm?.endsWith('.js')
    ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: ['ignore', 2, 2] })
    : spawnSync('npm', ['run', 'build'], {
        cwd: root,
        stdio: ['ignore', 2, 2],
        shell: process.platform === 'win32',
      })
  if (build.status !== 0 || !existsSync(cli)) {
    process.stderr.write('daa: the build failed; run `npm run build` to see why\n')
    process.exit(1)
  }
}

await import(cli)
