import { type Attributes, context, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { TracerProvider } from '@opentelemetry/sdk-trace'
import { MAX_SPAN_ATTRIBUTES } from './attributes.js'
import { debugLog, setDebug, warnOnce } from './diagnostics.js'
import {
  DaaSpanProcessor,
  type DaaSpanProcessorOptions,
  NO_STATS,
  type TelemetryStats,
} from './span-processor.js'
import { useTracerProvider } from './tracer.js'
import { SDK_NAME, SDK_VERSION } from './version.js'

export interface InitOptions extends DaaSpanProcessorOptions {
  /** `service.name` on every span. Else env `DAA_SERVICE_NAME`, then `OTEL_SERVICE_NAME`, then `agent`. */
  serviceName?: string
  /** `service.version` on every span. */
  serviceVersion?: string
  /** More resource attributes, e.g. `deployment.environment.name`. */
  resourceAttributes?: Attributes
  /**
   * Also register the provider, an AsyncLocalStorage context manager and W3C propagation globally
   * (default true), so other libraries' spans (Vercel AI SDK, HTTP) join daa runs. Whatever the app
   * registered first is left in place; a tracer provider registered first is warned about once,
   * since other libraries' spans then go there and never reach daa.
   */
  registerGlobal?: boolean
  /** Print telemetry problems to stderr. Default false: problems are only counted in `stats()`. */
  debug?: boolean
}

interface Standalone {
  provider: TracerProvider
  processor: DaaSpanProcessor
  registered: { tracerProvider: boolean; contextManager: boolean; propagator: boolean }
}

let standalone: Standalone | undefined

/**
 * Sets up OpenTelemetry for daa in this process: a tracer provider with `service.name`, the daa span
 * processor (bounded batching, OTLP/HTTP protobuf to `{endpoint}/v1/traces`, retries) and, unless
 * told otherwise, the global registrations other instrumentations rely on. Calling it again while
 * initialised changes nothing. Never throws.
 */
export function init(options: InitOptions = {}): void {
  try {
    if (options.debug !== undefined) setDebug(options.debug === true)
    if (standalone) {
      debugLog('init() called again; keeping the first configuration (call shutdown() first to change it)')
      return
    }
    const serviceName =
      options.serviceName || process.env.DAA_SERVICE_NAME || process.env.OTEL_SERVICE_NAME || 'agent'
    const resource = resourceFromAttributes({
      ...options.resourceAttributes,
      'service.name': serviceName,
      ...(options.serviceVersion ? { 'service.version': options.serviceVersion } : {}),
      'telemetry.sdk.name': SDK_NAME,
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.version': SDK_VERSION,
    })
    const processor = new DaaSpanProcessor(options)
    const provider = new TracerProvider({
      resource,
      spanProcessors: [processor],
      // OpenTelemetry's default of 128 would drop a run's outcome (set last) behind a run's own
      // attributes: allow what the collector stores.
      spanLimits: { attributeCountLimit: MAX_SPAN_ATTRIBUTES },
    })
    const registered = { tracerProvider: false, contextManager: false, propagator: false }
    if (options.registerGlobal !== false) {
      const contextManager = new AsyncLocalStorageContextManager()
      registered.contextManager = context.setGlobalContextManager(contextManager)
      if (registered.contextManager) contextManager.enable()
      registered.propagator = propagation.setGlobalPropagator(
        new CompositePropagator({
          propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
        }),
      )
      registered.tracerProvider = trace.setGlobalTracerProvider(provider)
      if (!registered.tracerProvider) {
        warnOnce(
          'another OpenTelemetry tracer provider is registered globally, so init() could not register its own: ' +
            'daa’s run, llm and tool spans still reach daa, but other libraries’ spans (Vercel AI SDK, HTTP clients, …) ' +
            'go to that provider and never reach daa. Add a DaaSpanProcessor to that provider instead of calling init().',
        )
      }
    }
    useTracerProvider(provider)
    standalone = { provider, processor, registered }
  } catch (error) {
    debugLog('init() failed; the agent runs without daa telemetry', error)
  }
}

/** Sends what is queued now. Resolves when done or after `timeoutMs`; never rejects. */
export async function flush(timeoutMs = 10_000): Promise<void> {
  await standalone?.processor.forceFlush(timeoutMs)
}

/**
 * Flushes and stops, within `timeoutMs` (default 5 s): call it before the process exits. Global
 * registrations `init()` made are undone, so `init()` can be called again. Never rejects.
 */
export async function shutdown(options: { timeoutMs?: number } = {}): Promise<void> {
  const current = standalone
  if (!current) return
  standalone = undefined
  useTracerProvider(undefined)
  try {
    await current.processor.shutdown(options.timeoutMs ?? 5000)
    await current.provider.shutdown()
  } catch (error) {
    debugLog('shutdown failed', error)
  }
  if (current.registered.tracerProvider) trace.disable()
  if (current.registered.propagator) propagation.disable()
  if (current.registered.contextManager) context.disable()
  lastStats = current.processor.stats()
}

let lastStats: TelemetryStats | undefined

/** Telemetry counters of the standalone setup (after `shutdown()`, its final counts). */
export function stats(): TelemetryStats {
  return standalone?.processor.stats() ?? lastStats ?? { ...NO_STATS }
}
