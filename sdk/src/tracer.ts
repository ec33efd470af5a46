import { type Tracer, type TracerProvider, trace } from '@opentelemetry/api'
import { SDK_NAME, SDK_VERSION } from './version.js'

/**
 * Where daa's own spans go. After `init()` they go to the provider it built, even when the app had
 * already registered a global one (so daa data always reaches daa); otherwise, in integration mode,
 * to whatever global provider the app registered.
 */
let configuredTracer: Tracer | undefined
let globalTracer: Tracer | undefined

export function useTracerProvider(provider: TracerProvider | undefined): void {
  configuredTracer = provider?.getTracer(SDK_NAME, SDK_VERSION)
}

export function daaTracer(): Tracer {
  if (configuredTracer) return configuredTracer
  // The API returns a proxy that follows later registrations, so caching it is safe.
  globalTracer ??= trace.getTracer(SDK_NAME, SDK_VERSION)
  return globalTracer
}
