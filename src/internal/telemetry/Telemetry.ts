/**
 * OpenTelemetry for runs, on when OTEL_EXPORTER_OTLP_ENDPOINT (or a signal's endpoint) is set. Traces: the fibers'
 * `Tracer` becomes Effect's OTLP tracer (wrapped, see tracer.ts), so each run, job and attempt the executor opens
 * (`Effect.withSpan`) is exported, and so is every span a job opens, under its attempt. Metrics: run, job and attempt
 * counts and durations. Both go over OTLP/HTTP with Effect's own exporters, configured by Effect's `layerFromConfig`
 * (settings.ts says what the runner adds). Closing the scope ends what is still open and flushes both, bounded.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type { InvalidOption } from "../../Errors.ts"
import type * as Observer from "../Observer.ts"
import * as Exporters from "./exporters.ts"
import * as Metrics from "./metrics.ts"
import * as Settings from "./settings.ts"
import { Traces } from "./traces.ts"

export { metrics } from "./metrics.ts"
export { type Env, type Settings, settings } from "./settings.ts"

export interface Telemetry {
  readonly observers: ReadonlyArray<Observer.Observer>
  /** What the runs are provided with: the tracer, when traces are on (else nothing: Effect's default tracer). */
  readonly context: Context.Context<never>
}

const off: Telemetry = { observers: [], context: Context.empty() }

/** The telemetry the environment asks for; nothing at all when it asks for none. */
export const make = (env: Settings.Env): Effect.Effect<Telemetry, InvalidOption, Scope.Scope> =>
  Effect.gen(function*() {
    const settings = yield* Settings.settings(env)
    if (settings === undefined) return off
    const exporters = yield* Exporters.make(settings)
    const traces = exporters.tracer === undefined ? undefined : new Traces(exporters.tracer)
    // Added after the exporters' scopes, so it runs first: open spans end, then both exporters flush at once.
    yield* Effect.addFinalizer((exit) =>
      Effect.gen(function*() {
        traces?.endAll(yield* Clock.currentTimeMillis)
        yield* exporters.close(exit)
      })
    )
    const observers: Array<Observer.Observer> = []
    if (traces !== undefined) observers.push(traces.observer)
    const registry = exporters.registry
    if (registry !== undefined) {
      const record = Metrics.recorder()
      observers.push({
        name: "OpenTelemetry metrics",
        onEvent: (event) => Effect.provideService(record(event), Metric.MetricRegistry, registry)
      })
    }
    return {
      observers,
      context: traces === undefined ? Context.empty() : Context.make(Tracer.Tracer, traces.tracer)
    }
  })

/** The observers alone (tests and callers that run without the tracer). */
export const observers = (env: Settings.Env): Effect.Effect<ReadonlyArray<Observer.Observer>, InvalidOption, Scope.Scope> =>
  Effect.map(make(env), (telemetry) => telemetry.observers)
