import { readFileSync } from 'node:fs'

/**
 * When a process started, as `<boot id>/<start time in clock ticks>` read from Linux's /proc, or
 * undefined where /proc cannot tell (another OS, a process gone). A pid alone names a different
 * process after a reboot or a container restart, where the same few pids are handed out again;
 * the pid with its start names one process.
 */
export function processStartOf(pid: number): string | undefined {
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22, counted after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const startTicks = fields[19]
    return bootId && startTicks ? `${bootId}/${startTicks}` : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether the process a pid file names is running: the check behind every pid file the collector
 * reads (its write-ahead log's lock, its admin credential, the embedded engine's status file).
 * With the `start` the file recorded (processStartOf), a live process with the same pid but
 * another start is a different one, and the file is stale.
 */
export function isProcessAlive(pid: number, start?: string): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  if (start === undefined) return true
  const current = processStartOf(pid)
  return current === undefined || current === start
}
