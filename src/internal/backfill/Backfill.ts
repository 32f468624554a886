/**
 * The backfill engine: one run per slot, under the slot's run key, at most `maxActive` at once (a slot that ends frees
 * its place for the next at once, so one slow slot never idles the others). Each slot is decided when it is about to
 * start, against the journal as it is then, so a slot the scheduler (or a cron line, or a keyed run) ran meanwhile is
 * not run twice; the run key's lock makes the two wait for each other when they meet. Each slot's state is journaled
 * (Store.ts): a backfill killed mid-way continues where it stopped.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Schedule from "effect/Schedule"
import * as Semaphore from "effect/Semaphore"
import type * as SqlClient from "effect/sql/SqlClient"
import type * as Job from "../../Job.ts"
import type * as Audit from "../Audit.ts"
import type * as Journal from "../Journal.ts"
import type * as Plan from "../Plan.ts"
import type { Reporter } from "../reporter/Reporter.ts"
import { formatMillis } from "../reporter/format.ts"
import * as render from "../render.ts"
import * as resources from "../resources.ts"
import * as Run from "../Run.ts"
import type * as RunEvent from "../RunEvent.ts"
import type { PreflightFailed } from "../SetupErrors.ts"
import * as Store from "./Store.ts"

/** Which slots run: `missing` (not succeeded yet), `failed` (whose last run failed or was interrupted), `all`. */
export type Reprocess = "missing" | "failed" | "all"
export type Order = "asc" | "desc"

/** What happens to a slot, and the words for it (`--dry-run` prints them). */
export interface Decision {
  readonly run: boolean
  /** Run it again even though its key's run succeeded (`--reprocess all`). */
  readonly force: boolean
  readonly text: string
}

const unfinished = (status: string) => status === "failed" || status === "interrupted" ? status : `unfinished (${status})`

/** What to do with a slot whose key's latest run is `latest`, under a reprocess mode. */
export const decide = (latest: Store.LatestRun | undefined, reprocess: Reprocess): Decision => {
  if (latest === undefined) {
    return reprocess === "failed"
      ? { run: false, force: false, text: "skip: never ran (--reprocess failed runs only failed slots)" }
      : { run: true, force: false, text: "run" }
  }
  if (latest.status === "succeeded") {
    return reprocess === "all"
      ? { run: true, force: true, text: `run again: --reprocess all (succeeded in run ${latest.runId})` }
      : { run: false, force: false, text: `skip: succeeded in run ${latest.runId}` }
  }
  // A failed or interrupted run of the key is resumed: what succeeded in it is kept, the rest runs.
  return { run: true, force: reprocess === "all", text: `run again: ${unfinished(latest.status)} in run ${latest.runId}` }
}

export interface Options {
  readonly backfill: Store.Backfill
  readonly plan: Plan.Plan
  /** The slots still to do, in the order they start. */
  readonly slots: ReadonlyArray<Store.SlotRow>
  /** All the backfill's slots, and how many were done before this process took it. */
  readonly total: number
  readonly doneBefore: number
  readonly reprocess: Reprocess
  readonly maxActive: number
  readonly concurrency: number
  readonly failureMode: RunEvent.FailureMode
  readonly runnerVersion: string
  readonly audit: Audit.Audit | undefined
  /** How long running slots may take to finish after SIGINT/SIGTERM. */
  readonly grace: Duration.Duration
  /** How often a cancel (`runner backfill cancel`, another process) is looked for. */
  readonly pollEvery?: Duration.Duration
  /**
   * Where progress goes (slots done / total, running, failed, ETA): a live status line. Default: a log line after
   * each slot.
   */
  readonly onProgress?: (progress: Progress) => void
}

/** Where a backfill is: slots done (of all, also those done by earlier executions), running, failed, and the ETA. */
export interface Progress {
  readonly done: number
  readonly total: number
  /** The keys of the slots running now, oldest start first. */
  readonly running: ReadonlyArray<string>
  readonly failed: number
  /** Undefined until a slot has finished (nothing to estimate from) or when nothing is left. */
  readonly etaMillis: number | undefined
}

/** Completed by the caller on a signal: `graceful` starts no more slots, `now` interrupts the running ones. */
export interface Stop {
  readonly graceful: Deferred.Deferred<void>
  readonly now: Deferred.Deferred<void>
}

/** How an execution of a backfill ended. */
export interface Summary {
  readonly succeeded: number
  readonly skipped: number
  readonly failed: ReadonlyArray<{ readonly key: string; readonly runId: string | undefined; readonly note: string }>
  /** Slots interrupted while running (a cancel, a second signal). */
  readonly interrupted: number
  /** Slots not started because it stopped. */
  readonly notStarted: number
  readonly stoppedBy: "cancel" | "signal" | "preflight" | undefined
  /** The preflight failure that stopped it (config or inputs missing: every slot would fail the same way). */
  readonly preflight: PreflightFailed | undefined
}

type Services = Journal.Journal | Reporter | Job.Services | SqlClient.SqlClient

/** Runs the slots; returns how it went (a failed slot is in the summary, not an error). */
export const execute = (options: Options, stop: Stop): Effect.Effect<Summary, never, Services> =>
  Effect.scoped(Effect.gen(function*() {
    const { backfill, plan } = options
    const fibers = yield* FiberSet.make()
    const permits = yield* Semaphore.make(options.maxActive)
    // One registry for all the slots' runs: a resource's limit holds across slots running at once.
    const registry = new resources.Registry()
    const stopping = yield* Deferred.make<"cancel" | "signal" | "preflight">()
    const began = yield* Clock.currentTimeMillis
    const tally = {
      succeeded: 0,
      skipped: 0,
      failed: [] as Array<{ key: string; runId: string | undefined; note: string }>,
      started: 0,
      finished: 0,
      interrupted: 0,
      running: 0,
      preflight: undefined as PreflightFailed | undefined
    }
    /** The keys of the slots running now, in the order they started. */
    const running = new Set<string>()
    const say = (message: string) => Effect.logInfo(`backfill ${backfill.id}: ${message}`)

    const progress = Effect.gen(function*() {
      const done = options.doneBefore + tally.finished
      const left = options.total - done - tally.running
      const elapsed = (yield* Clock.currentTimeMillis) - began
      // Slots finish at the rate they have so far (with maxActive at once): the rest at that rate.
      const etaMillis = tally.finished === 0 || left + tally.running === 0
        ? undefined
        : Math.round((elapsed / tally.finished) * (left + tally.running))
      if (options.onProgress !== undefined) {
        return options.onProgress({ done, total: options.total, running: [...running], failed: tally.failed.length, etaMillis })
      }
      const eta = etaMillis === undefined ? "" : `, ETA ${formatMillis(etaMillis)}`
      yield* say(`${done}/${options.total} slots done, ${tally.running} running, ${tally.failed.length} failed${eta}`)
    })

    const settle = (slot: Store.SlotRow, state: Store.SlotState, runId: string | undefined, note: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        yield* Effect.orDie(Store.setSlot(backfill.id, slot.key, { state, runId, note, endedAt: now }))
        if (state === "succeeded") tally.succeeded++
        else if (state === "skipped") tally.skipped++
        else tally.failed.push({ key: slot.key, runId, note })
        tally.finished++
      })

    const runSlot = (slot: Store.SlotRow) =>
      Effect.gen(function*() {
        const latest = (yield* Effect.orDie(Store.latestRuns(plan.dag.name, [slot.key]))).get(slot.key)
        // Started by this backfill before it was stopped (kill -9), and its run succeeded since: done, whatever the mode.
        if (
          slot.state === "running" && slot.startedAt !== undefined && latest?.status === "succeeded" &&
          latest.endedAt !== undefined && latest.endedAt >= slot.startedAt
        ) {
          const note = `succeeded in run ${latest.runId} (before this backfill was stopped)`
          yield* say(`slot ${slot.key}: ${note}`)
          return yield* settle(slot, "succeeded", latest.runId, note)
        }
        const decision = decide(latest, options.reprocess)
        yield* say(`slot ${slot.key}: ${decision.text}`)
        if (!decision.run) return yield* settle(slot, "skipped", latest?.runId, decision.text)
        tally.running++
        running.add(slot.key)
        yield* Effect.orDie(Store.setSlot(backfill.id, slot.key, { state: "running", startedAt: yield* Clock.currentTimeMillis }))
        // The live status line shows a slot as soon as it starts; log lines only say how slots end.
        if (options.onProgress !== undefined) yield* progress
        const ended = yield* Run.execute({
          plan,
          target: { _tag: "Key", key: slot.key, force: decision.force },
          partition: { key: slot.key, start: new Date(slot.start), end: new Date(slot.end) },
          concurrency: options.concurrency,
          failureMode: options.failureMode,
          trigger: "backfill",
          runnerVersion: options.runnerVersion,
          // The scheduler (or a cron line) running the same slot holds its key's lock: wait, then see it succeeded.
          wait: true,
          registry,
          ...(options.audit === undefined ? {} : { audit: { ...options.audit, at: yield* Clock.currentTimeMillis } })
        }).pipe(
          Effect.map((outcome): readonly [Store.SlotState, string | undefined, string] => {
            switch (outcome._tag) {
              case "Finished": {
                const { runId, status } = outcome.result
                return [status === "succeeded" ? "succeeded" : status === "failed" ? "failed" : "interrupted", runId, `run ${runId} ${status}`]
              }
              case "AlreadySucceeded":
                return ["skipped", outcome.runId, `skip: succeeded in run ${outcome.runId}`]
              case "NothingToResume":
                return ["failed", undefined, "nothing to resume"]
            }
          }),
          Effect.catchTag("PreflightFailed", (error) => {
            tally.preflight = error
            return Effect.as(Deferred.succeed(stopping, "preflight"), ["failed", undefined, `not started: ${error.message}`] as const)
          }),
          Effect.catchTag("LayerFailed", (error) => Effect.succeed(["failed", undefined, `not started: ${error.message}`] as const)),
          Effect.catchTag("LockLost", (error) => Effect.succeed(["interrupted", error.runId, `stopped: ${error.message}`] as const)),
          Effect.catchTag("RunLocked", (error) => Effect.succeed(["failed", error.runId, `not started: ${error.message}`] as const)),
          Effect.catchTag("JournalError", (error) => Effect.succeed(["failed", undefined, `failed: ${error.message}`] as const)),
          Effect.catchDefect((defect) => Effect.succeed(["failed", undefined, `failed: ${render.message(defect)}`] as const)),
          Effect.ensuring(Effect.sync(() => {
            tally.running--
            running.delete(slot.key)
          }))
        )
        const [state, runId, note] = ended
        yield* say(`slot ${slot.key}: ${note}`)
        yield* settle(slot, state, runId, note)
      }).pipe(
        Effect.onInterrupt(() =>
          Effect.gen(function*() {
            tally.interrupted++
            // The run it interrupted (journaled `interrupted`, resumed with the backfill), for `backfill status`.
            const latest = (yield* Effect.orDie(Store.latestRuns(plan.dag.name, [slot.key]))).get(slot.key)
            const runId = latest !== undefined && latest.status !== "succeeded" ? latest.runId : undefined
            yield* Effect.orDie(Store.setSlot(backfill.id, slot.key, {
              state: "interrupted",
              runId,
              note: runId === undefined ? "interrupted" : `run ${runId} interrupted`,
              endedAt: yield* Clock.currentTimeMillis
            }))
          })
        ),
        Effect.ensuring(Effect.flatMap(Clock.currentTimeMillis, () => progress))
      )

    const starter = Effect.gen(function*() {
      for (const slot of options.slots) {
        yield* Semaphore.take(permits, 1)
        if (yield* Deferred.isDone(stopping)) return
        tally.started++
        yield* FiberSet.run(fibers, Effect.ensuring(runSlot(slot), Semaphore.release(permits, 1)))
      }
      yield* FiberSet.awaitEmpty(fibers)
    })

    // A cancel is asked for through the journal (`runner backfill cancel`, any process): looked for every half second.
    yield* Effect.forkScoped(
      Effect.orDie(Store.cancelRequested(backfill.id)).pipe(
        Effect.flatMap((requested) => requested ? Deferred.succeed(stopping, "cancel") : Effect.void),
        Effect.repeat(Schedule.spaced(options.pollEvery ?? Duration.millis(500)))
      )
    )
    yield* Effect.forkScoped(Effect.andThen(Deferred.await(stop.graceful), Deferred.succeed(stopping, "signal")))

    const finishedAll = yield* Effect.raceFirst(Effect.as(starter, true), Effect.as(Deferred.await(stopping), false))
    const stoppedBy = finishedAll ? undefined : yield* Deferred.await(stopping)
    if (stoppedBy === "cancel") {
      const running = yield* FiberSet.size(fibers)
      yield* say(`cancelled: no more slots start${running > 0 ? `; interrupting the ${running} running` : ""}`)
      yield* FiberSet.clear(fibers)
    } else if (stoppedBy === "signal" || stoppedBy === "preflight") {
      const running = yield* FiberSet.size(fibers)
      if (running > 0) {
        yield* say(
          stoppedBy === "signal"
            ? `stopping: no more slots start; waiting up to ${Duration.format(options.grace)} for the ${running} running`
            : `stopping: the runs cannot start (see above); waiting for the ${running} running`
        )
        const drained = yield* Effect.raceAll([
          Effect.as(FiberSet.awaitEmpty(fibers), true),
          Effect.as(stoppedBy === "signal" ? Effect.sleep(options.grace) : Effect.never, false),
          Effect.as(Deferred.await(stop.now), false)
        ])
        if (!drained) {
          yield* say("interrupting the running slots; each resumes when the backfill does")
          yield* FiberSet.clear(fibers)
        }
      }
    }
    const summary: Summary = {
      succeeded: tally.succeeded,
      skipped: tally.skipped,
      failed: tally.failed,
      interrupted: tally.interrupted,
      notStarted: options.slots.length - tally.started,
      stoppedBy,
      preflight: tally.preflight
    }
    return summary
  }))
