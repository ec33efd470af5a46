/** Trace and span ids as lowercase hex, the form OTLP/JSON uses and DecodedSpan stores. */

/** Whether every character is a hex digit, either case (what OTLP/JSON allows in ids). */
export function isHexDigits(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index) | 0x20 // folds A-F onto a-f and leaves digits as they are
    if (!((code >= 48 && code <= 57) || (code >= 97 && code <= 102))) return false
  }
  return true
}

/**
 * Whether a hex id (already known to be hex digits) is `byteLength` bytes and not all zero, which OTLP
 * calls invalid. Cheap enough to run on every id: the zero scan stops at the first non-'0' digit.
 */
export function isValidHexId(hex: string, byteLength: number): boolean {
  return hex.length === byteLength * 2 && !isAllZeroHex(hex)
}

/** Whether every character is '0' (an all-zero id, which senders sometimes use to mean "no parent"). */
export function isAllZeroHex(hex: string): boolean {
  for (let index = 0; index < hex.length; index++) if (hex.charCodeAt(index) !== 48) return false
  return true
}
