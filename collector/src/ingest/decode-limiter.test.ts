import { describe, expect, it } from 'vitest'
import { ExportRejectedError } from '../otlp/errors.js'
import { DecodeLimiter } from './export-handler.js'

describe('DecodeLimiter', () => {
  it('lets a bounded number through, queues the next ones in order, and refuses beyond the queue with 429', async () => {
    const limiter = new DecodeLimiter(2, 1)
    const first = await limiter.acquire()
    const second = await limiter.acquire()
    const order: string[] = []
    const third = limiter.acquire().then((release) => {
      order.push('third')
      return release
    })
    // Two running, one waiting: the next is refused as overloaded (429 / UNAVAILABLE with a retry hint).
    const refused = await limiter.acquire().catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(ExportRejectedError)
    expect(refused).toMatchObject({ kind: 'overloaded', retryAfterSeconds: 1 })
    expect(order).toEqual([])
    first()
    first() // releasing twice frees one slot only
    const releaseThird = await third
    expect(order).toEqual(['third'])
    // Still two running (second, third): a newcomer waits.
    let fourthStarted = false
    const fourth = limiter.acquire().then((release) => {
      fourthStarted = true
      return release
    })
    await Promise.resolve()
    expect(fourthStarted).toBe(false)
    second()
    ;(await fourth)()
    releaseThird()
    // Everything released: a new request runs at once.
    ;(await limiter.acquire())()
  })
})
