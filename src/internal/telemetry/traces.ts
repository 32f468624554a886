/**
 * What the run's events add to the real spans the executor opens (`run <dag>` → `job <id>` → `attempt <n>`, see
 * tracer.ts): how each ended (status attributes, the masked error of a failure), retries as events on the job span,
 * spans for the jobs that never ran (skipped, restored), and the run's trigger and key from its summary. The spans'
 * identity, parents and timing are Effect's, so a span a job opens is a child of its attempt.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import type * as Observer from "../Observer.ts"
import type * as RunEvent from "../RunEvent.ts"
import * as Secrets from "../Secrets.ts"
import { attemptKey, type ExportedSpan, JOB_ID, type RunSpans, WrappedTracer } from "./tracer.ts"

const nanos = (millis: number): bigint => BigInt(Math.round(millis)) * 1_000_000n

/**
 * A failure as the exported span shows it: the error's tag as its type, the first line of the event's (masked) text
 * as its message, the rest (a defect's stack) as its stack. Never the Cause itself: its values are not masked.
 */
const failure = (name: string, text: string): Exit.Exit<never, unknown> => {
  const [message = "", ...rest] = text.split("\n")
  return Exit.fail(rest.length === 0 ? { name, message } : { name, message, stack: [`${name}: ${message}`, ...rest].join("\n") })
}

const errorName = (cause: Cause.Cause<unknown>): string => {
  if (Cause.hasDies(cause)) return "Defect"
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error) && typeof error.value === "object" && error.value !== null && "_tag" in error.value) {
    const tag = error.value._tag
    if (typeof tag === "string") return tag
  }
  return "Error"
}

const runFailure = (failed: ReadonlyArray<string>) =>
  failure("RunFailed", `critical job${failed.length === 1 ? "" : "s"} failed: ${failed.join(", ")}`)

/** The traces side of the telemetry: the fibers' tracer, and the observer completing the runner's spans. */
export class Traces {
  readonly wrapped: WrappedTracer
  /** Each run in progress's masker: spans are masked with all of them (masking another run's secret too is harmless). */
  private readonly maskers = new Map<string, Secrets.Masker>()
  private readonly finished = new Map<string, RunEvent.RunFinished>()

  constructor(inner: Tracer.Tracer) {
    this.wrapped = new WrappedTracer(inner, () => this.mask)
  }

  get tracer(): Tracer.Tracer {
    return this.wrapped.tracer
  }

  private readonly mask = <A>(value: A): A => {
    let out = value
    for (const masker of this.maskers.values()) out = masker.maskDeep(out)
    return out
  }

  readonly observer: Observer.Observer = {
    name: "OpenTelemetry traces",
    onEvent: (event) =>
      event._tag === "RunStarted"
        ? Effect.map(Secrets.CurrentMasker, (masker) => {
          if (!masker.empty) this.maskers.set(event.runId, masker)
        })
        : Effect.sync(() => this.onEvent(event)),
    onFinish: (summary) => Effect.sync(() => this.onFinish(summary))
  }

  /** A job's span, made here for a job that never ran (skipped, restored) or whose span the executor did not open. */
  private job(run: RunSpans, jobId: string, at: number): ExportedSpan {
    const open = run.jobs.get(jobId)
    if (open !== undefined) return open
    const span = this.tracer.span({
      name: `job ${jobId}`,
      parent: Option.some(run.span),
      annotations: run.span.annotations,
      links: [],
      startTime: nanos(at),
      kind: "internal",
      root: false,
      sampled: run.span.sampled
    }) as ExportedSpan
    span.attribute(JOB_ID, jobId)
    return span
  }

  private endJob(run: RunSpans, jobId: string, at: number, status: RunEvent.JobStatus, exit: Exit.Exit<unknown, unknown>) {
    const span = this.job(run, jobId, at)
    span.set("runner.job.status", status)
    span.complete(exit)
    // A job that never ran has no fiber to end its span.
    if (status === "skipped" || status === "restored") span.end(nanos(at), Exit.void)
  }

  private endAttempt(run: RunSpans, jobId: string, attempt: number, exit: Exit.Exit<unknown, unknown>) {
    run.attempts.get(attemptKey(jobId, attempt))?.complete(exit)
  }

  private onEvent(event: RunEvent.RunEvent): void {
    const run = this.wrapped.runs.get(event.runId)
    if (run === undefined) return
    switch (event._tag) {
      case "AttemptStarted":
        return run.jobs.get(event.jobId)?.set("runner.job.attempts", event.attempt)
      case "AttemptFailed": {
        const exit = failure(errorName(event.cause), event.error)
        this.endAttempt(run, event.jobId, event.attempt, exit)
        if (event.retryInMillis === undefined) return this.endJob(run, event.jobId, event.at, "failed", exit)
        run.jobs.get(event.jobId)?.addEvent("retry", nanos(event.at), {
          "runner.attempt": event.attempt,
          "runner.retry.delay_ms": event.retryInMillis,
          "runner.retry.next_attempt": event.attempt + 1,
          "error.message": event.error
        })
        return
      }
      case "AttemptSucceeded":
        this.endAttempt(run, event.jobId, event.attempt, Exit.void)
        return this.endJob(run, event.jobId, event.at, "succeeded", Exit.void)
      case "JobInterrupted":
        this.endAttempt(run, event.jobId, event.attempt, Exit.interrupt())
        return this.endJob(run, event.jobId, event.at, "interrupted", Exit.interrupt())
      case "JobSkipped":
        this.job(run, event.jobId, event.at).set("runner.job.skip_reason", event.reason)
        return this.endJob(run, event.jobId, event.at, "skipped", Exit.void)
      case "JobRestored":
        return this.endJob(run, event.jobId, event.at, "restored", Exit.void)
      case "RunFinished": {
        this.finished.set(event.runId, event)
        // What is still open here (interrupted while its success was being committed) ends as interrupted.
        for (const span of run.attempts.values()) span.complete(Exit.interrupt())
        for (const [jobId, span] of run.jobs) {
          if (span.outcome === undefined) this.endJob(run, jobId, event.at, "interrupted", Exit.interrupt())
        }
        run.span.set("runner.run.status", event.status)
        run.span.set("runner.run.duration_ms", event.durationMillis)
        return
      }
    }
  }

  /** The run span ends with the summary, which adds what the events lack: the run key and the trigger. */
  private onFinish(summary: Observer.Summary): void {
    const run = this.wrapped.runs.get(summary.runId)
    this.finished.delete(summary.runId)
    if (run !== undefined) {
      run.span.set("runner.run.trigger", summary.trigger)
      if (summary.key !== undefined) run.span.set("runner.run.key", summary.key)
      this.endRun(run, summary.status, summary.failed.filter((f) => f.critical).map((f) => f.jobId))
    }
    this.maskers.delete(summary.runId)
  }

  private endRun(run: RunSpans, status: RunEvent.RunStatus, failed: ReadonlyArray<string>): void {
    run.span.complete(status === "succeeded" ? Exit.void : status === "interrupted" ? Exit.interrupt() : runFailure(failed))
  }

  /** When the exporter closes, whatever is still open ends (as interrupted if its run never said how it ended). */
  endAll(nowMillis: number): void {
    const now = nanos(nowMillis)
    for (const [runId, run] of [...this.wrapped.runs]) {
      const finished = this.finished.get(runId)
      if (finished === undefined) {
        this.onEvent({ _tag: "RunFinished", runId, dag: "", at: nowMillis, status: "interrupted", durationMillis: 0, jobs: [] })
      }
      const { jobs, status } = this.finished.get(runId)!
      for (const span of [...run.attempts.values(), ...run.jobs.values()]) if (span.open) span.forceEnd(now)
      this.endRun(run, status, jobs.filter((job) => job.critical && job.status === "failed").map((job) => job.jobId))
      run.span.forceEnd(now)
    }
  }
}
