/**
 * Per-key rate limits: one token bucket per API key, refilled continuously. A request takes one
 * token; with none left it is refused with 429 and a Retry-After of when the next token arrives.
 */

export interface RateLimitOptions {
  /** Requests per second each key may make on average; 0 turns limits off. Default 1000. */
  requestsPerSecond?: number
  /** Requests a key may make at once after being idle (the bucket's size). Default 2 × requestsPerSecond. */
  burst?: number
  /** Most buckets kept; the least recently used are forgotten (they refill fully anyway). Default 100000. */
  maxKeys?: number
}

interface Bucket {
  tokens: number
  updatedAt: number
}

export class KeyRateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  readonly requestsPerSecond: number
  readonly burst: number
  private readonly maxKeys: number

  constructor(options: RateLimitOptions = {}) {
    this.requestsPerSecond = Math.max(0, options.requestsPerSecond ?? 1000)
    this.burst = Math.max(1, options.burst || 2 * this.requestsPerSecond)
    this.maxKeys = Math.max(1, options.maxKeys ?? 100_000)
  }

  /**
   * Takes a token for `key`. Returns 0 when the request may go ahead, else the seconds (whole,
   * at least 1) until a token will be there.
   */
  take(key: string, now = Date.now()): number {
    if (this.requestsPerSecond === 0) return 0
    let bucket = this.buckets.get(key)
    if (bucket) {
      this.buckets.delete(key)
      bucket.tokens = Math.min(
        this.burst,
        bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.requestsPerSecond,
      )
      bucket.updatedAt = now
    } else {
      bucket = { tokens: this.burst, updatedAt: now }
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value
        if (oldest !== undefined) this.buckets.delete(oldest)
      }
    }
    // Re-inserted, so the map's order is least recently used first.
    this.buckets.set(key, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.requestsPerSecond))
  }
}
