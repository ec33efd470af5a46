import { describe, expect, it } from 'vitest'
import { KeyRateLimiter } from './rate-limit.js'

describe('KeyRateLimiter', () => {
  it('lets a burst through, then one request per refill, and says how long to wait', () => {
    const limiter = new KeyRateLimiter({ requestsPerSecond: 2, burst: 3 })
    const t = 1_000_000
    expect([limiter.take('a', t), limiter.take('a', t), limiter.take('a', t)]).toEqual([0, 0, 0])
    expect(limiter.take('a', t)).toBe(1)
    // Half a second refills one token at 2/s.
    expect(limiter.take('a', t + 500)).toBe(0)
    expect(limiter.take('a', t + 500)).toBeGreaterThanOrEqual(1)
    // Each key has its own bucket.
    expect(limiter.take('b', t + 500)).toBe(0)
  })

  it('never refills past the burst', () => {
    const limiter = new KeyRateLimiter({ requestsPerSecond: 10, burst: 2 })
    expect(limiter.take('a', 0)).toBe(0)
    const later = 3_600_000
    expect([limiter.take('a', later), limiter.take('a', later), limiter.take('a', later)]).toEqual([0, 0, 1])
  })

  it('is off at 0 requests per second, and bursts twice the rate by default', () => {
    const off = new KeyRateLimiter({ requestsPerSecond: 0 })
    for (let i = 0; i < 10_000; i++) expect(off.take('a', 0)).toBe(0)
    expect(new KeyRateLimiter({ requestsPerSecond: 5 }).burst).toBe(10)
    expect(new KeyRateLimiter().requestsPerSecond).toBe(1000)
  })
})
