import { describe, expect, it } from 'vitest'
import { costUsd, createPriceTable, DEFAULT_PRICES, parsePriceTable } from './prices.js'

describe('price lookup', () => {
  const table = createPriceTable({
    'gpt-5': { input: 1.25, output: 10 },
    'gpt-5-mini': { input: 0.25, output: 2 },
    'Claude-Sonnet-4': { input: 3, output: 15 },
    'llama3.1': { input: 0.1, output: 0.1 },
  })

  it('finds exact names, case-insensitively', () => {
    expect(table.priceOf('gpt-5')?.input).toBe(1.25)
    expect(table.priceOf('GPT-5-MINI')?.input).toBe(0.25)
    expect(table.priceOf('claude-sonnet-4')?.input).toBe(3)
    expect(table.size).toBe(4)
  })

  it("falls back to the longest table name followed by '-', '@' or ':'", () => {
    expect(table.priceOf('gpt-5-2026-08-01')?.input).toBe(1.25)
    expect(table.priceOf('gpt-5-mini-2026-08-01')?.input).toBe(0.25)
    expect(table.priceOf('claude-sonnet-4@20250514')?.input).toBe(3)
    expect(table.priceOf('llama3.1:8b-instruct')?.input).toBe(0.1)
  })

  it('does not match a prefix that is not followed by a separator, nor unknown names', () => {
    expect(table.priceOf('gpt-50')).toBeUndefined()
    expect(table.priceOf('gpt-5.1')).toBeUndefined()
    expect(table.priceOf('gpt')).toBeUndefined()
    expect(table.priceOf('')).toBeUndefined()
    // Asked twice: the memoised miss answers the same.
    expect(table.priceOf('unknown-model')).toBeUndefined()
    expect(table.priceOf('unknown-model')).toBeUndefined()
  })

  it('refuses names that differ only in case, since the lookup could never reach one of them', () => {
    expect(() =>
      createPriceTable([
        ['gpt-5', { input: 1, output: 1 }],
        ['GPT-5', { input: 2, output: 2 }],
      ]),
    ).toThrow('models "gpt-5" and "GPT-5" differ only in case')
  })

  it('ships no prices by default', () => {
    expect(DEFAULT_PRICES.size).toBe(0)
    expect(DEFAULT_PRICES.priceOf('gpt-5')).toBeUndefined()
  })
})

describe('cost of one call', () => {
  it('bills cached tokens at their own prices and only the uncached rest at the input price', () => {
    const price = { input: 2, output: 8, cacheRead: 0.5, cacheWrite: 2.5 }
    // (10_000 − 6_000 − 1_000) × 2 + 6_000 × 0.5 + 1_000 × 2.5 + 500 × 8 = 15_500 per million.
    expect(
      costUsd(price, {
        inputTokens: 10_000,
        cacheReadTokens: 6_000,
        cacheWriteTokens: 1_000,
        outputTokens: 500,
      }),
    ).toBeCloseTo(0.0155, 12)
  })

  it('uses the input price for cached tokens when the model has no cache prices', () => {
    const price = { input: 2, output: 8 }
    expect(
      costUsd(price, { inputTokens: 1_000, cacheReadTokens: 400, cacheWriteTokens: 100, outputTokens: 0 }),
    ).toBeCloseTo(0.002, 12)
  })

  it('never bills a negative uncached remainder when input was reported without the cached part', () => {
    const price = { input: 2, output: 0, cacheRead: 1 }
    expect(
      costUsd(price, { inputTokens: 100, cacheReadTokens: 1_000, cacheWriteTokens: 0, outputTokens: 0 }),
    ).toBeCloseTo(0.001, 12)
  })
})

describe('parsing a price file', () => {
  it('builds a table from valid JSON', () => {
    const table = parsePriceTable(
      JSON.parse(
        '{"gpt-5": {"input": 1.25, "output": 10, "cacheRead": 0.125}, "o3": {"input": 2, "output": 8}}',
      ),
    )
    expect(table.priceOf('gpt-5-2026-08-01')).toEqual({ input: 1.25, output: 10, cacheRead: 0.125 })
    expect(table.priceOf('o3')).toEqual({ input: 2, output: 8 })
  })

  it('names the model and field of every problem', () => {
    const attempt = () =>
      parsePriceTable({
        'gpt-5': { input: '1.25', output: 10 },
        o3: { input: 2, output: -8 },
        'gpt-4o': { input: 2.5, output: 10, cachedInput: 1.25 },
        'gemini-2.5-pro': { output: 10 },
      })
    expect(attempt).toThrow(/model "gpt-5", field "input": expected a finite number/)
    expect(attempt).toThrow(/model "o3", field "output": expected a price of 0 or more/)
    expect(attempt).toThrow(/model "gpt-4o": unknown field\(s\) cachedInput/)
    expect(attempt).toThrow(/model "gemini-2.5-pro", field "input"/)
  })

  it('refuses what is not an object of models', () => {
    expect(() => parsePriceTable([1, 2])).toThrow(/invalid price table: the price table: expected an object/)
    expect(() => parsePriceTable({ 'gpt-5': 3 })).toThrow(
      /model "gpt-5": expected an object with USD per million/,
    )
    expect(() => parsePriceTable({ '': { input: 1, output: 1 } })).toThrow(/a model name must not be empty/)
  })
})
