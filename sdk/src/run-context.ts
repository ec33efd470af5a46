import { type Context, context, createContextKey } from '@opentelemetry/api'

/**
 * What the OpenTelemetry context carries for daa: the run a piece of work belongs to. Kept in the
 * context (not a module variable) so it follows `await`s, callbacks and concurrent runs exactly as
 * the active span does, and so a span processor can read it for spans other libraries create.
 */
export interface ActiveRun {
  /** The run span's span id, hex: the value of `daa.run.id`. */
  readonly id: string
  /** The run's agent id as the collector reads it (`gen_ai.agent.id`, else the name): `daa.run.agent`. */
  readonly agent: string
}

const ACTIVE_RUN_KEY = createContextKey('daa.active-run')

export function withActiveRun(parent: Context, activeRun: ActiveRun): Context {
  return parent.setValue(ACTIVE_RUN_KEY, activeRun)
}

export function activeRunIn(ctx: Context): ActiveRun | undefined {
  return ctx.getValue(ACTIVE_RUN_KEY) as ActiveRun | undefined
}

export function activeRun(): ActiveRun | undefined {
  return activeRunIn(context.active())
}
