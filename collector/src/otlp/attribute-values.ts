/** Helpers shared by the protobuf and JSON decoders to build DecodedSpan attribute maps. */
import type { Attributes, AttributeValue } from './decoded-span.js'

/**
 * Sets one attribute; a repeated key keeps the last value (the specification forbids duplicates and
 * leaves the receiver's behaviour open). The key is sender-controlled, so `__proto__` is defined as an
 * own property instead of assigned, which would replace the map's prototype.
 */
export function setAttribute(attributes: Attributes, key: string, value: AttributeValue): void {
  if (key === '__proto__') {
    Object.defineProperty(attributes, key, { value, enumerable: true, writable: true, configurable: true })
  } else {
    attributes[key] = value
  }
}

/** An int64 attribute value: a number when a double holds it exactly, else its decimal text (no precision lost). */
export function int64ToAttributeValue(value: bigint): number | string {
  const asNumber = Number(value)
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString()
}
