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
import type * as Encoding from "../Encoding.ts"
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
  inputHash: (job: JobState) => string,
  span: Tracer.Span | undefined
): Effect.Effect<A, E, Exclude<R, Tracer.ParentSpan>> =>
  Effect.updateContext(effect as Effect.Effect<A, E, never>, (context: Context.Context<never>) =>
    withServices(context, recorder, runId, job, inputHash, span)) as Effect.Effect<A, E, Exclude<R, Tracer.ParentSpan>>

/**
 * `context` with the job's services, log annotations and span (see `provide`): what the executor starts a job's fiber
 * with, so that the fiber need not change its context (and put it back) as it starts.
 */
export const withServices = <R>(
  context: Context.Context<R>,
  recorder: Recorder,
  runId: string,
  job: JobState,
  /** Its inputs' hash, made when a step is first loaded or saved (called once at most: the services keep it). */
  inputHash: (job: JobState) => string,
  span: Tracer.Span | undefined
): Context.Context<R> => {
  const services = new Services(recorder, runId, job, inputHash)
  let next = Context.add(context, Job.Current, { runId, jobId: job.id, fencingToken: job.fencingToken })
  next = Context.add(next, resources.CurrentWaits, services)
  next = Context.add(next, Processes.CurrentTracker, services)
  next = Context.add(next, checkpoints.CurrentStore, services)
  // As `Effect.annotateLogs({ jobId, runId })` makes them.
  next = Context.add(next, References.CurrentLogAnnotations, { ...Context.get(context, References.CurrentLogAnnotations), jobId: job.id, runId })
  return (span === undefined ? next : Context.add(next, Tracer.ParentSpan, span)) as Context.Context<R>
}

/**
 * The job's checkpoint store, process tracker and waits reporter, in one object whose methods are shared by every job:
 * most jobs use none of them, and as three objects of closures (and a Set) they were allocated for every job.
 */
class Services implements checkpoints.Store, Processes.Tracker, resources.Waits {
  private readonly recorder: Recorder
  private readonly runId: string
  private readonly job: JobState
  /** Called when a step is first loaded or saved (see Executor.ts: hashed only for jobs that use steps). */
  private readonly hashInputs: (job: JobState) => string
  private hash: string | undefined = undefined
  /** The topics already warned about (made at the first warning). */
  private warned: Set<string> | undefined = undefined
  constructor(recorder: Recorder, runId: string, job: JobState, hashInputs: (job: JobState) => string) {
    this.recorder = recorder
    this.runId = runId
    this.job = job
    this.hashInputs = hashInputs
  }

  private inputHash(): string {
    return this.hash ??= this.hashInputs(this.job)
  }

  warnOnce(topic: string, message: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      const warned = this.warned ??= new Set()
      return warned.has(topic) ? Effect.void : (warned.add(topic), Effect.logWarning(message))
    })
  }

  // A step made for other inputs (a need re-ran with a new output) is not there: the job's steps start afresh.
  load(step: string): Effect.Effect<Option.Option<string | undefined>> {
    return Effect.orDie(this.recorder.journal.checkpoint(this.runId, this.job.id, step)).pipe(
      Effect.flatMap(Option.match({
        onNone: () => Effect.succeedNone,
        onSome: (saved) =>
          saved.inputHash === this.inputHash() ? Effect.succeedSome(saved.json) : Effect.as(
            this.warnOnce(
              "inputs",
              saved.inputHash === undefined
                ? "its steps start afresh: its checkpoints were made by an older runner, which did not record the inputs"
                : "its steps start afresh: its inputs changed since its checkpoints were made (a job it needs ran again)"
            ),
            Option.none()
          )
      }))
    )
  }

  // A checkpoint that held a secret in clear is journaled as unrestorable: the step runs again on resume.
  save(step: string, encoded: Encoding.Encoded): Effect.Effect<void> {
    return Effect.flatMap(Secrets.CurrentMasker, (masker) =>
      Effect.orDie(this.recorder.journal.saveCheckpoint(this.runId, this.job.id, step, { json: maskedJson(encoded.json, masker), inputHash: this.inputHash() })))
  }

  started(group: Processes.Group): Effect.Effect<void> {
    return Effect.orDie(this.recorder.journal.processStarted({ ...group, runId: this.runId, jobId: this.job.id, attempt: this.job.attempts }))
  }

  ended(group: Processes.Group, how: Processes.Ended): Effect.Effect<void> {
    if (how._tag === "Exited") return Effect.orDie(this.recorder.journal.processEnded(this.runId, group.pid))
    // An abandoned group stays journaled: it may still be there when the run resumes.
    this.job.abandoned = how.reason
    return Effect.logError(`stopped waiting for the command: ${how.reason}`)
  }

  // A wait outside an attempt is for the next attempt, and counts in its waited time.
  waiting(wait: resources.Wait): Effect.Effect<void> {
    const { job, recorder, runId } = this
    return Effect.flatMap(Clock.currentTimeMillis, (at) => {
      const call = job.inAttempt
      ;(job.waits ??= []).push({ wait, call, since: at })
      const { kind, resource, until } = wait
      const attempt = call ? job.attempts : job.attempts + 1
      return recorder.emit({ _tag: "JobWaiting", runId, jobId: job.id, attempt, at, resource, kind, until, call })
    })
  }

  admitted(wait: resources.Wait): Effect.Effect<void> {
    const { job, recorder, runId } = this
    return Effect.flatMap(Clock.currentTimeMillis, (at) => {
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
  }
}
