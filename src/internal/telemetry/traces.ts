/**
 * The traces side of the telemetry: the fibers' tracer (tracer.ts), and the observer that tells it which secrets to
 * mask — those of every run in progress. The spans themselves are the executor's (executor/spans.ts: run, job and
 * attempt, ended with their outcome) and the user's.
 */
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"
import type * as Observer from "../Observer.ts"
import * as Secrets from "../Secrets.ts"
import { WrappedTracer } from "./tracer.ts"

export class Traces {
  readonly wrapped: WrappedTracer
  /** Each run in progress's masker: spans are masked with all of them (masking another run's secret too is harmless). */
  private readonly maskers = new Map<string, Secrets.Masker>()

  constructor(inner: Tracer.Tracer) {
    this.wrapped = new WrappedTracer(inner, () => this.mask)
  }

  get tracer(): Tracer.Tracer {
    return this.wrapped.tracer
  }

  private readonly mask = <A>(value: A): A => {
    let out = value
    for (const masker of this.maskers.values()) out = masker.maskDeep(out)
    return out
  }

  readonly observer: Observer.Observer = {
    name: "OpenTelemetry traces",
    onEvent: (event) =>
      event._tag === "RunStarted"
        ? Effect.map(Secrets.CurrentMasker, (masker) => {
          if (!masker.empty) this.maskers.set(event.runId, masker)
        })
        : Effect.void,
    // The run's spans have ended by now (the executor ends them before the summary is made).
    onFinish: (summary) => Effect.sync(() => void this.maskers.delete(summary.runId))
  }

  /** When the exporter closes, whatever is still open ends, interrupted. */
  endAll(nowMillis: number): void {
    this.wrapped.endAll(BigInt(Math.round(nowMillis)) * 1_000_000n)
  }
}
