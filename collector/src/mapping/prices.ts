/**
 * The price table that turns token counts into USD when a span does not carry its own
 * `daa.cost.usd`. Prices change often and differ per contract, so daa ships no prices: the operator
 * supplies a JSON file (parsed by `parsePriceTable`), and without one only sender-reported costs count.
 */
import { z } from 'zod'

/** One model's prices, each in USD per million tokens. */
export interface ModelPrice {
  /** Uncached input (prompt) tokens. */
  input: number
  /** Output (completion) tokens; reasoning tokens are part of output and are billed at this price. */
  output: number
  /** Input tokens read from the provider's cache; the input price when absent. */
  cacheRead?: number
  /** Input tokens written to the provider's cache; the input price when absent. */
  cacheWrite?: number
}

/**
 * Token counts of one LLM call, as the OpenTelemetry GenAI conventions define them:
 * `inputTokens` includes the cached (read and written) tokens, `outputTokens` includes reasoning.
 */
export interface TokenUsage {
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheWriteTokens: number
}

export interface PriceTable {
  /** Number of models in the table. */
  readonly size: number
  /**
   * The price of `model`: the entry of that exact name, else of the longest name in the table that is
   * a prefix of `model` followed by '-', '@' or ':' (so `gpt-5-2026-08-01` and
   * `claude-sonnet-4@20250514` find `gpt-5` and `claude-sonnet-4`); case-insensitive.
   */
  priceOf(model: string): ModelPrice | undefined
  /** Every model and its price, as given (an ingest worker thread rebuilds the table from them). */
  entries(): Array<[string, ModelPrice]>
}

/** Separators after which a dated or tagged model name may fall back to its base name. */
function isVersionSeparator(charCode: number): boolean {
  return charCode === 45 /* - */ || charCode === 64 /* @ */ || charCode === 58 /* : */
}

/**
 * Model names come from senders, so the lookup memo is bounded: past this many distinct names it
 * starts over instead of growing with whatever a client sends.
 */
const MAX_MEMOISED_MODELS = 10_000

/**
 * Builds a table from model name → price. Throws when two names differ only in case (the lookup is
 * case-insensitive, so one of them would silently never apply).
 */
export function createPriceTable(
  entries: Readonly<Record<string, ModelPrice>> | Iterable<readonly [string, ModelPrice]>,
): PriceTable {
  const pairs: Iterable<readonly [string, ModelPrice]> =
    Symbol.iterator in entries
      ? (entries as Iterable<readonly [string, ModelPrice]>)
      : Object.entries(entries as Readonly<Record<string, ModelPrice>>)
  const pricesByLowerCaseName = new Map<string, ModelPrice>()
  const originalNames = new Map<string, string>()
  for (const [name, price] of pairs) {
    const key = name.toLowerCase()
    const earlier = originalNames.get(key)
    if (earlier !== undefined) {
      throw new Error(`price table: models "${earlier}" and "${name}" differ only in case`)
    }
    originalNames.set(key, name)
    pricesByLowerCaseName.set(key, { ...price })
  }

  // `null` memoises "no price", so a model missing from the table is searched for once.
  const memo = new Map<string, ModelPrice | null>()
  const search = (lowerCaseModel: string): ModelPrice | null => {
    const exact = pricesByLowerCaseName.get(lowerCaseModel)
    if (exact !== undefined) return exact
    // Walking separators right to left tries the longest candidate prefix first.
    for (let index = lowerCaseModel.length - 1; index > 0; index--) {
      if (!isVersionSeparator(lowerCaseModel.charCodeAt(index))) continue
      const price = pricesByLowerCaseName.get(lowerCaseModel.slice(0, index))
      if (price !== undefined) return price
    }
    return null
  }

  return {
    size: pricesByLowerCaseName.size,
    entries: () => [...originalNames].map(([key, name]) => [name, { ...pricesByLowerCaseName.get(key)! }]),
    priceOf(model: string): ModelPrice | undefined {
      if (pricesByLowerCaseName.size === 0 || model === '') return undefined
      const lowerCaseModel = model.toLowerCase()
      let price = memo.get(lowerCaseModel)
      if (price === undefined) {
        price = search(lowerCaseModel)
        if (memo.size >= MAX_MEMOISED_MODELS) memo.clear()
        memo.set(lowerCaseModel, price)
      }
      return price ?? undefined
    },
  }
}

/**
 * USD for one call. Cached tokens are part of `inputTokens`, so they are taken out of the input count
 * before it is billed at the input price; the remainder never goes below zero (some instrumentations
 * report input without the cached part).
 */
export function costUsd(price: ModelPrice, usage: TokenUsage): number {
  const uncachedInput = Math.max(0, usage.inputTokens - usage.cacheReadTokens - usage.cacheWriteTokens)
  const microDollars =
    uncachedInput * price.input +
    usage.cacheReadTokens * (price.cacheRead ?? price.input) +
    usage.cacheWriteTokens * (price.cacheWrite ?? price.input) +
    usage.outputTokens * price.output
  return microDollars / 1_000_000
}

// zod 4's number() already rejects NaN and ±Infinity.
const usdPerMillionTokens = z
  .number({ error: 'expected a finite number (USD per million tokens)' })
  .nonnegative({ error: 'expected a price of 0 or more (USD per million tokens)' })

const modelPriceSchema = z.strictObject(
  {
    input: usdPerMillionTokens,
    output: usdPerMillionTokens,
    cacheRead: usdPerMillionTokens.optional(),
    cacheWrite: usdPerMillionTokens.optional(),
  },
  {
    error:
      'expected an object with USD per million tokens: input, output, and optionally cacheRead, cacheWrite',
  },
)

const priceTableSchema = z.record(
  z.string().min(1, { error: 'a model name must not be empty' }),
  modelPriceSchema,
  { error: 'expected an object of model name → { input, output, cacheRead?, cacheWrite? }' },
)

/** "model "gpt-5", field "input"" from a zod issue path. */
function describeIssuePath(path: readonly PropertyKey[]): string {
  const [model, field] = path
  if (model === undefined) return 'the price table'
  const modelPart = `model "${String(model)}"`
  return field === undefined ? modelPart : `${modelPart}, field "${String(field)}"`
}

/**
 * Validates a parsed price JSON file, for example
 * `{ "gpt-5": { "input": 1.25, "output": 10, "cacheRead": 0.125 } }` (USD per million tokens),
 * and builds its table. Throws one Error listing every problem, each naming the model and field.
 */
export function parsePriceTable(json: unknown): PriceTable {
  const parsed = priceTableSchema.safeParse(json)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      let message = issue.message
      if (issue.code === 'unrecognized_keys') message = `unknown field(s) ${issue.keys.join(', ')}`
      // A bad model name: the key schema's own message says what is wrong with it.
      else if (issue.code === 'invalid_key') message = issue.issues[0]?.message ?? message
      return `${describeIssuePath(issue.path)}: ${message}`
    })
    throw new Error(`invalid price table: ${problems.join('; ')}`)
  }
  const entries: Array<[string, ModelPrice]> = Object.entries(parsed.data).map(([model, price]) => {
    const modelPrice: ModelPrice = { input: price.input, output: price.output }
    if (price.cacheRead !== undefined) modelPrice.cacheRead = price.cacheRead
    if (price.cacheWrite !== undefined) modelPrice.cacheWrite = price.cacheWrite
    return [model, modelPrice]
  })
  return createPriceTable(entries)
}

/**
 * The table used when the operator configures none: empty on purpose. Published prices go stale and
 * negotiated ones differ, so a built-in list would produce confidently wrong costs; with an empty
 * table a span's cost is its own `daa.cost.usd`, else 0.
 */
export const DEFAULT_PRICES: PriceTable = createPriceTable([])
