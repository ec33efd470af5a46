/**
 * The SDK's own voice. Quiet by default: an agent's logs belong to the agent, so telemetry problems
 * are counted in `stats()` and only printed when `debug: true` was asked for. The one exception is
 * `warnOnce`, for a setup that loses data where no counter can show it.
 */

let debugEnabled = false

export function setDebug(enabled: boolean): void {
  debugEnabled = enabled
}

export function debugLog(message: string, error?: unknown): void {
  if (!debugEnabled) return
  try {
    const detail = error === undefined ? '' : `: ${describeError(error)}`
    console.warn(`[daa] ${message}${detail}`)
  } catch {
    // A broken console must not break the agent.
  }
}

const warned = new Set<string>()

/**
 * Says a misconfiguration once per process, even without `debug`: spans sent to another provider
 * never reach daa's processor, so `stats()` cannot count them and the loss would go unseen.
 */
export function warnOnce(message: string): void {
  if (warned.has(message)) return
  warned.add(message)
  try {
    console.warn(`[daa] ${message}`)
  } catch {
    // A broken console must not break the agent.
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`
  try {
    return String(error)
  } catch {
    return 'unprintable error'
  }
}

/** A low-cardinality name for an exception, for `error.type`. */
export function errorTypeOf(error: unknown): string {
  if (error instanceof Error) {
    const ctorName = error.constructor?.name
    return ctorName && ctorName !== 'Object' ? ctorName : error.name || 'Error'
  }
  if (error === null) return 'null'
  return typeof error === 'object' ? (error.constructor?.name ?? 'object') : typeof error
}
