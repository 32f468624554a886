/**
 * Runs a plan: starts jobs whose needs have succeeded (their success committed to the Journal), at most `concurrency`
 * at a time, with per-job retries, timeouts and resource permits (taken for each attempt, freed during the backoff);
 * applies the failure mode; and reports every state change, and every wait for a resource, to the Journal and the
 * Reporter. While a run is going it tells internal/stall.ts what each job waits for, which the process prints if it
 * stalls. Interrupting the run interrupts every running job (their child processes are killed) and still records
 * how the run ended.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Pull from "effect/Pull"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Tracer from "effect/Tracer"
import * as Checkpoint from "../Checkpoint.ts"
import type * as Dag from "../Dag.ts"
import * as Encoding from "./Encoding.ts"
import { JobTimeout, OutputInvalid, OutputNotJournalable } from "../Errors.ts"
import * as layers from "./layers.ts"
import * as Processes from "./processes.ts"
import * as render from "./render.ts"
import type * as Job from "../Job.ts"
import { Journal } from "./Journal.ts"
import { Reporter } from "./Reporter.ts"
import * as Resource from "../Resource.ts"
import * as Resume from "./Resume.ts"
import type * as RunEvent from "./RunEvent.ts"
import * as Secrets from "./Secrets.ts"
import * as stall from "./stall.ts"

export interface Options {
  /** Run id; the caller makes it (the journal may have chosen it). */
  readonly runId: string
  /** At most this many jobs at once. */
  readonly concurrency: number
  /** What a failed critical job does to the rest of the run. */
  readonly failureMode: RunEvent.FailureMode
  /** Jobs that succeeded in an earlier attempt of this run, with their outputs: they are passed on, not run. */
  readonly restored?: ReadonlyMap<string, Resume.Restored>
  /** Each job's definition hash, by plan index, journaled with its success. Default: `Resume.definitionHashes(plan)`. */
  readonly definitionHashes?: ReadonlyArray<string>
  /** True when this continues an earlier, unfinished run. */
  readonly resumed?: boolean
  /** Each job's resolved config (see `Preflight`), passed to its `run` as `config`. */
  readonly config?: ReadonlyMap<string, Readonly<Record<string, unknown>>>
  /** The resources' limiters. Default: a fresh registry for this run; the scheduler passes one for all its runs. */
  readonly registry?: Resource.Registry
}

export interface Result {
  readonly runId: string
  readonly status: RunEvent.RunStatus
  readonly jobs: ReadonlyArray<RunEvent.JobSummary>
  readonly durationMillis: number
}

type State = "waiting" | "running" | "committing" | RunEvent.JobStatus

/** What a job's fiber tells the loop besides its outcome: its attempts and its waits for resources. */
interface Progress {
  readonly attempt: (n: number) => void
  /** A wait began (`call`: inside the running attempt) or ended. */
  readonly waiting: (wait: Resource.Wait, call: boolean) => void
  readonly admitted: (wait: Resource.Wait, call: boolean, waitedMillis: number) => void
}

/** What a job's fiber returns when its work succeeded; its success is not journaled yet. */
interface Finished {
  readonly output: unknown
  readonly encoded: Encoding.Encoded
  readonly attempt: number
  readonly at: number
}

/**
 * A job's work ended (`Finished`), or its success became durable (`Committed`). A job frees its concurrency slot
 * when its work ends, but its dependents start only once its success is committed: jobs that finish close together
 * then share one commit (group commit), however small --concurrency is.
 */
type Completion =
  | { readonly _tag: "Finished"; readonly index: number; readonly exit: Exit.Exit<Finished, unknown> }
  | { readonly _tag: "Committed"; readonly index: number; readonly exit: Exit.Exit<void> }

/** Runs the plan to the end and returns its summary. Interruption records the run as interrupted. */
export const run = (plan: Dag.Plan, options: Options): Effect.Effect<Result, never, Journal | Reporter | Job.Services> =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const reporter = yield* Reporter
    const masker = yield* Secrets.CurrentMasker
    const emit = (raw: RunEvent.RunEvent, definitionHash?: string) => {
      const event = masker.empty ? raw : maskEvent(raw, masker)
      return journal.record(event, definitionHash).pipe(Effect.orDie, Effect.andThen(reporter.event(event)))
    }

    const { runId, concurrency, failureMode } = options
    const n = plan.jobs.length
    const states: Array<State> = new Array(n).fill("waiting")
    const outputs: Array<unknown> = new Array(n)
    const attempts: Array<number> = new Array(n).fill(0)
    const startedAt: Array<number> = new Array(n).fill(0)
    const endedAt: Array<number> = new Array(n).fill(0)
    const details: Array<string | undefined> = new Array(n)
    // Each finished or restored job's output as journaled: the inputs of the jobs that need it are hashed from it.
    const journaled: Array<string | undefined> = new Array(n)
    /** Why a job was interrupted, when it was more than a request to stop (a process that outlived SIGKILL). */
    const interruptions: Array<string | undefined> = new Array(n)
    const interruptedDetail = (index: number) =>
      interruptions[index] === undefined ? "interrupted" : `interrupted: ${interruptions[index]}`
    const waited: Array<number> = new Array(n).fill(0)
    // What each running job waits for now, with `call` true for a wait inside its attempt (made at a job's first wait).
    const waits: Array<Array<{ readonly wait: Resource.Wait; readonly call: boolean }> | undefined> = new Array(n)
    const restored = options.restored ?? new Map<string, Resume.Restored>()
    const hashes = options.definitionHashes ?? Resume.definitionHashes(plan)
    const pendingNeeds = plan.jobs.map((p) => p.deps.filter((d) => !restored.has(plan.jobs[d.index]!.job.id)).length)
    const ready: Array<number> = plan.jobs
      .filter((p) => pendingNeeds[p.index] === 0 && !restored.has(p.job.id))
      .map((p) => p.index)
    let readyHead = 0
    let running = 0
    // How each job's fiber and each success commit ended, as soon as they end: an interruption that arrives before
    // the loop has taken their completion must still report (and journal) what happened.
    const fiberExits: Array<Exit.Exit<Finished, unknown> | undefined> = new Array(n)
    const commitExits: Array<Exit.Exit<void> | undefined> = new Array(n)
    let stopReason: string | undefined
    const started = yield* Clock.currentTimeMillis
    const noConfig = { config: {} }
    const configOf = (jobId: string) => {
      const config = options.config?.get(jobId)
      return config === undefined ? noConfig : { config }
    }

    yield* emit({
      _tag: "RunStarted",
      runId,
      resumed: options.resumed ?? false,
      dag: plan.dag.name,
      at: started,
      jobIds: plan.jobs.map((p) => p.job.id),
      concurrency,
      failureMode
    })

    const summary = (status: RunEvent.RunStatus, now: number): Result => ({
      runId,
      status,
      durationMillis: now - started,
      jobs: plan.jobs.map((p, i) => ({
        jobId: p.job.id,
        status: states[i] === "waiting" || states[i] === "running" ? "skipped" : states[i] as RunEvent.JobStatus,
        critical: p.job.critical,
        attempts: attempts[i]!,
        durationMillis: endedAt[i]! > 0 ? endedAt[i]! - startedAt[i]! : 0,
        waitedMillis: waited[i]!,
        detail: details[i]
      }))
    })

    const finish = (status: RunEvent.RunStatus) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const result = summary(status, now)
        yield* emit({ _tag: "RunFinished", runId, dag: plan.dag.name, at: now, status, durationMillis: result.durationMillis, jobs: result.jobs })
        return result
      })

    /** Journals a job's success (durable when it returns), with its definition hash. */
    const commitSuccess = (index: number, { at, attempt, encoded, output }: Finished) =>
      emit({ _tag: "AttemptSucceeded", runId, jobId: plan.jobs[index]!.job.id, attempt, at, output, json: encoded.json }, hashes[index])

    /** Skips every job that transitively needs `index`, each with the reason shown. */
    const skipDependents = (index: number, what: string) =>
      Effect.gen(function*() {
        const origin = plan.jobs[index]!.job.id
        const stack = plan.jobs[index]!.dependents.map((d) => [d, `needs "${origin}", which ${what}`] as const)
        while (stack.length > 0) {
          const [d, reason] = stack.pop()!
          if (states[d] !== "waiting") continue
          states[d] = "skipped"
          details[d] = reason
          const id = plan.jobs[d]!.job.id
          yield* emit({ _tag: "JobSkipped", runId, jobId: id, at: yield* Clock.currentTimeMillis, reason })
          for (const next of plan.jobs[d]!.dependents) {
            stack.push([next, `needs "${id}", which was skipped ("${origin}" ${what})`])
          }
        }
      })

    for (const planned of plan.jobs) {
      if (!restored.has(planned.job.id)) continue
      const { json, output } = restored.get(planned.job.id)!
      states[planned.index] = "restored"
      outputs[planned.index] = output
      journaled[planned.index] = json
      yield* emit({ _tag: "JobRestored", runId, jobId: planned.job.id, at: started })
    }

    /** A failed or interrupted job: record why, skip what needs it, and apply the failure mode. */
    const failed = (index: number, cause: Cause.Cause<unknown>, fibers: FiberSet.FiberSet<unknown, unknown>) =>
      Effect.gen(function*() {
        const job = plan.jobs[index]!.job
        const interrupted = Cause.hasInterruptsOnly(cause)
        states[index] = interrupted ? "interrupted" : "failed"
        details[index] = interrupted ? interruptedDetail(index) : renderCause(cause)
        yield* skipDependents(index, interrupted ? "was interrupted" : "failed")
        if (!job.critical || failureMode === "continue" || stopReason !== undefined) return
        stopReason = `not started: the run stopped after critical job "${job.id}" ${interrupted ? "was interrupted" : "failed"}`
        // kill: stop the jobs still running now; their completions arrive as interruptions.
        if (failureMode === "kill") yield* Effect.forkChild(FiberSet.clear(fibers))
      })

    const progressOf = (index: number): Progress => ({
      attempt: (n) => {
        attempts[index] = n
      },
      waiting: (wait, call) => {
        waits[index] ??= []
        waits[index].push({ wait, call })
      },
      admitted: (wait, call, millis) => {
        const open = waits[index] ?? []
        const i = open.findIndex((w) => w.wait === wait)
        if (i >= 0) open.splice(i, 1)
        if (!call) waited[index]! += millis
      }
    })

    /** Each unfinished job and what it waits for, for the message of a process that stalls. */
    const describeStall = (): ReadonlyArray<string> => {
      const lines: Array<string> = []
      let notStarted = 0
      for (let i = 0; i < n; i++) {
        const id = plan.jobs[i]!.job.id
        if (states[i] === "waiting") notStarted++
        else if (states[i] === "committing") lines.push(`${id}: committing its success to the journal`)
        else if (states[i] === "running") {
          const open = waits[i] ?? []
          const what = open.map(({ call, wait }) =>
            `${call ? `attempt ${attempts[i]} runs, a call inside waits` : `waits to start attempt ${attempts[i]! + 1}`} for ` +
            (wait.kind === "permit" ? `a permit of "${wait.resource}"` : `a rate-limit slot of "${wait.resource}"`)
          )
          lines.push(`${id}: ${what.length > 0 ? what.join("; ") : `attempt ${attempts[i]} runs, waiting on its own work`}`)
        }
      }
      if (notStarted > 0) lines.push(`${notStarted} more job${notStarted === 1 ? "" : "s"} not started`)
      return [`run ${runId} of ${plan.dag.name}:`, ...lines.map((line) => `  ${line}`)]
    }

    const loop = Effect.gen(function*() {
      yield* Effect.acquireRelease(Effect.sync(() => stall.register(describeStall)), (unregister) => Effect.sync(unregister))
      const completions = yield* Queue.unbounded<Completion>()
      const fibers = yield* FiberSet.make()
      // Commits are kept apart from the jobs' fibers: `kill` interrupts jobs, never a success being recorded.
      const commits = yield* FiberSet.make()
      let committing = 0
      while (true) {
        while (stopReason === undefined && running < concurrency && readyHead < ready.length) {
          const index = ready[readyHead++]!
          const planned = plan.jobs[index]!
          // `config` comes from the prototype: `({ config })` gets it, while code that walks the needed outputs
          // (Object.keys/values) sees only them. (A defineProperty per job made each inputs object a slow one.)
          const inputs: Record<string, unknown> = Object.create(configOf(planned.job.id))
          for (const dep of planned.deps) inputs[dep.name] = outputs[dep.index]
          const inputHash = Resume.inputHash(planned.deps.map((dep) => [dep.name, journaled[dep.index]] as const))
          states[index] = "running"
          startedAt[index] = yield* Clock.currentTimeMillis
          running++
          yield* FiberSet.run(
            fibers,
            runJob(planned, inputs, inputHash, runId, emit, journal, progressOf(index), (reason) => { interruptions[index] = reason }).pipe(
              Effect.onExit((exit) => {
                fiberExits[index] = exit
                return Queue.offer(completions, { _tag: "Finished", index, exit })
              })
            )
          )
        }
        if (running === 0 && committing === 0) break
        const completion = yield* Queue.take(completions)
        const { index } = completion
        const planned = plan.jobs[index]!
        if (completion._tag === "Committed") {
          committing--
          if (Exit.isFailure(completion.exit)) {
            yield* failed(index, completion.exit.cause, fibers)
            continue
          }
          states[index] = "succeeded"
          for (const d of planned.dependents) {
            if (--pendingNeeds[d]! === 0 && states[d] === "waiting") ready.push(d)
          }
          continue
        }
        running--
        endedAt[index] = yield* Clock.currentTimeMillis
        const { exit } = completion
        if (Exit.isFailure(exit)) {
          yield* failed(index, exit.cause, fibers)
          continue
        }
        states[index] = "committing"
        outputs[index] = exit.value.output
        journaled[index] = exit.value.encoded.json
        committing++
        yield* FiberSet.run(
          commits,
          // Uninterruptible: an interrupted run waits for a success being committed, and reports it as a success.
          commitSuccess(index, exit.value)
            .pipe(
              Effect.uninterruptible,
              Effect.onExit((exit) => {
                commitExits[index] = exit
                return Queue.offer(completions, { _tag: "Committed", index, exit })
              })
            )
        )
      }
      for (let i = 0; i < n; i++) {
        if (states[i] !== "waiting") continue
        states[i] = "skipped"
        details[i] = stopReason ?? "not started"
        yield* emit({ _tag: "JobSkipped", runId, jobId: plan.jobs[i]!.job.id, at: yield* Clock.currentTimeMillis, reason: details[i]! })
      }
      const criticalFailed = plan.jobs.some((p, i) =>
        p.job.critical && (states[i] === "failed" || states[i] === "interrupted")
      )
      return yield* finish(criticalFailed ? "failed" : "succeeded")
    })

    return yield* Effect.scoped(loop).pipe(
      Effect.provideService(Resource.CurrentRegistry, options.registry ?? new Resource.Registry()),
      Effect.onInterrupt(() =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          for (let i = 0; i < n; i++) {
            const state = states[i]
            if (state === "waiting") {
              details[i] = "not started: the run was interrupted"
              continue
            }
            if (state !== "running" && state !== "committing") continue
            if (endedAt[i] === 0) endedAt[i] = now
            const fiberExit = fiberExits[i]
            const commitExit = commitExits[i]
            const uncommitted = commitExit === undefined ||
              (Exit.isFailure(commitExit) && Cause.hasInterruptsOnly(commitExit.cause))
            if (commitExit !== undefined && Exit.isSuccess(commitExit)) {
              states[i] = "succeeded"
            } else if (fiberExit !== undefined && Exit.isSuccess(fiberExit) && uncommitted) {
              // Its work ended just before the interruption, and its success was not committed: it is, now.
              const committed = yield* Effect.exit(commitSuccess(i, fiberExit.value))
              states[i] = Exit.isSuccess(committed) ? "succeeded" : "interrupted"
              details[i] = Exit.isSuccess(committed) ? undefined : "interrupted"
            } else if (commitExit !== undefined && Exit.isFailure(commitExit) && !uncommitted) {
              states[i] = "failed"
              details[i] = renderCause(commitExit.cause)
            } else if (fiberExit !== undefined && Exit.isFailure(fiberExit) && !Cause.hasInterruptsOnly(fiberExit.cause)) {
              // It failed just before the interruption (its failure is journaled): it failed.
              states[i] = "failed"
              details[i] = renderCause(fiberExit.cause)
            } else {
              states[i] = "interrupted"
              details[i] = interruptedDetail(i)
            }
          }
          yield* finish("interrupted")
        })
      )
    )
  }).pipe(
    // Real spans (exported when OpenTelemetry is on): run → job → attempt, with the attributes telemetry/traces.ts reads.
    spanned(`run ${plan.dag.name}`, () => ({
      "runner.dag": plan.dag.name,
      "runner.run.id": options.runId,
      "runner.run.resumed": options.resumed ?? false,
      "runner.run.jobs": plan.jobs.length,
      "runner.run.concurrency": options.concurrency,
      "runner.run.failure_mode": options.failureMode
    }))
  )

/**
 * The effect in a span of the runner's, when a tracer would export it. With Effect's default tracer (nothing exports)
 * the span is skipped, as Effect's Tracer docs suggest: two spans per job cost ~12 µs of CPU, a third of an in-process
 * job. No stack trace either: capturing one costs more than the span.
 */
const spanned = (name: string, attributes: () => Record<string, unknown>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.tracer, (tracer) =>
    tracer === Tracer.nativeTracer
      ? effect
      : Effect.withSpan(effect, name, { attributes: attributes(), captureStackTrace: false }))

/**
 * Runs one job: attempts with timeout and retry, each holding the job's resource permits and taking a rate-limit slot
 * of each (the permits are freed during the backoff between attempts).
 */
const runJob = (
  planned: Dag.PlannedJob,
  inputs: Record<string, unknown>,
  inputHash: string,
  runId: string,
  emit: (event: RunEvent.RunEvent, definitionHash?: string) => Effect.Effect<void>,
  journal: Journal["Service"],
  progress: Progress,
  onAbandoned: (reason: string) => void
): Effect.Effect<Finished, unknown, Job.Services> => {
  const job = planned.job
  let attempt = 0
  /** Set when a process of the job outlived SIGKILL: the job is not run again beside it, it ends interrupted. */
  let abandoned: string | undefined
  let inAttempt = false
  // When each wait of this job began (made at its first wait: most jobs never wait).
  let since: Map<Resource.Wait, number> | undefined
  const waits: Resource.Waits = {
    waiting: (wait) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => {
        const call = inAttempt
        since ??= new Map()
        since.set(wait, at)
        progress.waiting(wait, call)
        const { kind, resource, until } = wait
        return emit({ _tag: "JobWaiting", runId, jobId: job.id, attempt: call ? attempt : attempt + 1, at, resource, kind, until, call })
      }),
    admitted: (wait) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => {
        const call = inAttempt
        const waitedMillis = Math.max(0, at - (since?.get(wait) ?? at))
        since?.delete(wait)
        progress.admitted(wait, call, waitedMillis)
        const { kind, resource } = wait
        return emit({ _tag: "JobAdmitted", runId, jobId: job.id, attempt: call ? attempt : attempt + 1, at, resource, kind, call, waitedMillis })
      })
  }
  const breakers = job.uses.filter((resource) => resource.breaker !== undefined)
  const once = Effect.suspend(() => {
    const ran = job.run(inputs)
    if (!Effect.isEffect(ran)) {
      return Effect.die(new TypeError(`job "${job.id}": run must return an Effect, got ${typeof ran}`))
    }
    const effect = layers.provideJob(job, ran)
    const timed = job.timeout === undefined ? effect : effect.pipe(Effect.timeoutOrElse({
      duration: job.timeout,
      orElse: () => Effect.fail(new JobTimeout({ jobId: job.id, timeout: Duration.format(job.timeout!) }))
    }))
    // Each attempt passes the circuit breakers of the resources the job uses: a timed-out attempt counts as a failure.
    return breakers.length === 0 ? timed : Resource.guardAttempt(breakers, timed)
  })
  const attempts = Effect.gen(function*() {
    const step = job.retry === undefined ? undefined : yield* Schedule.toStep(job.retry.schedule)
    while (true) {
      // Each attempt waits for the job's permits and rate-limit slots; it starts once it holds them all.
      const exit = yield* Resource.holdAll(job.uses, Effect.gen(function*() {
        attempt++
        inAttempt = true
        progress.attempt(attempt)
        yield* emit({ _tag: "AttemptStarted", runId, jobId: job.id, attempt, at: yield* Clock.currentTimeMillis })
        return yield* Effect.exit(once.pipe(
          Effect.annotateLogs("attempt", attempt),
          spanned(`attempt ${attempt}`, () => ({ "runner.job.id": job.id, "runner.attempt": attempt }))
        ))
      }))
      inAttempt = false
      if (Exit.isFailure(exit) && abandoned !== undefined) return yield* Effect.interrupt
      const now = yield* Clock.currentTimeMillis
      if (Exit.isSuccess(exit)) {
        const encoded = yield* Effect.exit(encodeOutput(job, exit.value))
        if (Exit.isSuccess(encoded)) {
          if (encoded.value._tag === "Unrestorable") {
            yield* Effect.logWarning(`its output will not be restored if the run resumes (the job runs again): ${encoded.value.reason}`)
          }
          return { output: exit.value, encoded: encoded.value, attempt, at: now }
        }
        // An output that does not fit its schema will not fit next time either: no retry.
        yield* emit({ _tag: "AttemptFailed", runId, jobId: job.id, attempt, at: now, error: renderCause(encoded.cause), cause: encoded.cause, retryInMillis: undefined })
        return yield* Effect.failCause(encoded.cause)
      }
      // Only typed failures are retried: a defect is a bug and an interruption is a request to stop.
      const error = Cause.hasDies(exit.cause) || Cause.hasInterrupts(exit.cause)
        ? Option.none()
        : Cause.findErrorOption(exit.cause)
      const delay = step === undefined || Option.isNone(error) ? undefined : yield* step(now, error.value).pipe(
        Effect.map(([, d]) => Duration.toMillis(d)),
        Pull.catchDone(() => Effect.succeed(undefined))
      )
      yield* emit({
        _tag: "AttemptFailed",
        runId,
        jobId: job.id,
        attempt,
        at: now,
        error: renderCause(exit.cause),
        cause: exit.cause,
        retryInMillis: delay
      })
      if (delay === undefined) return yield* Effect.failCause(exit.cause)
      yield* Effect.sleep(delay)
    }
  })
  const warned = new Set<string>()
  const warnOnce = (topic: string, message: string) =>
    Effect.suspend(() => warned.has(topic) ? Effect.void : (warned.add(topic), Effect.logWarning(message)))
  const store: Checkpoint.Store = {
    // A step made for other inputs (a need re-ran with a new output) is not there: the job's steps start afresh.
    load: (step) =>
      Effect.orDie(journal.checkpoint(runId, job.id, step)).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.succeedNone,
          onSome: (saved) =>
            saved.inputHash === inputHash ? Effect.succeedSome(saved.json) : Effect.as(
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
        Effect.orDie(journal.saveCheckpoint(runId, job.id, step, { json: maskedJson(encoded.json, masker), inputHash }))),
    warnOnce
  }
  // The job's shell commands are journaled while they run: a resumed run ends what a killed runner left running.
  const processes: Processes.Tracker = {
    started: (group) => Effect.orDie(journal.processStarted({ ...group, runId, jobId: job.id, attempt })),
    ended: (group, how) => {
      if (how._tag === "Exited") return Effect.orDie(journal.processEnded(runId, group.pid))
      // An abandoned group stays journaled: it may still be there when the run resumes.
      abandoned = how.reason
      onAbandoned(how.reason)
      return Effect.logError(`stopped waiting for the command: ${how.reason}`)
    }
  }
  return attempts.pipe(
    Effect.provideService(Checkpoint.CurrentStore, store),
    Effect.provideService(Processes.CurrentTracker, processes),
    Effect.provideService(Resource.CurrentWaits, waits),
    Effect.onInterrupt(() =>
      Effect.flatMap(Clock.currentTimeMillis, (at) =>
        emit({ _tag: "JobInterrupted", runId, jobId: job.id, attempt, at, ...(abandoned === undefined ? {} : { reason: abandoned }) }))
    ),
    Effect.annotateLogs({ jobId: job.id, runId }),
    spanned(`job ${job.id}`, () => ({ "runner.job.id": job.id }))
  )
}

/**
 * The event with the run's secrets masked. An output or checkpoint that held a secret in clear is journaled as
 * unrestorable (its job or step runs again on resume) rather than with `***` in place of the value.
 */
const maskEvent = (event: RunEvent.RunEvent, masker: Secrets.Masker): RunEvent.RunEvent => {
  switch (event._tag) {
    case "AttemptFailed":
      return { ...event, error: masker.mask(event.error) }
    case "AttemptSucceeded": {
      const output = masker.maskDeep(event.output)
      const json = maskedJson(event.json, masker)
      return output === event.output && json === event.json ? event : { ...event, output, json }
    }
    case "JobSkipped":
      return { ...event, reason: masker.mask(event.reason) }
    case "RunFinished":
      return { ...event, jobs: event.jobs.map((job) => job.detail === undefined ? job : { ...job, detail: masker.mask(job.detail) }) }
    default:
      return event
  }
}

/** The journal's text, or an unrestorable marker when it holds one of the run's secrets in clear. */
const maskedJson = (json: string | undefined, masker: Secrets.Masker): string | undefined =>
  json === undefined || masker.empty || masker.mask(json) === json
    ? json
    : Encoding.unrestorable("it holds a secret (Redacted), which the journal never stores").json

/** The output as the journal will keep it; a value that cannot be journaled at all is a typed failure of the job. */
const encodeOutput = (job: Job.Any, output: unknown): Effect.Effect<Encoding.Encoded, OutputInvalid | OutputNotJournalable> =>
  Encoding.encode(job.output, output).pipe(
    Effect.mapError((error) =>
      error instanceof Encoding.NotJournalable
        ? new OutputNotJournalable({ jobId: job.id, reason: error.reason })
        : new OutputInvalid({ jobId: job.id, issue: Encoding.schemaMessage(error) })
    )
  )

/** A failure as people should read it: typed errors by their message, defects with their stack. */
export const renderCause = (cause: Cause.Cause<unknown>): string => {
  if (!Cause.hasDies(cause)) {
    const error = Cause.findErrorOption(cause)
    if (Option.isSome(error)) return renderError(error.value)
  }
  return Cause.pretty(cause)
}

const renderError = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : undefined
    const message = "message" in error && typeof error.message === "string" ? error.message : undefined
    if (message !== undefined && message !== "") return tag === undefined ? message : `${tag}: ${message}`
    if (tag !== undefined) return `${tag} ${render.value(error)}`
  }
  return typeof error === "string" ? error : render.value(error)
}

// Never throws: a failure holding a BigInt or a cycle is still reported as itself.
