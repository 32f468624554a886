/**
 * How a job ends. Its work ending frees its concurrency slot, but it succeeds only once its success is committed to
 * the journal (jobs that finish close together share one commit). `verdict` reads a job's two exits — its fiber's and
 * its commit's — the same way whether the run's loop just took them or the run is being interrupted, and `conclude`
 * records the job's end (state, detail, cause, span) the same way on both paths.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { LazyHash } from "../Journal.ts"
import * as render from "../render.ts"
import type { Recorder } from "./recorder.ts"
import type * as RunEvent from "../RunEvent.ts"
import * as spans from "./spans.ts"
import type { Finished, JobState } from "./state.ts"

/** What a job's exits so far say. */
export type Verdict =
  /** Neither its work nor its commit has ended. */
  | { readonly _tag: "Running" }
  /** Its work succeeded; its success is not durable (not committed yet, or its commit was interrupted). */
  | { readonly _tag: "Uncommitted"; readonly finished: Finished }
  | { readonly _tag: "Succeeded" }
  | { readonly _tag: "Failed"; readonly cause: Cause.Cause<unknown> }
  | { readonly _tag: "Interrupted"; readonly cause: Cause.Cause<unknown> }

const running: Verdict = { _tag: "Running" }
const succeeded: Verdict = { _tag: "Succeeded" }

export const verdict = (job: JobState): Verdict => {
  const { commitExit, fiberExit } = job
  if (commitExit !== undefined) {
    if (Exit.isSuccess(commitExit)) return succeeded
    if (!Cause.hasInterruptsOnly(commitExit.cause)) return { _tag: "Failed", cause: commitExit.cause }
  }
  if (fiberExit === undefined) return running
  if (Exit.isSuccess(fiberExit)) return { _tag: "Uncommitted", finished: fiberExit.value }
  return Cause.hasInterruptsOnly(fiberExit.cause)
    ? { _tag: "Interrupted", cause: fiberExit.cause }
    : { _tag: "Failed", cause: fiberExit.cause }
}

/**
 * Journals a job's success (durable when it returns), with its definition hash (a function: made only if the journal
 * needs it, see `Recorder.emit`). The caller records its exit on the job.
 */
export const commit = (
  recorder: Recorder,
  runId: string,
  job: JobState,
  definitionHash: string | LazyHash | undefined,
  finished: Finished
): Effect.Effect<void> => recorder.emit(success(runId, job, finished), definitionHash)

/** `commit` through `Recorder.emitNow`: for a caller that runs it at once (the job's own fiber, as its work ends). */
export const commitNow = (
  recorder: Recorder,
  runId: string,
  job: JobState,
  definitionHash: string | LazyHash | undefined,
  finished: Finished
): Effect.Effect<void> => recorder.emitNow(success(runId, job, finished), definitionHash)

/** The event that journals a job's success: `JobCached` for a reused one, else `AttemptSucceeded`. */
const success = (runId: string, job: JobState, { at, attempt, cache, cached, encoded, output }: Finished): RunEvent.RunEvent =>
  cached !== undefined
    ? {
      _tag: "JobCached",
      runId,
      jobId: job.id,
      at,
      fromRunId: cached.fromRunId,
      cachedAt: cached.cachedAt,
      output,
      json: encoded.json,
      key: cached.key
    }
    : cache === undefined
    // Without `cache` (the common case) no spread of an empty object: a literal of one shape.
    ? { _tag: "AttemptSucceeded", runId, jobId: job.id, attempt, at, output, json: encoded.json }
    : { _tag: "AttemptSucceeded", runId, jobId: job.id, attempt, at, output, json: encoded.json, cache }

/**
 * Records the job's end as the verdict says (at once, when called), and returns the ending of its span. `Running` and
 * `Uncommitted` end it interrupted.
 */
export const conclude = (recorder: Recorder, clock: Clock.Clock, job: JobState, verdict: Verdict): Effect.Effect<void> => {
  switch (verdict._tag) {
    case "Succeeded":
      job.phase = job.cachedFrom === undefined ? "succeeded" : "cached"
      job.detail = undefined
      // Its exits are read only until it ends (`verdict`); its output is kept on the job. Held, they kept each finished
      // job's `Finished` record and two Exits alive to the end of the run (~0.6 KB a job, 5 MB of 10,000).
      job.fiberExit = undefined
      job.commitExit = undefined
      break
    case "Failed":
      job.phase = "failed"
      job.detail = render.cause(verdict.cause)
      job.cause = verdict.cause
      break
    case "Interrupted":
    case "Running":
    case "Uncommitted":
      job.phase = "interrupted"
      job.detail = job.interruptedDetail
      job.cause = verdict._tag === "Interrupted" ? verdict.cause : Cause.interrupt()
      break
  }
  return spans.endJob(job, clock, job.detail === undefined ? undefined : recorder.mask(job.detail))
}

/** A job that never ran: skipped (with the reason shown), journaled, and its span ended. */
export const skip = (recorder: Recorder, clock: Clock.Clock, runId: string, job: JobState, reason: string): Effect.Effect<void> =>
  Effect.suspend(() => {
    job.phase = "skipped"
    job.detail = reason
    const at = clock.currentTimeMillisUnsafe()
    return Effect.andThen(recorder.emit({ _tag: "JobSkipped", runId, jobId: job.id, at, reason }), spans.endJob(job, clock, recorder.mask(reason)))
  })
