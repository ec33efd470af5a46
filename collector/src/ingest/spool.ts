import { randomUUID } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { MappedRows } from '../store/rows.js'

/**
 * A local write-ahead spool for batches ClickHouse could not take. A batch is acknowledged to
 * senders once it is either committed in ClickHouse or fsynced here; the spool is replayed when
 * ClickHouse is back and after a restart. Replaying a batch twice is harmless: every table
 * replaces rows with the same key.
 */
export class Spool {
  private bytes = 0
  private files = 0

  private constructor(private readonly directory: string) {}

  /** Opens (creating when missing) the spool directory and counts what is waiting in it. */
  static async open(directory: string): Promise<Spool> {
    await mkdir(directory, { recursive: true })
    const spool = new Spool(directory)
    for (const name of await spool.pending()) {
      spool.files += 1
      spool.bytes += (await stat(join(directory, name))).size
    }
    return spool
  }

  /** Batches waiting for ClickHouse. */
  get depth(): number {
    return this.files
  }

  /** Bytes waiting for ClickHouse. */
  get size(): number {
    return this.bytes
  }

  /** Writes a batch durably: to a temporary name, fsynced, then renamed, so a crash never leaves half a batch. */
  async write(rows: MappedRows): Promise<void> {
    // Names sort by time, so replay keeps arrival order (the latest outcome must win).
    const name = `${Date.now().toString().padStart(15, '0')}-${randomUUID()}.json`
    const temporary = join(this.directory, `.${name}.tmp`)
    const payload = Buffer.from(JSON.stringify(rows))
    const handle = await open(temporary, 'w')
    try {
      await handle.writeFile(payload)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temporary, join(this.directory, name))
    await this.syncDirectory()
    this.files += 1
    this.bytes += payload.length
  }

  /** Spooled batch names, oldest first. */
  async pending(): Promise<string[]> {
    const names = await readdir(this.directory)
    return names.filter((name) => name.endsWith('.json') && !name.startsWith('.')).sort()
  }

  async read(name: string): Promise<MappedRows> {
    return JSON.parse(await readFile(join(this.directory, name), 'utf8')) as MappedRows
  }

  /** Forgets a batch once ClickHouse has committed it. */
  async remove(name: string): Promise<void> {
    const path = join(this.directory, name)
    const { size } = await stat(path)
    await rm(path)
    this.files -= 1
    this.bytes -= size
  }

  /** The rename must itself survive a crash, so the directory entry is flushed too. */
  private async syncDirectory(): Promise<void> {
    const handle = await open(this.directory, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }
}
