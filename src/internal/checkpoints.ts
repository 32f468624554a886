/**
 * Where `Checkpoint.step` finds the current job's checkpoints: the executor provides a store per job, built on the
 * journal; outside a run (a job tested on its own) there is none and steps simply run.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Encoding from "./Encoding.ts"

/** The checkpoints of the current job. */
export interface Store {
  /** The journaled output of a finished step, if one was made for the job's current inputs. */
  readonly load: (step: string) => Effect.Effect<Option.Option<string | undefined>>
  readonly save: (step: string, encoded: Encoding.Encoded) => Effect.Effect<void>
  /** Logs a warning once per `topic` for the job (a reason shared by thousands of steps is said once). */
  readonly warnOnce: (topic: string, message: string) => Effect.Effect<void>
}

/** The current job's store; undefined outside a run. */
export const CurrentStore = Context.Reference<Store | undefined>("effect-runner/Checkpoint/CurrentStore", {
  defaultValue: () => undefined
})
