/**
 * Reading typed values out of sender-controlled attributes, and rendering attributes into the
 * string maps the tables store. Nothing here throws: a value of the wrong type reads as absent.
 */

import type { Attributes, AttributeValue } from '../otlp/decoded-span.js'
import type { AttributeMap } from '../store/rows.js'

/**
 * A text attribute: strings as sent, finite numbers as their decimal text (an id sent as a number is
 * still that id); '' and every other type read as absent, so callers can fall back with `??`.
 */
export function readText(value: AttributeValue | undefined): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}

/**
 * A finite number: numbers as sent, and numeric strings (OTLP int64 values beyond a double's exact
 * range arrive as decimal text; some SDKs send every value as a string).
 */
export function readNumber(value: AttributeValue | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value === 'string' && value !== '') {
    const parsed = Number(value)
    return Number.isFinite(parsed) ? parsed : undefined
  }
  return undefined
}

/** A cost in USD: a finite number of 0 or more (`daa.cost.usd`); anything else reads as absent. */
export function readCost(value: AttributeValue | undefined): number | undefined {
  const cost = readNumber(value)
  return cost !== undefined && cost >= 0 ? cost : undefined
}

/**
 * A token count for a UInt64 column: a non-negative integer (fractions are truncated); negative,
 * non-numeric and non-finite values read as absent. (Decoding already rejects spans whose token
 * counts are numbers outside UInt64's exact range: see span-validation.ts.)
 */
export function readCount(value: AttributeValue | undefined): number | undefined {
  const number = readNumber(value)
  return number === undefined || number < 0 ? undefined : Math.trunc(number)
}

/**
 * A span id written as an attribute (`daa.run.id`, `daa.parent_run.id`): 16 hex characters, not all
 * zero, returned lowercase like the span ids in DecodedSpan. A character loop, not a regex: it runs
 * for most spans sent by `@daa/sdk`.
 */
export function readSpanId(value: AttributeValue | undefined): string | undefined {
  if (typeof value !== 'string' || value.length !== 16) return undefined
  let allZero = true
  let hasUpperCase = false
  for (let index = 0; index < 16; index++) {
    const code = value.charCodeAt(index)
    if (code >= 65 && code <= 70) hasUpperCase = true
    else if (!((code >= 48 && code <= 57) || (code >= 97 && code <= 102))) return undefined
    if (code !== 48) allZero = false
  }
  if (allZero) return undefined
  return hasUpperCase ? value.toLowerCase() : value
}

/** One attribute value as stored in a Map(String, String) column. */
export function renderAttributeValue(value: AttributeValue | undefined): string {
  switch (typeof value) {
    case 'string':
      return value
    case 'number':
      return String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object':
      if (value === null) return ''
      try {
        // Arrays and key-value lists keep their structure as JSON, which ClickHouse's JSON functions read.
        return JSON.stringify(value)
      } catch {
        return ''
      }
    default:
      // Not a decoded AttributeValue (undefined, or a bigint from a caller outside the decoders).
      return value === undefined ? '' : String(value)
  }
}

/** All attributes rendered to strings, for the span, resource, event and link attribute columns. */
export function renderAttributes(attributes: Attributes): AttributeMap {
  const rendered: AttributeMap = {}
  for (const key in attributes) {
    const text = renderAttributeValue(attributes[key])
    if (key === '__proto__') {
      // A sender-chosen key: assigning it would replace the map's prototype instead of adding an entry.
      Object.defineProperty(rendered, key, {
        value: text,
        enumerable: true,
        writable: true,
        configurable: true,
      })
    } else {
      rendered[key] = text
    }
  }
  return rendered
}
