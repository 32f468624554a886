/**
 * What the runner provides to a job's attempts besides the user's services: its span (see spans.ts), its checkpoint store (steps journaled
 * for its current inputs), its process tracker (shell commands journaled while they run, so a resumed run ends what a
 * killed runner left running), its resource-wait reporter (waits shown and journaled as events), and `Job.Current`
 * (the run, the job and its fencing token).
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import * as Job from "../../Job.ts"
import * as checkpoints from "../checkpoints.ts"
import * as resources from "../resources.ts"
import * as Processes from "../processes.ts"
import * as Secrets from "../Secrets.ts"
import { maskedJson, type Recorder } from "./recorder.ts"
import type { JobState } from "./state.ts"

/**
 * Provides the job's store, tracker and waits, `Job.Current`, its log annotations (`jobId`, `runId`) and its span as
 * the parent span, to `effect` (all its attempts), in one change of the fiber's context. Each service is a
 * `Context.add` (a cheap overlay), while `Effect.provideContext` (a merge) copies the fiber's whole context; and one
 * change instead of six (`Effect.provideService` each, `Effect.annotateLogs`) saves their effects and exit hooks on
 * every job.
 */
export const provide = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  recorder: Recorder,
  runId: string,
  job: JobState,
  inputHash: () => string,
  span: Tracer.Span | undefined
): Effect.Effect<A, E, Exclude<R, Tracer.ParentSpan>> =>
  Effect.updateContext(effect as Effect.Effect<A, E, never>, (context: Context.Context<never>) => {
    let next = Context.add(context, Job.Current, { runId, jobId: job.id, fencingToken: job.fencingToken })
    next = Context.add(next, resources.CurrentWaits, waits(recorder, runId, job))
    next = Context.add(next, Processes.CurrentTracker, tracker(recorder, runId, job))
    next = Context.add(next, checkpoints.CurrentStore, store(recorder, runId, job.id, inputHash))
    // As `Effect.annotateLogs({ jobId, runId })` makes them.
    next = Context.add(next, References.CurrentLogAnnotations, { ...Context.get(context, References.CurrentLogAnnotations), jobId: job.id, runId })
    return span === undefined ? next : Context.add(next, Tracer.ParentSpan, span)
  }) as Effect.Effect<A, E, Exclude<R, Tracer.ParentSpan>>

/** `inputHash` is called when a step is first loaded or saved (see Executor.ts: hashed only for jobs that use steps). */
const store = (recorder: Recorder, runId: string, jobId: string, inputHash: () => string): checkpoints.Store => {
  const journal = recorder.journal
  const warned = new Set<string>()
  const warnOnce = (topic: string, message: string) =>
    Effect.suspend(() => warned.has(topic) ? Effect.void : (warned.add(topic), Effect.logWarning(message)))
  return {
    // A step made for other inputs (a need re-ran with a new output) is not there: the job's steps start afresh.
    load: (step) =>
      Effect.orDie(journal.checkpoint(runId, jobId, step)).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.succeedNone,
          onSome: (saved) =>
            saved.inputHash === inputHash() ? Effect.succeedSome(saved.json) : Effect.as(
              warnOnce(
                "inputs",
                saved.inputHash === undefined
                  ? "its steps start afresh: its checkpoints were made by an older runner, which did not record the inputs"
                  : "its steps start afresh: its inputs changed since its checkpoints were made (a job it needs ran again)"
              ),
              Option.none()
            )
        }))
      ),
    // A checkpoint that held a secret in clear is journaled as unrestorable: the step runs again on resume.
    save: (step, encoded) =>
      Effect.flatMap(Secrets.CurrentMasker, (masker) =>
        Effect.orDie(journal.saveCheckpoint(runId, jobId, step, { json: maskedJson(encoded.json, masker), inputHash: inputHash() }))),
    warnOnce
  }
}

const tracker = (recorder: Recorder, runId: string, job: JobState): Processes.Tracker => ({
  started: (group) => Effect.orDie(recorder.journal.processStarted({ ...group, runId, jobId: job.id, attempt: job.attempts })),
  ended: (group, how) => {
    if (how._tag === "Exited") return Effect.orDie(recorder.journal.processEnded(runId, group.pid))
    // An abandoned group stays journaled: it may still be there when the run resumes.
    job.abandoned = how.reason
    return Effect.logError(`stopped waiting for the command: ${how.reason}`)
  }
})

/** Reports the job's waits; a wait outside an attempt is for the next attempt, and counts in its waited time. */
const waits = (recorder: Recorder, runId: string, job: JobState): resources.Waits => ({
  waiting: (wait) =>
    Effect.flatMap(Clock.currentTimeMillis, (at) => {
      const call = job.inAttempt
      ;(job.waits ??= []).push({ wait, call, since: at })
      const { kind, resource, until } = wait
      const attempt = call ? job.attempts : job.attempts + 1
      return recorder.emit({ _tag: "JobWaiting", runId, jobId: job.id, attempt, at, resource, kind, until, call })
    }),
  admitted: (wait) =>
    Effect.flatMap(Clock.currentTimeMillis, (at) => {
      const call = job.inAttempt
      const open = job.waits ?? []
      const i = open.findIndex((w) => w.wait === wait)
      const waitedMillis = i < 0 ? 0 : Math.max(0, at - open[i]!.since)
      if (i >= 0) open.splice(i, 1)
      if (!call) job.waitedMillis += waitedMillis
      const { kind, resource } = wait
      const attempt = call ? job.attempts : job.attempts + 1
      return recorder.emit({ _tag: "JobAdmitted", runId, jobId: job.id, attempt, at, resource, kind, call, waitedMillis })
    })
})
