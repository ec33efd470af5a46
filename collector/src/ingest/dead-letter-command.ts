import { join } from 'node:path'
import { listDeadLetters, readDeadLetters } from './dead-letters.js'

/**
 * `daa dead-letter list` and `daa dead-letter show FILE`: the rows ClickHouse refused, read from
 * `<data dir>/dead-letter` (no ClickHouse needed, so it runs beside a running collector).
 * Returns the exit code.
 */
export async function deadLetterCommand(
  dataDir: string,
  args: readonly string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const directory = join(dataDir, 'dead-letter')
  const [action, file] = args
  if (action === 'list' && file === undefined) {
    const files = await listDeadLetters(directory)
    if (files.length === 0) {
      out.write(`no dead letters in ${directory}\n`)
      return 0
    }
    for (const entry of files) {
      const projects = Object.entries(entry.projects)
        .map(([project, rows]) => `${project}=${rows}`)
        .join(',')
      out.write(`${entry.file}\t${entry.rows} rows\t${entry.bytes} bytes\tprojects: ${projects}\n`)
    }
    return 0
  }
  if (action === 'show' && file !== undefined) {
    let letters: Awaited<ReturnType<typeof readDeadLetters>>
    try {
      letters = await readDeadLetters(directory, file)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      err.write(`no dead-letter file ${file} in ${directory} (see "daa dead-letter list")\n`)
      return 1
    }
    for (const letter of letters) out.write(`${JSON.stringify(letter)}\n`)
    return 0
  }
  err.write('usage: daa dead-letter list | daa dead-letter show FILE   [--data-dir DIR]\n')
  return 2
}
