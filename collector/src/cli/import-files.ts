/**
 * `daa import --project NAME FILES…`: backfills OTLP JSON trace files (an ExportTraceServiceRequest
 * per file, or one per line as the OpenTelemetry Collector's file exporter writes them). Each
 * request goes through the admin import route, which is the OTLP endpoint's own path: the same
 * validation (bad spans are rejected and counted, the good ones beside them kept), the same
 * write-ahead log, and the same deduplication, so importing a file twice counts it once.
 */
import { readFile, stat } from 'node:fs/promises'
import type { AdminClient } from './admin-client.js'
import { formatBytes, type Progress, progressBar } from './progress.js'

export interface ImportReport {
  files: number
  requests: number
  acceptedSpans: number
  rejectedSpans: number
  /** Requests refused whole (e.g. not OTLP JSON), with the file and line. */
  failures: string[]
  /** Reasons given for rejected spans, without repeats. */
  reasons: string[]
}

/** The requests in a file: the whole file when it is one JSON document, else one per non-empty line. */
function requestsOf(text: string): { body: string; line: number }[] {
  const trimmed = text.trim()
  if (!trimmed) return []
  try {
    JSON.parse(trimmed)
    return [{ body: trimmed, line: 1 }]
  } catch {
    return text
      .split('\n')
      .map((body, index) => ({ body: body.trim(), line: index + 1 }))
      .filter((request) => request.body !== '')
  }
}

export async function importFiles(
  admin: AdminClient,
  project: string,
  files: string[],
  progress: (total: number) => Progress = (total) => progressBar('import', total, { format: formatBytes }),
): Promise<ImportReport> {
  const sizes = await Promise.all(files.map(async (file) => (await stat(file)).size))
  const bar = progress(sizes.reduce((sum, size) => sum + size, 0))
  const report: ImportReport = {
    files: 0,
    requests: 0,
    acceptedSpans: 0,
    rejectedSpans: 0,
    failures: [],
    reasons: [],
  }
  const reasons = new Set<string>()
  try {
    for (const file of files) {
      const text = await readFile(file, 'utf8')
      for (const { body, line } of requestsOf(text)) {
        const response = await admin.request(`/admin/v1/import?project=${encodeURIComponent(project)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        })
        const answer = (await response.json().catch(() => ({}))) as {
          acceptedSpans?: number
          rejectedSpans?: number
          errorMessage?: string
          error?: { message?: string }
        }
        report.requests++
        if (!response.ok) {
          report.failures.push(`${file}:${line}: ${answer.error?.message ?? `HTTP ${response.status}`}`)
        } else {
          report.acceptedSpans += answer.acceptedSpans ?? 0
          report.rejectedSpans += answer.rejectedSpans ?? 0
          if (answer.errorMessage) reasons.add(answer.errorMessage)
        }
        bar.advance(Buffer.byteLength(body) + 1)
      }
      report.files++
    }
  } finally {
    bar.done()
  }
  report.reasons = [...reasons]
  return report
}
