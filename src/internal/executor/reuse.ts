/**
 * Up-to-date skipping around one job (a job with `cache`), wherever it runs: in the executor's loop, or on a cluster
 * worker (cluster/JobRunner.ts). An earlier success with the same key is reused (the job does not run), or the job
 * runs and its success is kept under its key. Why it runs is logged when it ran before with other inputs.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Job from "../../Job.ts"
import type * as CachePolicy from "../cache/Policy.ts"
import type * as Key from "../cache/Key.ts"
import * as Reuse from "../cache/Reuse.ts"
import type { Finished, JobState } from "./state.ts"

/** The context jobs' keys are made in, and which jobs reuse nothing (with the words that say why). */
export interface Cache {
  readonly context: Key.Context
  readonly forced: (jobId: string) => string | undefined
}

export const reuseOrRun = <R>(
  request: {
    readonly journal: Reuse.Lookup
    readonly cache: Cache
    readonly dag: string
    readonly job: JobState
    readonly policy: CachePolicy.Policy
    readonly definitionHash: string
    /** The needs' outputs as journaled, by name. */
    readonly needs: ReadonlyArray<readonly [string, string | undefined]>
    /** The `cache.files` globs already warned about as matching nothing (`job\0glob`), for one warning a run. */
    readonly warned: Set<string>
  },
  run: Effect.Effect<Finished, unknown, R>
): Effect.Effect<Finished, unknown, R | Job.Services> =>
  Effect.gen(function*() {
    const { job } = request
    const decision = yield* Reuse.decide(request.journal, request.cache.context, {
      dag: request.dag,
      job: job.planned.job,
      policy: request.policy,
      definitionHash: request.definitionHash,
      needs: request.needs,
      forced: request.cache.forced(job.id),
      now: yield* Clock.currentTimeMillis
    })
    if (decision._tag === "Hit") {
      job.cachedFrom = decision.entry.runId
      return {
        output: decision.output,
        encoded: { _tag: "Restorable", json: decision.entry.json },
        attempt: 0,
        at: yield* Clock.currentTimeMillis,
        cached: { fromRunId: decision.entry.runId, cachedAt: decision.entry.createdAt, key: decision.entry.key }
      } satisfies Finished
    }
    for (const glob of decision.unmatched) {
      if (request.warned.has(`${job.id}\u0000${glob}`)) continue
      request.warned.add(`${job.id}\u0000${glob}`)
      yield* Effect.logWarning(`cache.files ${JSON.stringify(glob)} matches no file (hashed as the empty set)`)
    }
    // Why a job that ran before with other inputs runs now is worth a line; a first run or a forced one is not.
    if (decision.record === undefined) yield* Effect.logWarning(`runs, and its success is not kept for reuse: ${decision.reason}`)
    else if (decision.explained) yield* Effect.logInfo(`runs: ${decision.reason}`)
    else yield* Effect.logDebug(`runs: ${decision.reason}`)
    const finished = yield* run
    if (decision.record === undefined) return finished
    if (finished.encoded._tag === "Unrestorable") {
      yield* Effect.logWarning(`its success is not kept for reuse: ${finished.encoded.reason}`)
      return finished
    }
    return { ...finished, cache: decision.record }
  })
