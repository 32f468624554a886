/**
 * W3C trace context for commands: a shell job's command gets `TRACEPARENT` naming the span it runs under (the
 * attempt's), so a traced tool it starts (an OpenTelemetry SDK reads TRACEPARENT by convention) joins the run's trace.
 * A TRACEPARENT the job sets in its own `env` is the user's choice and is kept.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Tracer from "effect/Tracer"

const traceIdPattern = /^[0-9a-f]{32}$/
const spanIdPattern = /^[0-9a-f]{16}$/

/** `00-<trace id>-<span id>-<flags>`, or undefined when the span's ids are not W3C ids (all zeros included). */
export const traceparent = (span: Tracer.AnySpan): string | undefined => {
  const traceId = span.traceId.padStart(32, "0")
  if (!traceIdPattern.test(traceId) || !spanIdPattern.test(span.spanId)) return undefined
  if (/^0+$/.test(traceId) || /^0+$/.test(span.spanId)) return undefined
  return `00-${traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
}

type Env = Readonly<Record<string, string | Redacted.Redacted<string>>>

/** `env` with TRACEPARENT of the current span added, unless there is none or `env` sets one already. */
export const withTraceparent = (env: Env | undefined): Effect.Effect<Env | undefined> =>
  Effect.contextWith((context: Context.Context<never>) => Effect.succeed(withTraceparentFrom(context, env)))

/** `withTraceparent` with the span of `context`. */
export const withTraceparentFrom = (context: Context.Context<never>, env: Env | undefined): Env | undefined => {
  const span = Context.getOption(context, Tracer.ParentSpan)
  if (Option.isNone(span) || (env !== undefined && "TRACEPARENT" in env)) return env
  const value = traceparent(span.value)
  return value === undefined ? env : { ...env, TRACEPARENT: value }
}
