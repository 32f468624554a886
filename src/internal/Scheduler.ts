/**
 * The scheduler behind `runner schedule`: fires each scheduled DAG at its slots, one run per slot under the slot's
 * run key (so a system-cron run of the same slot and the daemon never both run it), catches up on the slots missed
 * while it was down, applies the overlap policy, and stops gracefully: no new slots, running runs get a grace period.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import type * as Audit from "./Audit.ts"
import type * as Dag from "../Dag.ts"
import type * as Plan from "./Plan.ts"
import type * as Job from "../Job.ts"
import * as Journal from "./Journal.ts"
import type { Reporter } from "./reporter/Reporter.ts"
import * as resources from "./resources.ts"
import * as Run from "./Run.ts"
import type * as RunEvent from "./RunEvent.ts"
import * as Trigger from "./Trigger.ts"

/** A scheduled DAG, planned. */
export interface Entry {
  readonly file: string
  readonly plan: Plan.Plan
  readonly trigger: Trigger.Trigger
  /** Who and what runs it (collected once, when the scheduler starts), recorded with each run. */
  readonly audit?: Audit.Audit
}

export interface Options {
  readonly concurrency: (plan: Plan.Plan) => number
  readonly failureMode: RunEvent.FailureMode
  /** With `catchUp: "all"`, run at most this many missed slots (the most recent). */
  readonly maxCatchUp: number
  /** How long running runs may take to finish after a stop is requested. */
  readonly grace: Duration.Duration
  readonly runnerVersion: string
  /**
   * Fires a slot somewhere else instead of running it here (`runner schedule --cluster`: the cluster runs it, and a
   * slot fired by two daemons is one execution there); returns how it ended, for the slot's log line. Default: the
   * slot runs in this process.
   */
  readonly fire?: (entry: Entry, key: string) => Effect.Effect<string>
}

/** Completed by the caller to stop: `graceful` stops firing and waits for runs; `now` interrupts them. */
export interface Stop {
  readonly graceful: Deferred.Deferred<void>
  readonly now: Deferred.Deferred<void>
}

/** How the scheduler ended. */
export interface Stopped {
  /** True when every run finished within the grace period (none had to be interrupted). */
  readonly drained: boolean
}

type Services = Journal.Journal | Reporter | Job.Services

/** Missed slots are logged one per line up to this many; more are summarised in one line. */
export const MISSED_LINES = 5

/** Runs until `stop.graceful` completes, then drains; returns whether runs finished in time. */
export const run = (entries: ReadonlyArray<Entry>, options: Options, stop: Stop): Effect.Effect<Stopped, never, Services> =>
  Effect.scoped(Effect.gen(function*() {
    const loops = yield* FiberSet.make()
    const runs = yield* FiberSet.make()
    const state = { stopping: false }
    // One registry for every run: a resource name is one limit in this process, however many runs overlap.
    const registry = new resources.Registry()
    for (const entry of entries) yield* FiberSet.run(loops, schedule(entry, options, runs, state, registry))
    yield* Deferred.await(stop.graceful)
    state.stopping = true
    yield* FiberSet.clear(loops)
    const running = yield* FiberSet.size(runs)
    if (running === 0) return { drained: true }
    yield* Effect.logInfo(
      `stopping: waiting up to ${Duration.format(options.grace)} for ${running} run${running === 1 ? "" : "s"} to finish`
    )
    const drained = yield* Effect.raceAll([
      Effect.as(FiberSet.awaitEmpty(runs), true),
      Effect.as(Effect.sleep(options.grace), false),
      Effect.as(Deferred.await(stop.now), false)
    ])
    if (!drained) {
      yield* Effect.logWarning(
        "interrupting the runs still going; each resumes when its slot's key runs again (a catch-up, or runner <file> --key K)"
      )
      yield* FiberSet.clear(runs)
    }
    return { drained }
  }))

/** One DAG's loop: catch up, then fire each slot as it comes. */
const schedule = (
  entry: Entry,
  options: Options,
  runs: FiberSet.FiberSet<unknown, unknown>,
  state: { readonly stopping: boolean },
  registry: resources.Registry
) =>
  Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const { trigger } = entry
    const dag = entry.plan.dag.name
    let active = 0
    const queued: Array<Date> = []
    const say = (message: string) => Effect.logInfo(`${dag}: ${message}`)

    const fire = (slot: Date): Effect.Effect<void, never, Services> =>
      Effect.gen(function*() {
        const key = Trigger.key(trigger, slot)
        // A slot queued behind a run is not started once a stop was asked for: it is missed, and caught up later.
        if (state.stopping) return yield* say(`slot ${key} not started: the scheduler is stopping`)
        if (active > 0 && trigger.overlap === "skip") {
          yield* say(`slot ${key} skipped: the previous run is still going (overlap: skip)`)
          return yield* Effect.orDie(journal.saveSlot(dag, slot.getTime()))
        }
        if (active > 0 && trigger.overlap === "queue") {
          yield* say(`slot ${key} queued: the previous run is still going (overlap: queue)`)
          queued.push(slot)
          return
        }
        active++
        yield* FiberSet.run(runs, runSlot(slot, key).pipe(Effect.ensuring(Effect.suspend(() => {
          active--
          if (state.stopping) {
            // Every slot still waiting is missed; the next start catches it up.
            const left = queued.splice(0)
            return Effect.forEach(left, (slot) => say(`slot ${Trigger.key(trigger, slot)} not started: the scheduler is stopping`), {
              discard: true
            })
          }
          const next = queued.shift()
          return next === undefined ? Effect.void : fire(next)
        }))))
      })

    const runSlot = (slot: Date, key: string) =>
      Effect.gen(function*() {
        yield* say(`slot ${key}: starting`)
        const outcome = options.fire !== undefined ? yield* options.fire(entry, key) : yield* Run.execute({
          plan: entry.plan,
          target: { _tag: "Key", key, force: false },
          concurrency: options.concurrency(entry.plan),
          failureMode: options.failureMode,
          trigger: "schedule",
          runnerVersion: options.runnerVersion,
          wait: false,
          registry,
          ...(entry.audit === undefined ? {} : { audit: { ...entry.audit, at: yield* Clock.currentTimeMillis } })
        }).pipe(
          Effect.map((outcome) =>
            outcome._tag === "Finished"
              ? `run ${outcome.result.runId} ${outcome.result.status}`
              : outcome._tag === "AlreadySucceeded"
              ? `already succeeded in run ${outcome.runId}; nothing to do`
              : "nothing to do"
          ),
          Effect.catchTag("RunLocked", (locked) => Effect.succeed(`skipped: ${locked.message}`)),
          Effect.catchTag("LockLost", (lost) => Effect.succeed(`stopped: ${lost.message}`)),
          Effect.catchTag("JournalError", (error) => Effect.succeed(`failed to start: ${error.message}`)),
          // Config that does not resolve (or a missing input) skips this slot; the next one checks again.
          Effect.catchTag("PreflightFailed", (error) => Effect.succeed(`not started: ${error.message}`)),
          // The DAG's layer is built per run: a failure skips this slot; the next one builds it again.
          Effect.catchTag("LayerFailed", (error) => Effect.succeed(`not started: ${error.message}`))
        )
        yield* say(`slot ${key}: ${outcome}`)
        yield* Effect.orDie(journal.saveSlot(dag, slot.getTime()))
      })

    // One line per missed slot, up to 5; beyond, one line with how many, the first and the last (a week of downtime
    // of an every-minute schedule is not 10,000 lines; `runner backfill` runs them if they are wanted).
    const sayMissed = (slots: ReadonlyArray<Date>, what: string) =>
      slots.length <= MISSED_LINES
        ? Effect.forEach(slots, (slot) =>
          say(`missed slot ${Trigger.key(trigger, slot)} while not running (catch-up: ${trigger.catchUp}): ${what}`), {
          discard: true
        })
        : say(
          `missed ${slots.length} slots while not running (catch-up: ${trigger.catchUp}), first ${Trigger.key(trigger, slots[0]!)}, ` +
            `last ${Trigger.key(trigger, slots.at(-1)!)}: ${what === "not run" ? "not run (runner backfill runs them)" : what}`
        )

    // Catch up on what was missed since the last fired slot (a first start misses nothing).
    const now = new Date(yield* Clock.currentTimeMillis)
    const last = yield* Effect.orDie(journal.lastSlot(dag))
    if (Option.isNone(last)) yield* Effect.orDie(journal.saveSlot(dag, now.getTime()))
    else {
      const missed = Trigger.between(trigger, new Date(last.value), now)
      const decision = Trigger.catchUp(trigger, missed, options.maxCatchUp)
      yield* sayMissed(decision.skip, "not run")
      if (decision.skip.length > 0 && decision.run.length === 0) {
        yield* Effect.orDie(journal.saveSlot(dag, decision.skip.at(-1)!.getTime()))
      }
      yield* sayMissed(decision.run, "running it now")
      // Missed slots run one after another, whatever the overlap policy (which is about new slots meeting a run).
      const [first, ...rest] = decision.run
      queued.push(...rest)
      if (first !== undefined) yield* fire(first)
    }
    let cursor = now
    while (true) {
      const slot = Trigger.next(trigger, cursor)
      const wait = slot.getTime() - (yield* Clock.currentTimeMillis)
      if (wait > 0) yield* Effect.sleep(wait)
      yield* fire(slot)
      cursor = slot
    }
  })

/** The next `count` slots of a trigger after `after`, with their run keys. */
export const upcoming = (trigger: Trigger.Trigger, after: Date, count: number): ReadonlyArray<{ slot: Date; key: string }> => {
  const out: Array<{ slot: Date; key: string }> = []
  let cursor = after
  for (let i = 0; i < count; i++) {
    cursor = Trigger.next(trigger, cursor)
    out.push({ slot: cursor, key: Trigger.key(trigger, cursor) })
  }
  return out
}
