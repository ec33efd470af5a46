/**
 * How run durations are kept for latency percentiles: counted per bucket, not listed one by one.
 * A leaf module, because both the refresh (through run-facts.ts) and migration 7 (in
 * rollup-schema.ts) compute the buckets. Why this shape: collector/docs/metric-layer.md
 * ("Latency from duration buckets").
 *
 * A duration of `d` ns falls in a log-linear bucket: below 2^DURATION_BUCKET_BITS ns it is its own
 * bucket; above, `d` keeps its DURATION_BUCKET_BITS + 1 highest bits and the bucket is named by its
 * middle. So every power of two is cut into 2^DURATION_BUCKET_BITS buckets, and a bucket's middle is
 * within 1 / 2^(DURATION_BUCKET_BITS + 1) of any duration in it (0.78%). Integer arithmetic only,
 * so the same duration gets the same bucket in ClickHouse, in a test and in a user's own query.
 *
 * A percentile is then exact over the bucketed durations: the bucket of the duration at 0-based
 * position floor(level × n) of the sorted durations (bucketing keeps their order).
 */

/** Sub-buckets per power of two, as bits: 2^6 = 64 buckets per doubling, at most 0.78% off. */
export const DURATION_BUCKET_BITS = 6

/**
 * SQL: the bucket (its middle, UInt64 ns) of the UInt64 duration `ns` (a column name or a lambda's
 * argument; it is repeated). floor(log2(ns)) is taken from the float log2 and corrected by one
 * either way with exact shifts, so a float rounding at a power of two cannot move a bucket.
 */
export function durationBucketSql(ns: string): string {
  const positive = `greatest(${ns}, 1)`
  const approximate = `toUInt8(log2(${positive}))`
  const exponent = `(${approximate} - (bitShiftRight(${positive}, ${approximate}) = 0) + (bitShiftRight(${positive}, ${approximate} + 1) != 0))`
  const shift = `greatest(toInt16(${exponent}) - ${DURATION_BUCKET_BITS}, 0)`
  return `toUInt64(bitShiftLeft(bitShiftRight(${ns}, ${shift}), ${shift}) + bitShiftRight(bitShiftLeft(toUInt64(1), ${shift}), 1))`
}

/** SQL: the buckets of one run, as a map to add up with sumMap. */
export function runDurationBucketsSql(ns: string): string {
  return `map(${durationBucketSql(ns)}, toUInt64(1))`
}

/** SQL: an Array(UInt64) of durations (the rollups before migration 7) as a map of bucket → runs. */
export function durationBucketsOfArraySql(durations: string): string {
  return `arrayReduce('sumMap', arrayMap(ns -> ${runDurationBucketsSql('ns')}, ${durations}))`
}
