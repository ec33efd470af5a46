/**
 * A Node.js binary new enough for a framework that needs a newer Node than the one running the
 * tests (Mastra 1.x needs ≥ 22.13; this repository supports Node 20). The running Node is used when
 * it is new enough; otherwise the official binary from the npm registry package
 * `node-<platform>-<arch>` is installed once into node_modules/.cache (a fresh clone's first run
 * downloads it, about 30 MB), with npm, pinned to one version.
 *
 * Not a devDependency: npm links that package's `node` into node_modules/.bin, which would put
 * Node 24 first on the PATH of every npm script of the repository and silently change the Node
 * that all other tests, the build and `npm start` run on.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The Node release installed when the running one is too old. */
export const PINNED_NODE_VERSION = '24.22.3'

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url))

function isAtLeast(version: string, major: number, minor: number): boolean {
  const [actualMajor = 0, actualMinor = 0] = version.split('.').map(Number)
  return actualMajor > major || (actualMajor === major && actualMinor >= minor)
}

/** The path of a `node` binary of at least `major.minor`; installs the pinned release if needed. */
export function nodeBinaryAtLeast(major: number, minor: number): string {
  if (isAtLeast(process.versions.node, major, minor)) return process.execPath
  const packageName = `node-${process.platform}-${process.arch}`
  const prefix = join(REPOSITORY_ROOT, 'node_modules', '.cache', `daa-node-${PINNED_NODE_VERSION}`)
  const binary = join(prefix, 'node_modules', packageName, 'bin', 'node')
  if (!existsSync(binary)) {
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        prefix,
        '--no-save',
        '--no-package-lock',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        `${packageName}@${PINNED_NODE_VERSION}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], cwd: REPOSITORY_ROOT },
    )
  }
  return binary
}
