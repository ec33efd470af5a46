import { SPAN_AWAITS_RUN } from '../queries/run-spans.js'
import type { Store } from '../store/store.js'

/**
 * Attributes spans that arrived before (or apart from) their run to the nearest invoke_agent
 * ancestor, inside ClickHouse: a span whose parent is a run, or whose parent already knows its
 * run, is re-inserted with that run id (ReplacingMergeTree keeps the newer version of the row, and
 * the re-insert logs the run as changed, so the metrics pick it up).
 *
 * No time window: the resolver looks at the traces that had a span inserted since `since` (the
 * `trace_changes` log) and ever held a waiting span (`pending_traces`), whatever the spans' own
 * timestamps. A child and its run find each other when
 * the second of them arrives, be it seconds or weeks later, in a backfill or in a replay.
 *
 * One pass resolves one level of the tree, so passes repeat until nothing changes. The work is
 * idempotent, so several collectors may run it at once.
 */
// Spans and trace_changes are both sharded by (project, trace), so a span, its parent and its trace's
// changes always share a shard: on a cluster each shard joins its own rows.
const SAME_SHARD = "SETTINGS distributed_product_mode = 'local'"

/**
 * The traces to look at: those changed since {since} that ever held a span waiting for its run
 * (pending_traces), or every trace when resolving everything. A trace whose spans all arrived with
 * their run is never read here.
 */
function tracesFilter(all: boolean): string {
  if (all) return '1'
  const pending = `SELECT project_id, trace_id FROM pending_traces
        WHERE (project_id, trace_id) IN (SELECT project_id, trace_id FROM trace_changes WHERE changed_at >= {since:DateTime64(3, 'UTC')})`
  // trace_id alone first, so the bloom filter index on spans.trace_id can skip granules.
  return `trace_id IN (SELECT trace_id FROM (${pending}))
      AND (project_id, trace_id) IN (${pending})`
}

function pendingJoin(all: boolean, childColumns: string): string {
  return `
FROM (
    SELECT ${childColumns} FROM spans FINAL
    WHERE ${SPAN_AWAITS_RUN}
      AND ${tracesFilter(all)}
) AS child
INNER JOIN (
    SELECT project_id, trace_id, span_id, operation, run_id FROM spans FINAL
    WHERE (operation = 'invoke_agent' OR run_id != '')
      AND ${tracesFilter(all)}
) AS parent
ON child.project_id = parent.project_id AND child.trace_id = parent.trace_id AND child.parent_span_id = parent.span_id
${SAME_SHARD}`
}

const resolveOneLevel = (all: boolean) => `
INSERT INTO spans
SELECT child.* REPLACE (
    if(parent.operation = 'invoke_agent', parent.span_id, parent.run_id) AS run_id,
    now64(3) AS ingested_at
)${pendingJoin(all, '*')}`

const countResolvable = (all: boolean) =>
  `SELECT count() AS n${pendingJoin(all, 'project_id, trace_id, parent_span_id')}`

export interface ResolveOptions {
  /**
   * Look at the traces that had a span inserted at or after this instant (ClickHouse's clock).
   * Default: every trace, whatever its age (a full pass; what a first refresh does).
   */
  since?: Date
  /** Deepest chain of non-run spans between a span and its run that is followed. Default 16. */
  maxDepth?: number
}

/** Resolves pending run attributions; returns how many passes changed something. */
export async function resolvePendingRuns(store: Store, options: ResolveOptions = {}): Promise<number> {
  const all = options.since === undefined
  const params: Record<string, string> = all
    ? {}
    : { since: options.since!.toISOString().replace('T', ' ').replace('Z', '') }
  const maxDepth = options.maxDepth ?? 16
  let passes = 0
  while (passes < maxDepth) {
    const [pending] = await store.query<{ n: number }>(countResolvable(all), params)
    if (!pending?.n) break
    await store.command(resolveOneLevel(all), params)
    passes += 1
  }
  return passes
}
