/**
 * A one-line progress bar for long CLI operations (backfill, import, replay, rebuild). It draws
 * only on a terminal: piped or logged output stays quiet. Redraws are throttled, and it needs no
 * timer, so it never keeps a process alive.
 */

export interface ProgressOptions {
  /** Where to draw. Default process.stderr, so stdout stays clean for data. */
  stream?: NodeJS.WriteStream
  /** Least time between two redraws. Default 100 ms. */
  redrawMs?: number
  /** Formats the counts, e.g. as bytes. Default: the plain number. */
  format?: (value: number) => string
}

export interface Progress {
  /** Adds `amount` (default 1) to what is done. */
  advance(amount?: number): void
  /** Sets the total when it becomes known later, or changes. */
  setTotal(total: number): void
  /** Draws the final state and ends the line. Idempotent. */
  done(): void
}

const NO_PROGRESS: Progress = { advance() {}, setTotal() {}, done() {} }

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

/** A bar labelled `label` going from 0 to `total`; a no-op when the stream is not a terminal. */
export function progressBar(label: string, total: number, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr
  if (!stream.isTTY) return NO_PROGRESS
  const redrawMs = options.redrawMs ?? 100
  const format = options.format ?? String
  let done = 0
  let lastDraw = 0
  let finished = false
  const draw = () => {
    const share = total > 0 ? Math.min(1, done / total) : 0
    const counts = `${format(done)}/${format(total)} ${Math.floor(share * 100)}%`
    const room = Math.max(10, Math.min(40, (stream.columns ?? 80) - label.length - counts.length - 6))
    const filled = Math.round(share * room)
    stream.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(room - filled)}] ${counts}\x1b[K`)
  }
  return {
    advance(amount = 1) {
      if (finished) return
      done += amount
      const now = Date.now()
      if (now - lastDraw >= redrawMs) {
        lastDraw = now
        draw()
      }
    },
    setTotal(value) {
      total = value
    },
    done() {
      if (finished) return
      finished = true
      draw()
      stream.write('\n')
    },
  }
}
