/**
 * The slot a run is for. A scheduled DAG runs once per slot of its `schedule`; its jobs read which slot with
 * `yield* Partition.Partition`: `{ key, start, end }`, where `key` is the slot's run key (`2026-01-02T02:00`, its
 * wall-clock time in the schedule's zone), `start` the slot's time and `end` the next slot's. Every way a slot is run
 * gives the same Partition: `runner schedule`, a `runner cron` line or `--key 2026-01-02T02:00` (a key that is a slot
 * of the schedule), and `runner backfill` (which also gives one to DAGs without a schedule, from `--every`).
 *
 * A Partition is a `Context.Reference`, so a job that reads it requires no service: `Dag.make` type-checks it without a
 * layer. A run that has no slot (a DAG without `schedule` run by hand, or a `--key` that is not a slot of its schedule)
 * has no Partition: `yield* Partition.Partition` then dies with a message saying how to give one; `Partition.current`
 * fails with the typed `NoPartition` instead, and `Partition.option` gives `Option.none()`.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** A run's slot: its run key, when it starts (the slot's time) and when it ends (the next slot's time). */
export interface Partition {
  readonly key: string
  readonly start: Date
  readonly end: Date
}

/** The run has no slot: it was not started by the scheduler, a cron line, a `--key` of a slot, or a backfill. */
export class NoPartition extends Data.TaggedError("NoPartition")<{}> {
  override get message(): string {
    return "this run has no Partition: it is not a slot of a schedule. Runs get one from runner schedule, a runner cron " +
      "line, --key <a slot of the DAG's schedule, e.g. 2026-01-02T02:00>, or runner backfill (--every for a DAG without schedule)"
  }
}

/**
 * The current run's slot. Reading it in a run without one dies with `NoPartition`'s message (use `current` or
 * `option` where a run may have none).
 */
export const Partition: Context.Reference<Partition> = Context.Reference<Partition>("effect-runner/Partition", {
  defaultValue: () => {
    const error = new NoPartition()
    // The runner's internals are no help here: the message says what to do.
    Object.defineProperty(error, "stack", { value: `NoPartition: ${error.message}` })
    throw error
  }
})

/** The current run's slot, or `None` when the run has none. */
export const option: Effect.Effect<Option.Option<Partition>> = Effect.map(
  Effect.context<never>(),
  (context) => Option.fromNullishOr(Context.getOrUndefined(context, Partition))
)

/** The current run's slot, failing with `NoPartition` when the run has none. */
export const current: Effect.Effect<Partition, NoPartition> = Effect.flatMap(
  option,
  Option.match({ onNone: () => Effect.fail(new NoPartition()), onSome: Effect.succeed })
)

/** Provides a slot to an effect (what the runner does for each run of a slot; for tests of jobs that read it too). */
export const provide: {
  (partition: Partition): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, partition: Partition): Effect.Effect<A, E, R>
} = ((...args: Array<any>) =>
  args.length === 1
    ? (effect: Effect.Effect<any, any, any>) => Effect.provideService(effect, Partition, args[0])
    : Effect.provideService(args[0], Partition, args[1])) as any
