import { chmod, mkdir } from 'node:fs/promises'

/**
 * The data directory holds spans, keys and the log: only its owner may enter it (0700), whatever
 * the umask, so every file below it is private even where a library created it world-readable.
 * The collector and the CLI's commands that run without one both make it so.
 */
export async function ensurePrivateDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  await chmod(dataDir, 0o700)
}
