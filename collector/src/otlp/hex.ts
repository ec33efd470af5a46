/** Trace and span ids as lowercase hex, the form OTLP/JSON uses and DecodedSpan stores. */

/** '00'..'ff' by byte value: one lookup and one concatenation per byte. */
const hexByByte: readonly string[] = Array.from({ length: 256 }, (_, byte) =>
  byte.toString(16).padStart(2, '0'),
)

export function bytesToHex(bytes: Uint8Array): string {
  let hex = ''
  for (let index = 0; index < bytes.length; index++) hex += hexByByte[bytes[index]!]
  return hex
}

/**
 * Whether `hex` is exactly `byteLength` bytes of lowercase hex and not all zeroes (OTLP treats an
 * all-zero trace or span id as invalid). A character loop instead of a regex: this runs twice per span.
 */
export function isValidHexId(hex: string, byteLength: number): boolean {
  if (hex.length !== byteLength * 2) return false
  let allZero = true
  for (let index = 0; index < hex.length; index++) {
    const code = hex.charCodeAt(index)
    const isDigit = code >= 48 && code <= 57
    if (!isDigit && !(code >= 97 && code <= 102)) return false
    if (code !== 48) allZero = false
  }
  return !allZero
}

/** Whether every character is '0' (an all-zero id, which senders sometimes use to mean "no parent"). */
export function isAllZeroHex(hex: string): boolean {
  for (let index = 0; index < hex.length; index++) if (hex.charCodeAt(index) !== 48) return false
  return true
}
