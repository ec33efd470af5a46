/**
 * Whether a process with this pid is running: the check behind every pid file the collector reads
 * (its write-ahead log's lock, its admin credential, the embedded engine's status file).
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
