import type { Store } from '../store/store.js'

/**
 * Attributes spans that arrived before (or apart from) their run to the nearest invoke_agent
 * ancestor, inside ClickHouse: a span whose parent is a run, or whose parent already knows its
 * run, is rewritten with that run id. ReplacingMergeTree keeps the newer version of the row.
 *
 * One pass resolves one level of the tree, so passes repeat until nothing changes. The work is
 * idempotent, so several collectors may run it at once.
 */
// Spans are sharded by trace, so a span and its parent always share a shard: on a cluster each
// shard joins its own rows, instead of shipping every parent to every shard.
const SAME_SHARD = "SETTINGS distributed_product_mode = 'local'"

const RESOLVE_ONE_LEVEL = `
INSERT INTO spans
SELECT child.* REPLACE (
    if(parent.operation = 'invoke_agent', parent.span_id, parent.run_id) AS run_id,
    now64(3) AS ingested_at
)
FROM (
    SELECT * FROM spans FINAL
    WHERE run_id = '' AND parent_span_id != '' AND operation != 'invoke_agent'
      AND timestamp >= {since:DateTime64(9)}
) AS child
INNER JOIN (
    SELECT project_id, trace_id, span_id, operation, run_id FROM spans FINAL
    WHERE (operation = 'invoke_agent' OR run_id != '')
      AND timestamp >= {since:DateTime64(9)} - INTERVAL 1 DAY
) AS parent
ON child.project_id = parent.project_id AND child.trace_id = parent.trace_id AND child.parent_span_id = parent.span_id
${SAME_SHARD}`

const COUNT_RESOLVABLE = `
SELECT count() AS n
FROM (
    SELECT project_id, trace_id, parent_span_id FROM spans FINAL
    WHERE run_id = '' AND parent_span_id != '' AND operation != 'invoke_agent'
      AND timestamp >= {since:DateTime64(9)}
) AS child
INNER JOIN (
    SELECT project_id, trace_id, span_id FROM spans FINAL
    WHERE (operation = 'invoke_agent' OR run_id != '')
      AND timestamp >= {since:DateTime64(9)} - INTERVAL 1 DAY
) AS parent
ON child.project_id = parent.project_id AND child.trace_id = parent.trace_id AND child.parent_span_id = parent.span_id
${SAME_SHARD}`

export interface ResolveOptions {
  /** Only spans that started at or after this time are considered. Default: 2 days ago. */
  since?: Date
  /** Deepest chain of non-run spans between a span and its run that is followed. Default 16. */
  maxDepth?: number
}

/** Resolves pending run attributions; returns how many passes changed something. */
export async function resolvePendingRuns(store: Store, options: ResolveOptions = {}): Promise<number> {
  const since = (options.since ?? new Date(Date.now() - 2 * 86_400_000)).toISOString().replace('Z', '')
  const maxDepth = options.maxDepth ?? 16
  let passes = 0
  while (passes < maxDepth) {
    const [pending] = await store.query<{ n: number }>(COUNT_RESOLVABLE, { since })
    if (!pending?.n) break
    await store.command(RESOLVE_ONE_LEVEL, { since })
    passes += 1
  }
  return passes
}
