import { chmod, mkdir, open, readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * The dead-letter area: rows ClickHouse refused for their data (not for being away), isolated one
 * by one so the rest of their batch could be stored. Each is kept, never silently dropped: a JSON
 * line per row in a file per day (`<dir>/YYYY-MM-DD.jsonl`, owner-only), fsynced before the
 * write-ahead log segment that held it is deleted. `daa dead-letter list|show` reads them.
 */

export interface DeadLetter {
  /** When the row was set aside (ISO 8601). */
  at: string
  projectId: string
  table: string
  /** What ClickHouse said. */
  error: { code: number; type: string; message: string }
  columns: string[]
  /** The row as it was sent to ClickHouse (one JSONCompactEachRow line, parsed). */
  row: unknown[]
}

export interface DeadLetterFile {
  file: string
  /** Rows in the file. */
  rows: number
  bytes: number
  /** Rows per project. */
  projects: Record<string, number>
}

/** Appends dead letters to today's file and fsyncs it. */
export async function writeDeadLetters(directory: string, letters: readonly DeadLetter[]): Promise<string> {
  await mkdir(directory, { recursive: true, mode: 0o700 })
  await chmod(directory, 0o700).catch(() => {})
  const file = `${new Date().toISOString().slice(0, 10)}.jsonl`
  const handle = await open(join(directory, file), 'a', 0o600)
  try {
    const text = letters.map((letter) => `${JSON.stringify(letter)}\n`).join('')
    await handle.writeFile(text)
    await handle.datasync()
  } finally {
    await handle.close()
  }
  return file
}

/** The dead-letter files, oldest first, with their row counts per project. Empty when there are none. */
export async function listDeadLetters(directory: string): Promise<DeadLetterFile[]> {
  let names: string[]
  try {
    names = (await readdir(directory)).filter((name) => name.endsWith('.jsonl')).sort()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const files: DeadLetterFile[] = []
  for (const file of names) {
    const letters = await readDeadLetters(directory, file)
    const projects: Record<string, number> = {}
    for (const letter of letters) projects[letter.projectId] = (projects[letter.projectId] ?? 0) + 1
    files.push({ file, rows: letters.length, bytes: (await stat(join(directory, file))).size, projects })
  }
  return files
}

/** Every dead letter of one file (a name from listDeadLetters; no path parts). */
export async function readDeadLetters(directory: string, file: string): Promise<DeadLetter[]> {
  if (file.includes('/') || file.includes('\\') || file.startsWith('.')) {
    throw new Error(`Not a dead-letter file name: ${file}`)
  }
  const text = await readFile(join(directory, file), 'utf8')
  const letters: DeadLetter[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    try {
      letters.push(JSON.parse(line) as DeadLetter)
    } catch {
      // A line torn by a crash mid-append was never counted as set aside: its segment was replayed.
    }
  }
  return letters
}
