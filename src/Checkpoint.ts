/**
 * Durable steps inside a job. `Checkpoint.step(key, effect)` runs `effect` once per run: when a resumed run reaches a
 * step that already finished, it returns the journaled output without running it again. A job that processes many
 * items checkpoints each one, so a killed run redoes only the items it had not finished. The store the executor
 * provides lives in internal/checkpoints.ts.
 */
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import { CurrentStore } from "./internal/checkpoints.ts"
import * as Encoding from "./internal/Encoding.ts"

export interface StepOptions<A> {
  /**
   * Schema of the step's output, to journal and restore it as its type (`Schema.Date`, `Schema.BigInt`, a class).
   * Default: JSON as is — a value JSON cannot hold exactly (a Map, a Date) is not restored: the step runs again.
   */
  readonly output?: Schema.Codec<A, any, never, never>
}

/**
 * Runs `effect` as the durable step `key` of the current job. Keys are per job: use one per item
 * (`step(\`hash:${file}\`, ...)`). Steps belong to the job's inputs: when a need's output changed since they were
 * made, the job's steps start afresh. Outside a run (a job's effect run on its own) the step simply runs.
 *
 * Three forms: `Checkpoint.step("k", effect)`, data-last `effect.pipe(Checkpoint.step("k"))`, and Effect's
 * data-first order `Checkpoint.step(effect, "k")`; each takes `{ output }` last.
 *
 * Gotcha: the output is committed after `effect` succeeds; a crash between the two runs the step again on resume
 * (at-least-once), so a step should be idempotent too — it only narrows the window.
 *
 * @example
 * ```ts
 * const hashAll = Job.make("hash", {
 *   run: () => Effect.forEach(files, (file) => hashOne(file).pipe(Checkpoint.step(`hash:${file}`)), { concurrency: 8 })
 * })
 * const fetched = Checkpoint.step("fetched-at", Clock.currentTimeMillis)
 * const day = Checkpoint.step("day", today, { output: Schema.Date })
 * ```
 */
export const step: {
  (key: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A>(key: string, options: StepOptions<A>): <E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(key: string, self: Effect.Effect<A, E, R>, options?: StepOptions<A>): Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, key: string, options?: StepOptions<A>): Effect.Effect<A, E, R>
} = dual(
  (args) => Effect.isEffect(args[0]) || Effect.isEffect(args[1]),
  <A, E, R>(
    first: Effect.Effect<A, E, R> | string,
    second: Effect.Effect<A, E, R> | string,
    options: StepOptions<A> = {}
  ): Effect.Effect<A, E, R> =>
    typeof first === "string"
      ? run(first, second as Effect.Effect<A, E, R>, options)
      : run(second as string, first, options)
)

const run = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>, options: StepOptions<A>): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const store = yield* CurrentStore
    if (store === undefined) return yield* effect
    const saved = yield* store.load(key)
    if (Option.isSome(saved)) {
      const unrestorable = Encoding.unrestorableReason(saved.value)
      if (unrestorable !== undefined) {
        yield* store.warnOnce(`unrestorable:${unrestorable}`, `steps run again: their output was not journaled exactly (${unrestorable})`)
      } else {
        const decoded = yield* Effect.result(Encoding.decode(options.output, saved.value))
        if (decoded._tag === "Success") return decoded.success as A
        yield* store.warnOnce(
          "schema",
          `step "${key}" runs again: its journaled output no longer matches its output schema (${decoded.failure})`
        )
      }
    }
    const value = yield* effect
    const encoded = yield* Encoding.encode(options.output, value).pipe(
      Effect.catch((error) =>
        Effect.die(new Error(`checkpoint "${key}": its output cannot be journaled: ${describe(error)}`))
      )
    )
    if (encoded._tag === "Unrestorable") {
      yield* store.warnOnce(`unrestorable:${encoded.reason}`, `step outputs will not be restored on resume: ${encoded.reason}`)
    }
    yield* store.save(key, encoded)
    return value
  })

const describe = (error: Schema.SchemaError | Encoding.NotJournalable): string =>
  error instanceof Encoding.NotJournalable ? error.reason : `it does not match its output schema: ${Encoding.schemaMessage(error)}`
