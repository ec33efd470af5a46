import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** The collector's own Prometheus metrics (ingest and metric refresh). One registry per collector: no global state. */
export function createIngestMetrics() {
  const registry = new Registry()
  const metrics = {
    registry,
    requests: new Counter({
      name: 'daa_export_requests_total',
      help: 'OTLP export requests, by transport and response status',
      labelNames: ['transport', 'status'] as const,
      registers: [registry],
    }),
    spansReceived: new Counter({
      name: 'daa_spans_received_total',
      help: 'Spans decoded from export requests (accepted and rejected)',
      registers: [registry],
    }),
    spansAccepted: new Counter({
      name: 'daa_spans_accepted_total',
      help: 'Spans acknowledged to senders (fsynced in the write-ahead log)',
      registers: [registry],
    }),
    spansRejected: new Counter({
      name: 'daa_spans_rejected_total',
      help: 'Invalid spans refused through partial_success',
      registers: [registry],
    }),
    batches: new Counter({
      name: 'daa_batches_total',
      help: 'Batches written to ClickHouse, straight from memory (clickhouse) or from the log (replay)',
      labelNames: ['destination'] as const,
      registers: [registry],
    }),
    insertFailures: new Counter({
      name: 'daa_insert_failures_total',
      help: 'Batch inserts into ClickHouse that failed (the batch stays in the write-ahead log)',
      registers: [registry],
    }),
    insertSeconds: new Histogram({
      name: 'daa_insert_duration_seconds',
      help: 'Time to insert one batch into ClickHouse',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    admissionWaits: new Counter({
      name: 'daa_admission_waits_total',
      help: 'Requests that found the buffer full and waited for room, by how the wait ended (admitted or refused with 429)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    admissionWaitSeconds: new Counter({
      name: 'daa_admission_wait_seconds_total',
      help: 'Time requests spent waiting for room in the buffer',
      registers: [registry],
    }),
    exportsInProgress: new Gauge({
      name: 'daa_exports_in_progress',
      help: 'Export requests (HTTP and gRPC) being read, prepared or logged now; slow uploads stay here',
      registers: [registry],
    }),
    admissionWaiting: new Gauge({
      name: 'daa_admission_waiting',
      help: 'Requests waiting for room in the buffer now',
      registers: [registry],
    }),
    bufferedBytes: new Gauge({
      name: 'daa_buffered_bytes',
      help: 'Request bytes buffered or being inserted, not yet durable',
      registers: [registry],
    }),
    walSegments: new Gauge({
      name: 'daa_wal_segments',
      help: 'Write-ahead log segments not yet committed in ClickHouse',
      registers: [registry],
    }),
    walOldestAgeSeconds: new Gauge({
      name: 'daa_wal_oldest_age_seconds',
      help: 'Age of the oldest write-ahead log record not yet committed in ClickHouse (0 when none waits)',
      registers: [registry],
    }),
    walConsecutiveFailures: new Gauge({
      name: 'daa_wal_consecutive_insert_failures',
      help: 'Inserts into ClickHouse failed in a row (0 once one succeeds): a growing value is a stuck log',
      registers: [registry],
    }),
    replayFailures: new Counter({
      name: 'daa_wal_replay_failures_total',
      help: 'Replays of the write-ahead log that stopped at a failed insert (retried on the next tick)',
      registers: [registry],
    }),
    walWriteFailures: new Counter({
      name: 'daa_wal_write_failures_total',
      help: 'Appends to the write-ahead log that failed (full disk, I/O error): answered 503, segment rolled',
      registers: [registry],
    }),
    walSkippedRecords: new Counter({
      name: 'daa_wal_skipped_records_total',
      help: 'Torn or corrupt write-ahead log stretches skipped on replay (the intact records around them are replayed)',
      registers: [registry],
    }),
    // The metric refresh, as this collector runs it (only the collector holding the claim refreshes).
    refreshes: new Counter({
      name: 'daa_metric_refreshes_total',
      help: 'Metric refreshes this collector finished, by mode (incremental or full)',
      labelNames: ['mode'] as const,
      registers: [registry],
    }),
    refreshFailures: new Counter({
      name: 'daa_metric_refresh_failures_total',
      help: 'Errors of the metric refresh loop (a refresh, or taking or giving up the claim); it retries at the next tick',
      registers: [registry],
    }),
    refreshDuration: new Histogram({
      name: 'daa_metric_refresh_duration_seconds',
      help: 'Time one metric refresh took; a refresh that grows tick after tick is falling behind',
      buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    refreshRuns: new Counter({
      name: 'daa_metric_refresh_runs_total',
      help: 'Runs whose facts metric refreshes recomputed',
      registers: [registry],
    }),
    refreshCovered: new Gauge({
      name: 'daa_metric_refresh_covered_timestamp_seconds',
      help: "Unix time up to which the last refresh covers every change: the API answers' fresh_as_of (staleness = time() minus this)",
      registers: [registry],
    }),
    deadLetterRows: new Counter({
      name: 'daa_dead_letter_rows_total',
      help: 'Rows ClickHouse refused for their data, set aside in the dead-letter area, by table',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    walBytes: new Gauge({
      name: 'daa_wal_bytes',
      help: 'Bytes in write-ahead log segments not yet committed in ClickHouse',
      registers: [registry],
    }),
    ingestWorkers: new Gauge({
      name: 'daa_ingest_workers',
      help: 'Worker threads decoding, mapping and encoding export requests (0: on the event loop)',
      registers: [registry],
    }),
    ingestWorkerExits: new Counter({
      name: 'daa_ingest_worker_exits_total',
      help: 'Ingest worker threads that stopped unexpectedly (their requests got 503) and were replaced',
      registers: [registry],
    }),
  }
  return metrics
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>
