/** OpenTelemetry traces and metrics of runs over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set. (Being built.) */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { InvalidOption } from "./Errors.ts"
import type * as Observer from "./Observer.ts"

/** The exporter lives in the scope: closing it flushes what is buffered. */
export const observers = (
  _env: Readonly<Record<string, string | undefined>>
): Effect.Effect<ReadonlyArray<Observer.Observer>, InvalidOption, Scope.Scope> => Effect.succeed([])
