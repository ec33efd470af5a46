/**
 * Where a running collector tells the `daa` CLI how to reach its admin API: `<data dir>/admin.json`
 * (URL, process id, credential), created readable by its owner only and removed on shutdown.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface AdminFile {
  url: string
  pid: number
  token: string
}

export const ADMIN_FILE = 'admin.json'

export function newAdminToken(): string {
  return `daa_admin_${randomBytes(32).toString('base64url')}`
}

/**
 * A URL the CLI on this machine can reach: a wildcard listen address is reached on loopback. (Over
 * TLS with a self-signed certificate, the CLI needs NODE_EXTRA_CA_CERTS pointing at it.)
 */
export function localUrl(host: string, port: number, scheme: 'http' | 'https' = 'http'): string {
  if (host === '0.0.0.0') return `${scheme}://127.0.0.1:${port}`
  if (host === '::' || host === '[::]') return `${scheme}://[::1]:${port}`
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`
}

export async function writeAdminFile(dataDir: string, content: AdminFile): Promise<void> {
  await mkdir(dataDir, { recursive: true })
  const file = join(dataDir, ADMIN_FILE)
  const temporary = `${file}.${process.pid}.tmp`
  // Written under another name with mode 0600 and renamed: the credential is never readable by others,
  // not even for a moment, and a reader never sees half a file.
  try {
    await writeFile(temporary, `${JSON.stringify(content)}\n`, { mode: 0o600 })
    await chmod(temporary, 0o600)
    await rename(temporary, file)
  } catch (error) {
    // A full disk, say: no half-written credential is left behind.
    await rm(temporary, { force: true }).catch(() => {})
    throw error
  }
}

export async function readAdminFile(dataDir: string): Promise<AdminFile | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dataDir, ADMIN_FILE), 'utf8')) as Partial<AdminFile>
    if (
      typeof parsed.url === 'string' &&
      typeof parsed.token === 'string' &&
      typeof parsed.pid === 'number'
    ) {
      return parsed as AdminFile
    }
  } catch {}
  return undefined
}

/** Removes the file if it is still this process's (a newer collector may have replaced it). */
export async function removeAdminFile(dataDir: string, token: string): Promise<void> {
  const current = await readAdminFile(dataDir)
  if (current?.token === token) await rm(join(dataDir, ADMIN_FILE), { force: true })
}
