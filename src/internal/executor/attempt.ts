/**
 * Runs one job: its attempts, each holding the job's resource permits and taking a rate-limit slot of each (the permits
 * are freed during the backoff between attempts), each inside its own span with the job's timeout and circuit
 * breakers; typed failures retried by the job's schedule. Returns the job's output, encoded for the journal but not
 * committed: the run's loop commits it (see commit.ts).
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Pull from "effect/Pull"
import * as References from "effect/References"
import * as Schedule from "effect/Schedule"
import type * as Tracer from "effect/Tracer"
import { JobTimeout, OutputInvalid, OutputNotJournalable } from "../../Errors.ts"
import type * as Job from "../../Job.ts"
import * as resources from "../resources.ts"
import * as Encoding from "../Encoding.ts"
import * as layers from "../layers.ts"
import * as jobServices from "./jobServices.ts"
import * as render from "../render.ts"
import type { Recorder } from "./recorder.ts"
import * as spans from "./spans.ts"
import { CurrentAttemptHook } from "../testkit/Hook.ts"
import type { Finished, JobState } from "./state.ts"

/**
 * Runs `job` with `inputs` until it succeeds or its retries are exhausted, inside the job's span (opened as it starts:
 * it includes the waits for resources). Interruption journals `JobInterrupted`.
 */
export const runJob = (
  recorder: Recorder,
  runId: string,
  job: JobState,
  inputs: Record<string, unknown>,
  /** How to make the hash of its inputs, when a checkpoint first needs it (its services keep what it made). */
  inputHash: (job: JobState) => string
): Effect.Effect<Finished, unknown, Job.Services> =>
  // Its log annotations (jobId, runId) come with its services (jobServices.ts).
  spans.withJobSpan(job, (span) => {
    job.span = span
    job.spanless = span === undefined
    return jobServices.provide(attempts(recorder, runId, job, inputs), recorder, runId, job, inputHash, span)
  }).pipe(Effect.onInterrupt(() => interrupted(recorder, runId, job)))

/**
 * `runJob` for a job whose fiber was started with its services (`jobServices.withServices`) and without a span (nothing
 * exports spans): the executor's common case, which then changes no context as the job starts. `clock` is the fiber's.
 * Its interruption is not journaled here: the caller, which takes the work's exit anyway, emits `interrupted` (an exit
 * hook less a job).
 */
export const runProvided = (
  recorder: Recorder,
  runId: string,
  job: JobState,
  inputs: Record<string, unknown>,
  clock: Clock.Clock
): Effect.Effect<Finished, unknown, Job.Services> => {
  job.span = undefined
  job.spanless = true
  const definition = job.planned.job
  return definition.retry === undefined && definition.uses.length === 0
    ? single(recorder, runId, job, inputs, clock)
    : attempts(recorder, runId, job, inputs)
}

/** Journals that the job was interrupted (`JobInterrupted`). */
export const interrupted = (recorder: Recorder, runId: string, job: JobState): Effect.Effect<void> =>
  Effect.flatMap(Clock.currentTimeMillis, (at) =>
    recorder.emit({
      _tag: "JobInterrupted",
      runId,
      jobId: job.id,
      attempt: job.attempts,
      at,
      ...(job.abandoned === undefined ? {} : { reason: job.abandoned })
    }))

/**
 * The attempts: each waits for the job's permits and rate-limit slots, and starts once it holds them all. A job without
 * retry has one (without the loop's generator: the common case, on every job's path).
 */
const attempts = (recorder: Recorder, runId: string, job: JobState, inputs: Record<string, unknown>) => {
  const definition = job.planned.job
  if (definition.retry !== undefined) return retried(recorder, runId, job, inputs)
  return Effect.flatMap(resources.holdAll(definition.uses, one(recorder, runId, job, attemptEffect(definition, inputs))), (outcome) =>
    endOfOnly(recorder, runId, job, outcome))
}

/** How the only attempt of a job without retry ended: its success, or its failure journaled. */
const endOfOnly = (recorder: Recorder, runId: string, job: JobState, outcome: Outcome): Effect.Effect<Finished, unknown> => {
  job.inAttempt = false
  if (outcome._tag === "Succeeded") return Effect.succeed(outcome.finished)
  if (job.abandoned !== undefined) return Effect.interrupt
  const { at, cause, error } = outcome
  return Effect.andThen(
    recorder.emit({ _tag: "AttemptFailed", runId, jobId: job.id, attempt: job.attempts, at, error, cause, retryInMillis: undefined }),
    Effect.failCause(cause)
  )
}

/**
 * The only attempt of a job without retry, resources or span (see `runProvided`): `one` and `attempts` in one, its
 * common end (nothing returned, no schema) made into the job's success at once, without an `Outcome` between. The
 * attempt's log annotation is set on the fiber as its effect starts and taken off as it ends (in the handlers of its
 * exit, which run once whatever the exit), as `withAttempt` does, without the exit hook `Effect.updateContext` pushes.
 */
const single = (
  recorder: Recorder,
  runId: string,
  job: JobState,
  inputs: Record<string, unknown>,
  clock: Clock.Clock
): Effect.Effect<Finished, unknown, Job.Services> =>
  Effect.withFiber((fiber) => {
    const n = ++job.attempts
    job.inAttempt = true
    const definition = job.planned.job
    let outside: Context.Context<never> | undefined
    const attempt = Effect.withFiber((fiber) => {
      outside = fiber.context
      fiber.setContext(annotated(outside, n))
      return attemptOf(definition, inputs, fiber)
    })
    const reported = recorder.emitNow({ _tag: "AttemptStarted", runId, jobId: job.id, attempt: n, at: clock.currentTimeMillisUnsafe() })
    const ran = Effect.matchCauseEffect(attempt, {
      onSuccess: (value) => {
        fiber.setContext(outside!)
        if (value !== undefined || definition.output !== undefined) {
          return Effect.flatMap(ended(recorder, job, n, undefined, Exit.succeed(value)), (outcome) => endOfOnly(recorder, runId, job, outcome))
        }
        job.inAttempt = false
        return Effect.succeed<Finished>({ output: undefined, encoded: nothing, attempt: n, at: clock.currentTimeMillisUnsafe() })
      },
      onFailure: (cause) => {
        fiber.setContext(outside!)
        return Effect.flatMap(ended(recorder, job, n, undefined, Exit.failCause(cause)), (outcome) => endOfOnly(recorder, runId, job, outcome))
      }
    })
    // Recorded already (a memory journal, and a reporter with nothing to do): nothing to run before the attempt.
    return Exit.isExit(reported) && Exit.isSuccess(reported) ? ran : Effect.andThen(reported, ran)
  })

/**
 * `effect` with the attempt's number in its log annotations: `Effect.annotateLogs(effect, "attempt", n)` without its
 * argument handling (on every job's path).
 */
const withAttempt = <A, E, R>(effect: Effect.Effect<A, E, R>, n: number): Effect.Effect<A, E, R> =>
  Effect.updateContext(effect, (context: Context.Context<R>) => annotated(context, n))

/** `context` with the attempt's number in its log annotations. */
const annotated = <R>(context: Context.Context<R>, n: number): Context.Context<R> =>
  Context.add(context, References.CurrentLogAnnotations, { ...Context.get(context, References.CurrentLogAnnotations), attempt: n })

/** The attempts loop of a job with `retry`: typed failures are retried as its schedule says. */
const retried = (recorder: Recorder, runId: string, job: JobState, inputs: Record<string, unknown>) =>
  Effect.gen(function*() {
    const definition = job.planned.job
    const step = yield* Schedule.toStep(definition.retry!.schedule)
    const once = attemptEffect(definition, inputs)
    while (true) {
      const outcome = yield* resources.holdAll(definition.uses, one(recorder, runId, job, once))
      job.inAttempt = false
      if (outcome._tag === "Succeeded") return outcome.finished
      if (job.abandoned !== undefined) return yield* Effect.interrupt
      const { at, cause, error: text } = outcome
      // Only typed failures are retried (a defect is a bug, an interruption a request to stop), never an output that
      // does not fit its schema: it will not fit next time either.
      const error = outcome.output || Cause.hasDies(cause) || Cause.hasInterrupts(cause)
        ? Option.none()
        : Cause.findErrorOption(cause)
      const delay = Option.isNone(error) ? undefined : yield* step(at, error.value).pipe(
        Effect.map(([, d]) => Duration.toMillis(d)),
        Pull.catchDone(() => Effect.succeed(undefined))
      )
      const attempt = job.attempts
      yield* recorder.emit({ _tag: "AttemptFailed", runId, jobId: job.id, attempt, at, error: text, cause, retryInMillis: delay })
      if (delay === undefined) return yield* Effect.failCause(cause)
      yield* spans.retry(job.span, attempt, delay, recorder.mask(text))
      yield* Effect.sleep(delay)
    }
  })

/** How one attempt ended: its output encoded, or its failure (of its own, or an `output` that cannot be journaled). */
type Outcome =
  | { readonly _tag: "Succeeded"; readonly finished: Finished }
  | {
    readonly _tag: "Failed"
    readonly cause: Cause.Cause<unknown>
    readonly output: boolean
    /** The failure rendered for people, not masked yet. */
    readonly error: string
    readonly at: number
  }

/** One attempt, in its span: the user's effect runs inside it; a failure ends it with the masked text. */
const one = (
  recorder: Recorder,
  runId: string,
  job: JobState,
  once: Effect.Effect<unknown, unknown, Job.Services>
): Effect.Effect<Outcome, never, Job.Services> =>
  Effect.clockWith((clock) => {
    const n = ++job.attempts
    job.inAttempt = true
    return spans.attempt(job, n, (span) =>
      Effect.andThen(
        recorder.emit({ _tag: "AttemptStarted", runId, jobId: job.id, attempt: n, at: clock.currentTimeMillisUnsafe() }),
        // Matched rather than `Effect.exit`: no Exit made for the common case.
        Effect.matchCauseEffect(withAttempt(spans.within(once, span), n), {
          onSuccess: (value) =>
            // The common case, a job that returns nothing and has no schema: nothing to encode (see `nothing`).
            value === undefined && job.planned.job.output === undefined
              ? Effect.succeed<Outcome>({
                _tag: "Succeeded",
                finished: { output: undefined, encoded: nothing, attempt: n, at: clock.currentTimeMillisUnsafe() }
              })
              : ended(recorder, job, n, span, Exit.succeed(value)),
          onFailure: (cause) => ended(recorder, job, n, span, Exit.failCause(cause))
        })
      ))
  })

/** How an attempt whose effect ended with `exit` ends: its output encoded, or its failure recorded on its span. */
const ended = (
  recorder: Recorder,
  job: JobState,
  n: number,
  span: Tracer.Span | undefined,
  exit: Exit.Exit<unknown, unknown>
): Effect.Effect<Outcome> =>
  Effect.gen(function*() {
    const encoded = Exit.isSuccess(exit) ? yield* Effect.exit(encodeOutput(job.planned.job, exit.value)) : undefined
    const at = yield* Clock.currentTimeMillis
    if (Exit.isSuccess(exit) && encoded !== undefined && Exit.isSuccess(encoded)) {
      if (encoded.value._tag === "Unrestorable") {
        yield* Effect.logWarning(`its output will not be restored if the run resumes (the job runs again): ${encoded.value.reason}`)
      }
      return { _tag: "Succeeded", finished: { output: exit.value, encoded: encoded.value, attempt: n, at } } as const
    }
    const cause: Cause.Cause<unknown> = Exit.isFailure(exit) ? exit.cause : (encoded as Exit.Failure<unknown, unknown>).cause
    const error = render.cause(cause)
    yield* spans.failAttempt(span, cause, recorder.mask(error))
    return { _tag: "Failed", cause, output: Exit.isSuccess(exit), error, at } as const
  })

/** The job's `run` for one attempt: its own layer provided, then its timeout, then its resources' circuit breakers. */
const attemptEffect = (job: Job.Any, inputs: Record<string, unknown>): Effect.Effect<unknown, unknown, Job.Services> =>
  Effect.withFiber((fiber) => attemptOf(job, inputs, fiber))

/** `attemptEffect`'s effect, made in the fiber that runs it. */
const attemptOf = (job: Job.Any, inputs: Record<string, unknown>, fiber: Fiber.Fiber<unknown, unknown>): Effect.Effect<unknown, unknown, Job.Services> => {
  // The test kit's faults (effect-runner/test) replace or wrap the work; never set outside it.
  const hook = fiber.getRef(CurrentAttemptHook)
  const effect = layers.provideJob(job, hook === undefined ? work(job, inputs) : hook(job, () => work(job, inputs)))
  const timed = job.timeout === undefined ? effect : effect.pipe(Effect.timeoutOrElse({
    duration: job.timeout,
    orElse: () => Effect.fail(new JobTimeout({ jobId: job.id, timeout: Duration.format(job.timeout!) }))
  }))
  // Each attempt passes the circuit breakers of the resources the job uses: a timed-out attempt counts as a failure.
  // (Most jobs use none: no filtered array for them.)
  const breakers = job.uses.length === 0 ? job.uses : job.uses.filter((resource) => resource.breaker !== undefined)
  return breakers.length === 0 ? timed : resources.guardAttempt(breakers, timed)
}

/** The job's `run` of its inputs, which must be an Effect. */
const work = (job: Job.Any, inputs: Record<string, unknown>): Effect.Effect<unknown, unknown, Job.Services> => {
  const ran: unknown = job.run(inputs)
  return Effect.isEffect(ran)
    ? ran as Effect.Effect<unknown, unknown, Job.Services>
    : Effect.die(new TypeError(`job "${job.id}": run must return an Effect, got ${typeof ran}`))
}

/** What `Encoding.encode` makes of no output without a schema: the common case of a job that returns nothing. */
const nothing: Encoding.Encoded = { _tag: "Restorable", json: undefined }

/** The output as the journal will keep it; a value that cannot be journaled at all is a typed failure of the job. */
const encodeOutput = (job: Job.Any, output: unknown): Effect.Effect<Encoding.Encoded, OutputInvalid | OutputNotJournalable> =>
  Encoding.encode(job.output, output).pipe(
    Effect.mapError((error) =>
      error instanceof Encoding.NotJournalable
        ? new OutputNotJournalable({ jobId: job.id, reason: error.reason })
        : new OutputInvalid({ jobId: job.id, issue: Encoding.schemaMessage(error) })
    )
  )
