/**
 * Durable steps inside a job. `Checkpoint.step(key, effect)` runs `effect` once per run: when a resumed run reaches a
 * step that already finished, it returns the journaled output without running it again. A job that processes many
 * items checkpoints each one, so a killed run redoes only the items it had not finished.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/** Where the current job's checkpoints live; outside a run (a job tested alone) steps simply run. */
export interface Store {
  readonly load: (step: string) => Effect.Effect<Option.Option<unknown>>
  readonly save: (step: string, encoded: unknown) => Effect.Effect<void>
}

export const CurrentStore = Context.Reference<Store | undefined>("effect-runner/Checkpoint/CurrentStore", {
  defaultValue: () => undefined
})

export interface StepOptions<A> {
  /** Schema of the step's output, to journal and restore it. Default: JSON as is. */
  readonly output?: Schema.Codec<A, any, never, never>
}

/**
 * Runs `effect` as the durable step `key` of the current job. Keys are per job: use one per item
 * (`step(\`hash:${file}\`, ...)`). The step's output must be JSON-serialisable or have an `output` schema.
 *
 * Gotcha: the output is committed after `effect` succeeds; a crash between the two runs the step again on resume
 * (at-least-once), so a step should be idempotent too — it only narrows the window.
 */
export const step = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>, options: StepOptions<A> = {}) =>
  Effect.gen(function*() {
    const store = yield* CurrentStore
    if (store === undefined) return yield* effect
    const saved = yield* store.load(key)
    if (Option.isSome(saved)) {
      if (options.output === undefined) return saved.value as A
      const decoded = yield* Effect.option(Schema.decodeUnknownEffect(options.output)(saved.value))
      // An output that no longer decodes (the schema changed) means the step runs again.
      if (Option.isSome(decoded)) return decoded.value
    }
    const value = yield* effect
    const encoded = options.output === undefined
      ? value
      : yield* Effect.orDie(Schema.encodeUnknownEffect(options.output)(value))
    yield* store.save(key, encoded)
    return value
  })
