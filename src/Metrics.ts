/** Prometheus metrics of runs: a textfile for node_exporter and a Pushgateway push. (Being built.) */
import * as Effect from "effect/Effect"
import type { InvalidOption } from "./Errors.ts"
import type * as Journal from "./Journal.ts"
import type * as Observer from "./Observer.ts"

export interface Options {
  /** `--metrics-file PATH`. */
  readonly file: string | undefined
  /** `--pushgateway URL`. */
  readonly pushgateway: string | undefined
}

export const observers = (_options: Options): Effect.Effect<ReadonlyArray<Observer.Observer>, InvalidOption, Journal.Journal> =>
  Effect.succeed([])
