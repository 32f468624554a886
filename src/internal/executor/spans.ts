/**
 * The spans of a run, made through the fibers' Tracer (Effect's own when nothing else is configured): a span per run,
 * per job (from its start, or its skip or restore, to its end) and per attempt, the user's effect running inside its
 * attempt's span so that spans it opens are children of it (and a shell job's TRACEPARENT names it). Retries are events
 * on the job's span. A failed span's status carries the recorder's masked text, never the Cause's values (not masked).
 *
 * Names and attributes (kept from the trace Telemetry.ts used to build from events):
 * - `run <dag>`: runner.dag, runner.run.id, runner.run.resumed, runner.run.jobs, runner.run.concurrency,
 *   runner.run.failure_mode, plus the caller's (runner.run.trigger, runner.run.key); at its end runner.run.status and
 *   runner.run.duration_ms. Failed: error `RunFailed`, "critical job(s) failed: a, b".
 * - `job <id>`: runner.job.id; at its end runner.job.status, runner.job.attempts (when it ran), runner.job.skip_reason.
 * - `attempt <n>`: runner.job.id, runner.attempt.
 * - event `retry` on the job span: runner.attempt, runner.retry.delay_ms, runner.retry.next_attempt, error.message.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Tracer from "effect/Tracer"
import * as render from "../render.ts"
import type * as RunEvent from "../RunEvent.ts"
import type { JobState } from "./state.ts"

/** Whether `tracer` exports spans: Effect's native tracer (the default) exports nothing. */
export const exporting = (tracer: Tracer.Tracer): boolean => tracer !== Tracer.nativeTracer

/**
 * Whether the runner opens spans: only when the fibers' Tracer is not Effect's default one, which exports nothing.
 * Measured: two spans per job cost about a quarter of an in-process no-op job's CPU (24 → 31 µs), for spans no one
 * would see. Without them a job has no current span (`Effect.currentSpan` fails) and command jobs get no TRACEPARENT.
 */
const tracing: Effect.Effect<boolean> = Effect.map(Effect.tracer, exporting)

/**
 * The run's span, a child of the caller's span if there is one: `effect` runs inside it, and ends it with `endRun`
 * (else it ends with `effect`'s exit). No span (undefined) when nothing exports spans (see `tracing`).
 */
export const run = <A, E, R>(
  event: RunEvent.RunStarted,
  extra: Readonly<Record<string, unknown>>,
  effect: (span: Tracer.Span | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(tracing, (on) => !on ? effect(undefined) : Effect.useSpan(`run ${event.dag}`, {
    attributes: {
      "runner.dag": event.dag,
      "runner.run.id": event.runId,
      "runner.run.resumed": event.resumed,
      "runner.run.jobs": event.jobIds.length,
      "runner.run.concurrency": event.concurrency,
      "runner.run.failure_mode": event.failureMode,
      ...extra
    }
  }, (span) => within(effect(span), span)))

/**
 * Runs `effect` with `span` as its parent span: `Effect.withParentSpan` without the stack frame it captures (an Error
 * per call, a measurable cost per job, for a frame that would point into the executor).
 */
export const within = <A, E, R>(effect: Effect.Effect<A, E, R>, span: Tracer.Span | undefined): Effect.Effect<A, E, Exclude<R, Tracer.ParentSpan>> =>
  span === undefined
    ? effect as Effect.Effect<A, E, Exclude<R, Tracer.ParentSpan>>
    : Effect.provideService(effect, Tracer.ParentSpan, span)

/** Ends the run's span with how the run ended. */
export const endRun = (span: Tracer.Span | undefined, event: RunEvent.RunFinished): Effect.Effect<void> =>
  span === undefined ? Effect.void : Effect.flatMap(Clock.currentTimeNanos, (now) =>
    Effect.sync(() => {
      span.attribute("runner.run.status", event.status)
      span.attribute("runner.run.duration_ms", event.durationMillis)
      const failed = event.jobs.filter((job) => job.critical && (job.status === "failed" || job.status === "interrupted")).map((job) => job.jobId)
      span.end(
        now,
        event.status === "succeeded"
          ? Exit.void
          : event.status === "interrupted"
          ? Exit.interrupt()
          : failure("RunFailed", `critical job${failed.length === 1 ? "" : "s"} failed: ${failed.join(", ")}`)
      )
    }))

/** Opens the job's span, a child of the current span (the run's); none when nothing exports spans. */
export const startJob = (job: JobState): Effect.Effect<Tracer.Span | undefined> => withJobSpan(job, Effect.succeed)

/**
 * `f` of the job's span, opened as its job starts (none when nothing exports spans: then `f` is called in place, the
 * common case on every job's path). `tracing`, read in place: one effect instead of three.
 */
export const withJobSpan = <A, E, R>(
  job: JobState,
  f: (span: Tracer.Span | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) =>
    exporting(fiber.getRef(Tracer.Tracer))
      ? Effect.flatMap(Effect.makeSpan(`job ${job.id}`, { attributes: { "runner.job.id": job.id } }), f)
      : f(undefined)
  )

/**
 * Ends the job's span (opening it first for a job that never started: skipped or restored). Synchronous when the
 * span is open, which is the case of every job that ran: this is on every job's path. None for a job that started
 * without a span (nothing exports them).
 */
export const endJob = (job: JobState, clock: Clock.Clock, maskedDetail: string | undefined): Effect.Effect<void> =>
  job.span === undefined
    ? job.spanless ? Effect.void : Effect.flatMap(startJob(job), (span) => span === undefined ? Effect.void : Effect.sync(() => endSpan(span, job, clock, maskedDetail)))
    : Effect.sync(() => endSpan(job.span!, job, clock, maskedDetail))

const endSpan = (span: Tracer.Span, job: JobState, clock: Clock.Clock, maskedDetail: string | undefined): void => {
  const status = job.status
  span.attribute("runner.job.status", status)
  if (job.attempts > 0) span.attribute("runner.job.attempts", job.attempts)
  if (job.cachedFrom !== undefined) span.attribute("runner.job.cached_from", job.cachedFrom)
  if (status === "skipped" && maskedDetail !== undefined) span.attribute("runner.job.skip_reason", maskedDetail)
  span.end(
    clock.currentTimeNanosUnsafe(),
    status === "failed"
      ? failure(errorName(job.cause), maskedDetail ?? "failed")
      : status === "interrupted"
      ? Exit.interrupt()
      : Exit.void
  )
  // Not kept once ended: 10,000 spans held to the end of a run cost the garbage collector more than they make.
  job.span = undefined
}

/** One attempt of a job, a child of the current span (the job's); `effect` runs inside it. */
export const attempt = <A, E, R>(
  job: JobState,
  n: number,
  effect: (span: Tracer.Span | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  // The job's span exists exactly when spans are on (see `startJob`).
  job.span === undefined
    ? effect(undefined)
    : Effect.useSpan(`attempt ${n}`, { attributes: { "runner.job.id": job.id, "runner.attempt": n } }, effect)

/**
 * Ends an attempt's span as failed, with the masked text of its failure, or as interrupted. (The attempt returns its
 * failure as data: its span would otherwise end as a success.)
 */
export const failAttempt = (span: Tracer.Span | undefined, cause: Cause.Cause<unknown>, maskedText: string): Effect.Effect<void> =>
  span === undefined ? Effect.void : Effect.flatMap(Clock.currentTimeNanos, (now) =>
    Effect.sync(() =>
      span.end(now, Cause.hasInterruptsOnly(cause) ? Exit.interrupt() : failure(errorName(cause), maskedText))
    ))

/** A retry, as an event on the job's span. */
export const retry = (
  span: Tracer.Span | undefined,
  attempt: number,
  delayMillis: number,
  maskedText: string
): Effect.Effect<void> =>
  span === undefined ? Effect.void : Effect.flatMap(Clock.currentTimeNanos, (now) =>
    Effect.sync(() =>
      span.event("retry", now, {
        "runner.attempt": attempt,
        "runner.retry.delay_ms": delayMillis,
        "runner.retry.next_attempt": attempt + 1,
        "error.message": maskedText
      })
    ))

/**
 * A failure as a span's status shows it: the error's tag as its type, the first line of the (masked) text as its
 * message, the rest (a defect's stack) as its stack.
 */
const failure = (name: string, text: string): Exit.Exit<never, unknown> => {
  const [message = "", ...rest] = text.split("\n")
  return Exit.fail(rest.length === 0 ? { name, message } : { name, message, stack: [`${name}: ${message}`, ...rest].join("\n") })
}

const errorName = (cause: Cause.Cause<unknown> | undefined): string => cause === undefined ? "Error" : render.causeTag(cause)
