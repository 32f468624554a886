/**
 * Runs a plan: starts jobs whose needs have succeeded (their success committed to the Journal), at most `concurrency`
 * at a time, with per-job retries, timeouts and resource permits; applies the failure mode; and reports every state
 * change, and every wait for a resource, to the Journal and the Reporter. Each run, job and attempt is a span of the
 * fibers' Tracer. While a run is going it tells internal/stall.ts what each job waits for, which the process prints if
 * it stalls. Interrupting the run interrupts every running job (their child processes are killed) and still records
 * how the run ended.
 *
 * The parts live in executor/: the run's state (state.ts), its ready frontier (frontier.ts), one job's attempts
 * (attempt.ts, jobServices.ts), the recorder of events with their masking (recorder.ts), the spans (spans.ts) and how
 * a job ends, committed or not (commit.ts). This module is the loop that ties them.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import type { SchedulerDispatcher } from "effect/Scheduler"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type * as Dag from "../Dag.ts"
import type * as Plan from "./Plan.ts"
import type * as Job from "../Job.ts"
import * as resources from "./resources.ts"
import { interrupted as interruptedJob, runJob, runProvided } from "./executor/attempt.ts"
import * as commits from "./executor/commit.ts"
import { Frontier } from "./executor/frontier.ts"
import * as jobServices from "./executor/jobServices.ts"
import * as Recorder from "./executor/recorder.ts"
import type * as reuse from "./executor/reuse.ts"

/** executor/reuse.ts, imported when a run has jobs with `cache`. */
type ReuseModule = typeof reuse
import * as spans from "./executor/spans.ts"
import { type Finished, type JobState, RunState } from "./executor/state.ts"
import { RemoteJobFailed } from "../Errors.ts"
import * as CachePolicy from "./cache/Policy.ts"
import * as Encoding from "./Encoding.ts"
import { Journal, type LazyHash } from "./Journal.ts"
import type { Reporter } from "./reporter/Reporter.ts"
import * as Resume from "./Resume.ts"
import * as RunEvent from "./RunEvent.ts"
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
  readonly definitionHashes?: Resume.DefinitionHashes
  /** True when this continues an earlier, unfinished run. */
  readonly resumed?: boolean
  /** Each job's resolved config (see `Preflight`), passed to its `run` as `config`. */
  readonly config?: ReadonlyMap<string, Readonly<Record<string, unknown>>>
  /** The resources' limiters. Default: a fresh registry for this run; the scheduler passes one for all its runs. */
  readonly registry?: resources.Registry
  /** More attributes of the run's span (the caller knows the trigger and the run key). Default: none. */
  readonly spanAttributes?: Readonly<Record<string, unknown>>
  /**
   * Up-to-date skipping for the jobs with `cache`: the context their keys are made in, and which jobs reuse nothing
   * (`--force`: all of them, or those named; `RUNNER_CACHE=off`: all), with the words that say why. Default: jobs with
   * `cache` run as if they had none (nothing reused, nothing kept).
   */
  readonly cache?: reuse.Cache
  /**
   * Runs each job elsewhere (a cluster worker) instead of in this process: the job's attempts, events, logs and the
   * commit of its success happen there, so the loop only takes the outcome (a success is not journaled again). A
   * failure comes back as text (`RemoteJobFailed`); interrupting the effect must stop the job where it runs.
   * Default: jobs run here.
   */
  readonly dispatch?: Dispatch
}

/** How a dispatched job ended where it ran. */
export type Dispatched =
  /** Its success, committed to the journal by whoever ran it, with its output as journaled. */
  | {
    readonly _tag: "Succeeded"
    readonly json: string | undefined
    readonly attempt: number
    readonly at: number
    /** Set when its success is this earlier run's, reused (up-to-date skipping where it ran). */
    readonly cachedFrom?: string | undefined
  }
  | { readonly _tag: "Failed"; readonly error: string; readonly attempt: number }
  | { readonly _tag: "Interrupted"; readonly reason: string }

/** Runs one job of the plan elsewhere and says how it ended (see `Options.dispatch`). */
export type Dispatch = (job: { readonly runId: string; readonly jobId: string; readonly index: number }) => Effect.Effect<Dispatched>

export interface Result {
  readonly runId: string
  readonly status: RunEvent.RunStatus
  readonly jobs: ReadonlyArray<RunEvent.JobSummary>
  readonly durationMillis: number
  /** The failed and interrupted jobs, each with its typed Cause (in-process only: never journaled or sent). */
  readonly failed: ReadonlyArray<RunEvent.JobFailure>
}

/**
 * Where the jobs' fibers leave their completions for the loop, in order, as plain calls: a `Queue` cost an effect per
 * offer and per take, on every job's path (two completions a job). A completion is a job and whether its work ended
 * (`finished`) or its success became durable (`committed`), kept in two arrays rather than as a record (two records a
 * job, garbage at once). The loop, when it waits on none, is woken through its fiber's dispatcher, as a `Queue` wakes
 * a taker (never inside the fiber that completes).
 */
class Completions {
  private readonly items: Array<JobState | undefined> = []
  private readonly commits: Array<boolean> = []
  private head = 0
  /** Whether the completion `poll` or `take` returned last is a commit (else the end of the job's work). */
  committed = false
  private waiting: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  private readonly dispatcher: SchedulerDispatcher
  constructor(dispatcher: SchedulerDispatcher) {
    this.dispatcher = dispatcher
  }

  finished(job: JobState): void {
    this.push(job, false)
  }

  /** The job's commit ended (`job.commitExit` says how). */
  committedOf(job: JobState): void {
    this.push(job, true)
  }

  private push(job: JobState, committed: boolean): void {
    this.items.push(job)
    this.commits.push(committed)
    const waiting = this.waiting
    if (waiting === undefined) return
    this.waiting = undefined
    this.dispatcher.scheduleTask(() => waiting(Effect.void), 0)
  }

  /** The oldest completion's job, if there is one now (no effect: the loop asks this first, and most times there is). */
  poll(): JobState | undefined {
    return this.head < this.items.length ? this.next() : undefined
  }

  /** The oldest completion's job, once there is one. */
  readonly take: Effect.Effect<JobState> = Effect.suspend(() =>
    this.head < this.items.length ? Effect.succeed(this.next()) : Effect.map(this.wait, () => this.next())
  )

  private readonly wait: Effect.Effect<void> = Effect.callback<void>((resume) => {
    this.waiting = resume
    return Effect.sync(() => {
      this.waiting = undefined
    })
  })

  private next(): JobState {
    const job = this.items[this.head]!
    this.committed = this.commits[this.head]!
    this.items[this.head++] = undefined
    if (this.head === this.items.length) {
      this.items.length = 0
      this.commits.length = 0
      this.head = 0
    }
    return job
  }
}

/** Runs the plan to the end and returns its summary. Interruption records the run as interrupted. */
export const run = (plan: Plan.Plan, options: Options): Effect.Effect<Result, never, Journal | Reporter | Job.Services> =>
  Effect.gen(function*() {
    const recorder = yield* Recorder.make
    const started = yield* Clock.currentTimeMillis
    const { concurrency, failureMode, runId } = options
    let needs: ReadonlyArray<ReadonlyArray<string>> | undefined
    const event: RunEvent.RunStarted = {
      _tag: "RunStarted",
      runId,
      resumed: options.resumed ?? false,
      dag: plan.dag.name,
      at: started,
      jobIds: plan.jobs.map((p) => p.job.id),
      // Made when first read: the SQL journal reads the needs of the jobs it has no row of, none in a resumed run as a
      // rule (10,000 jobs' needs took ~5 ms before a resume's first new job, for nothing).
      get needs() {
        return needs ??= plan.jobs.map((p) => needIds(plan, p))
      },
      concurrency,
      failureMode
    }
    return yield* spans.run(event, options.spanAttributes ?? {}, (span) =>
      Effect.gen(function*() {
        yield* recorder.emit(event)
        // The cache's code is loaded only for a run that reuses successes (bench/README.md, issue 18: cold start).
        const reuse = options.cache === undefined ? undefined : yield* Effect.promise(() => import("./executor/reuse.ts"))
        const run = makeRun(plan, options, recorder, span, started, yield* Clock.Clock, yield* Journal, reuse)
        yield* restore(run)
        return yield* Effect.scoped(loop(run)).pipe(
          Effect.provideService(resources.CurrentRegistry, options.registry ?? new resources.Registry()),
          Effect.onInterrupt(() => interrupted(run))
        )
      }))
  })

/**
 * The ids of the jobs `planned` needs, each once (two names may need the same job), in order. Made for every job of
 * the run at its start: a Set, its iterator and an array a job cost ~0.6 KB of garbage (10,000 jobs: 6 MB).
 */
const needIds = (plan: Plan.Plan, planned: Plan.PlannedJob): ReadonlyArray<string> => {
  const { deps } = planned
  // Past a few dozen needs a Set is cheaper than `includes` (quadratic in a job's own needs).
  if (deps.length > 32) return [...new Set(deps.map((dep) => plan.jobs[dep.index]!.job.id))]
  // Made by `map` (an array of its exact length: one grown by `push` holds room for 16 more) when no id repeats.
  const ids = deps.map((dep) => plan.jobs[dep.index]!.job.id)
  for (let i = 1; i < ids.length; i++) {
    if (ids.lastIndexOf(ids[i]!, i - 1) >= 0) return ids.filter((id, j) => ids.indexOf(id) === j)
  }
  return ids
}

const noConfig = { config: {} }

/**
 * A job's definition hash, made when the journal first needs it (a memory journal keeps the function until a resume
 * reads it: see `Journal.recordInMemory`). Made here, apart, so that it holds the hashes and nothing of the run.
 */
const lazyHash = (hashes: Resume.DefinitionHashes, index: number): LazyHash => () => hashes.of(index)

/** One run as the loop sees it: its options, state, frontier, recorder and span. */
interface Run {
  readonly plan: Plan.Plan
  readonly options: Options
  readonly recorder: Recorder.Recorder
  readonly span: Tracer.Span | undefined
  readonly started: number
  /** The run's Clock, read without an effect on every job's path. */
  readonly clock: Clock.Clock
  readonly state: RunState
  readonly frontier: Frontier
  readonly restored: ReadonlyMap<string, Resume.Restored>
  readonly hashes: Resume.DefinitionHashes
  /**
   * The hash of a job's inputs, from its needs' journaled outputs (final once it starts): made when the job first
   * reads or saves a checkpoint (most jobs never do), once at most (its services keep it: see `jobServices`).
   */
  readonly inputHash: (job: JobState) => string
  /** Each job's cache policy, by plan index (undefined: it always runs). */
  readonly policies: ReadonlyArray<CachePolicy.Policy | undefined>
  /** Up-to-date skipping (executor/reuse.ts), loaded when `options.cache` is set (else no job has a policy). */
  readonly reuse: ReuseModule | undefined
  readonly journal: Journal["Service"]
  /** The `cache.files` globs already warned about as matching nothing, as `job\0glob`. */
  readonly warned: Set<string>
}

const makeRun = (
  plan: Plan.Plan,
  options: Options,
  recorder: Recorder.Recorder,
  span: Tracer.Span | undefined,
  started: number,
  clock: Clock.Clock,
  journal: Journal["Service"],
  reuse: ReuseModule | undefined
): Run => {
  const state = new RunState(plan, options.runId)
  const restored = options.restored ?? new Map<string, Resume.Restored>()
  const frontier = new Frontier(plan, state.jobs, restored.size === 0 ? undefined : (id) => restored.has(id))
  const hashes = options.definitionHashes ?? Resume.definitionHashes(plan)
  const policies = plan.jobs.map((p) => options.cache === undefined ? undefined : CachePolicy.effective(p.job.cache, plan.dag.cache))
  const jobs = state.jobs
  const inputHash = (job: JobState) => Resume.inputHash(job.planned.deps.map((dep) => [dep.name, jobs[dep.index]!.journaled] as const))
  return { plan, options, recorder, span, started, clock, state, frontier, restored, hashes, inputHash, policies, reuse, journal, warned: new Set() }
}

/** The jobs that succeeded in an earlier attempt of this run pass their journaled outputs on. */
const restore = (run: Run): Effect.Effect<void> =>
  Effect.gen(function*() {
    // A restored job's span is opened and ended at once, and only when spans are exported: otherwise (the common
    // case) nothing of spans.ts runs per restored job (5,000 in a 10,000-job resume: 7–10 ms).
    const exporting = spans.exporting(yield* Effect.tracer)
    const events: Array<RunEvent.JobRestored> = []
    for (const job of run.state.jobs) {
      const restored = run.restored.get(job.id)
      if (restored === undefined) continue
      job.phase = "restored"
      job.output = restored.output
      job.journaled = restored.json
      events.push({ _tag: "JobRestored", runId: run.state.runId, jobId: job.id, at: run.started })
    }
    // In one effect: each restored job's through the reporter cost ~10 ms before a 10,000-job resume's first new job.
    yield* run.recorder.emitAll(events)
    if (exporting) {
      for (const job of run.state.jobs) if (job.phase === "restored") yield* spans.endJob(job, run.clock, undefined)
    }
  })

/**
 * The loop runs on a flattened copy of its fiber's context (its services in one map, no overlays), made once per run.
 * A job adds its services on top (jobServices.ts) as overlays, and a context keeps at most 8 of them before copying
 * itself whole: on the run's context as it comes (the caller's layers, the scope, the registry) every job's context
 * was copied (~10 services).
 */
const flattened = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.updateContext(effect, (context: Context.Context<R>) => Context.makeUnsafe<R>(new Map(context.mapUnsafe)))

/**
 * Plain jobs the loop starts before it yields. A no-op job runs and completes without an effect of the loop's, so
 * without this the loop would hold the thread for the whole run (a signal, a lock's heartbeat, a UI could not run
 * meanwhile); its effects per job used to let Effect's scheduler yield it every ~2,000 no-op jobs (5 times in a
 * 10,000-job run, measured), ~18 ms then. 1,024 is ~6 ms now; yielding every 256 cost ~0.3 µs a job (bench/exec-ab.ts).
 */
const pauseEvery = 1024

/**
 * Jobs whose work has ended and whose success is not yet durable, at most: past this the loop waits for commits
 * before it starts more. Jobs that end faster than the journal commits (in-process no-ops on SQLite) would otherwise
 * run ahead of it by a thousand, whose work a crash then loses; at this bound the journal still commits them in
 * groups (a commit takes ~0.2-0.3 ms here, in which ~30 such jobs end).
 */
const maxUncommitted = 64

const loop = (run: Run): Effect.Effect<Result, never, Job.Services | Scope.Scope> =>
  flattened(Effect.gen(function*() {
    const { recorder, state } = run
    yield* Effect.acquireRelease(Effect.sync(() => stall.register(() => state.describeStall())), (unregister) => Effect.sync(unregister))
    const completions = new Completions(yield* Effect.withFiber((fiber) => Effect.succeed(fiber.currentDispatcher)))
    const fibers = yield* FiberSet.make()
    const context = yield* Effect.context<Job.Services | Scope.Scope>()
    const plain = run.options.dispatch === undefined && !spans.exporting(Context.get(context, Tracer.Tracer))
    let running = 0
    let pendingCommits = 0
    /** Plain jobs started since the loop last yielded (see `pauseEvery`). */
    let started = 0
    while (true) {
      while (
        state.stopReason === undefined && running < run.options.concurrency && pendingCommits < maxUncommitted &&
        !run.frontier.isEmpty
      ) {
        if (started === pauseEvery) {
          started = 0
          yield* Effect.yieldNow
          continue
        }
        const job = run.frontier.take()!
        running++
        // A plain job's fiber is started here, without an effect of the loop's (see `startPlain`).
        if (plain && run.policies[job.planned.index] === undefined) {
          started++
          startPlain(run, job, completions, fibers, context)
        } else yield* FiberSet.run(fibers, start(run, job, completions))
      }
      if (running === 0 && pendingCommits === 0) break
      const job = completions.poll() ?? (yield* completions.take)
      if (!completions.committed) {
        running--
        job.endedAt = run.clock.currentTimeMillisUnsafe()
        // Its fiber commits its success (see `start`), and says so with its `Committed`, which follows (the commit
        // may have ended already: the job is concluded once, on its `Committed`).
        if (job.phase === "committing") {
          pendingCommits++
          continue
        }
      } else pendingCommits--
      const verdict = commits.verdict(job)
      if (verdict._tag === "Succeeded") {
        // The ending of its span; none (`Effect.void`, not yielded) when it has none.
        const ending = commits.conclude(recorder, run.clock, job, verdict)
        if (ending !== Effect.void) yield* ending
        run.frontier.succeeded(job)
      } else yield* failed(run, job, verdict, fibers)
    }
    for (const job of state.jobs) {
      if (job.phase === "waiting") yield* commits.skip(recorder, run.clock, state.runId, job, state.stopReason ?? "not started")
    }
    return yield* finish(run, state.criticalFailed() ? "failed" : "succeeded")
  }))

/**
 * A job's inputs: the outputs of its needs, and its config. Also sets it running.
 */
const inputsOf = (run: Run, job: JobState): Record<string, unknown> => {
  const { planned } = job
  // `config` comes from the prototype: `({ config })` gets it, while code that walks the needed outputs
  // (Object.keys/values) sees only them. (A defineProperty per job made each inputs object a slow one.) The outputs
  // go into a dictionary: every job has its own property names (its needs), and adding them one by one to an ordinary
  // object made a new hidden class per name (~2-4 µs a job with 2-3 needs, measured; V8 stops caching such
  // transitions past ~1,500 names). Two placeholders added and deleted, the first one first, make the object a
  // dictionary in V8 (deleting a property that is not the last one added does), with its prototype from the start:
  // made without prototype and given one after (`Object.setPrototypeOf` on a dictionary) cost 0.6 µs an object on
  // Node 24 and 0.5 on Deno, this 0.25 on both (Bun: 0.25 and 0.23).
  const config = run.options.config?.get(job.id)
  const jobs = run.state.jobs
  const inputs: Record<string, unknown> = Object.create(config === undefined ? noConfig : { config })
  if (planned.deps.length > 0) {
    inputs.__a = undefined
    inputs.__b = undefined
    delete inputs.__a
    delete inputs.__b
    for (const dep of planned.deps) inputs[dep.name] = jobs[dep.index]!.output
  }
  job.phase = "running"
  job.startedAt = run.clock.currentTimeMillisUnsafe()
  return inputs
}

/** The job's fiber, ready to fork: it records how it ended on the job, then tells the loop. */
const start = (run: Run, job: JobState, completions: Completions): Effect.Effect<unknown, unknown, Job.Services> => {
  const inputs = inputsOf(run, job)
  const policy = run.policies[job.planned.index]
  const work = run.options.dispatch !== undefined
    ? dispatched(run, job, run.options.dispatch)
    : policy === undefined
    ? runJob(run.recorder, run.state.runId, job, inputs, run.inputHash)
    : reuseOrRun(run, job, policy, inputs)
  // Everything after its work is uninterruptible (see `settle`).
  return Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.exit(restore(work)), (exit) => settle(run, job, completions, exit))
  )
}

/**
 * Starts the fiber of a job that runs here, without cache and without spans (nothing exports them): the common case.
 * The fiber starts with the job's services in its context and uninterruptible, its work made interruptible, instead of
 * being forked by an effect of the loop's (`FiberSet.run`) and then changing its context (and putting it back) and its
 * interruptibility (`uninterruptibleMask`) as it starts: the same fiber, with four effects and two exit hooks fewer a
 * job. Like `FiberSet.run`, it runs at once (a no-op job ends before this returns) and is added to the set after.
 */
const startPlain = (
  run: Run,
  job: JobState,
  completions: Completions,
  fibers: FiberSet.FiberSet<unknown, unknown>,
  context: Context.Context<Job.Services | Scope.Scope>
): void => {
  if (fibers.state._tag === "Closed") return
  const inputs = inputsOf(run, job)
  const { recorder, state: { runId } } = run
  const services = jobServices.withServices(context, recorder, runId, job, run.inputHash, undefined)
  const work = Effect.flatMap(Effect.exit(Effect.interruptible(runProvided(recorder, runId, job, inputs, run.clock))), (exit) =>
    // As `runJob` journals an interruption, before the loop hears of it.
    Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause)
      ? Effect.andThen(interruptedJob(recorder, runId, job), settle(run, job, completions, exit))
      : settle(run, job, completions, exit))
  FiberSet.addUnsafe(fibers, Effect.runForkWith(services)(work, uninterruptible))
}

const uninterruptible: Effect.RunOptions = { uninterruptible: true }

/**
 * What a job's fiber does once its work ended: records its exit on the job, tells the loop (`Finished`, which frees
 * its concurrency slot), and (its success not committed yet) commits its success, then tells the loop again
 * (`Committed`, which ends it). The commit runs in the job's fiber: a fiber per job, not two (a fork, a FiberSet entry
 * and exit hooks saved on every job). Runs uninterruptibly: `kill` interrupts jobs, never a success being recorded,
 * and an interrupted run waits for a success being committed and reports it as a success.
 */
const settle = (run: Run, job: JobState, completions: Completions, exit: Exit.Exit<Finished, unknown>): Effect.Effect<void> => {
  job.fiberExit = exit
  // A dispatched job's success arrives committed (its commit exit is set).
  if (Exit.isFailure(exit) || job.commitExit !== undefined) {
    completions.finished(job)
    return Effect.void
  }
  job.phase = "committing"
  job.output = exit.value.output
  job.journaled = exit.value.encoded.json
  completions.finished(job)
  const commit = commits.commitNow(run.recorder, run.state.runId, job, lazyHash(run.hashes, job.planned.index), exit.value)
  // Already done (a memory journal, and a reporter with nothing to do): its exit is known, no exit hook to wait for it.
  if (Exit.isExit(commit)) {
    job.commitExit = commit as Exit.Exit<void>
    completions.committedOf(job)
    return commit
  }
  return Effect.onExit(commit, (commitExit) => {
    job.commitExit = commitExit
    completions.committedOf(job)
    return Effect.void
  })
}

/**
 * A job run elsewhere: its success arrives committed (its commit exit is set here, so the loop concludes it at once),
 * with its output decoded from the journaled text for the run's summary and observers.
 */
const dispatched = (run: Run, job: JobState, dispatch: Dispatch): Effect.Effect<Finished, unknown> =>
  Effect.flatMap(dispatch({ runId: run.state.runId, jobId: job.id, index: job.planned.index }), (outcome): Effect.Effect<Finished, unknown> => {
    switch (outcome._tag) {
      case "Interrupted":
        job.detail = outcome.reason
        return Effect.interrupt
      case "Failed":
        job.attempts = outcome.attempt
        return Effect.fail(new RemoteJobFailed({ jobId: job.id, error: outcome.error }))
      case "Succeeded":
        job.attempts = outcome.attempt
        job.cachedFrom = outcome.cachedFrom
        return Effect.map(
          Effect.orElseSucceed(Encoding.decode(job.planned.job.output, outcome.json), () => undefined),
          (output) => {
            job.output = output
            job.journaled = outcome.json
            job.commitExit = Exit.void
            return { output, encoded: { _tag: "Restorable", json: outcome.json }, attempt: outcome.attempt, at: outcome.at }
          }
        )
    }
  })

/** A job with `cache`: reused, or run and kept (executor/reuse.ts). */
const reuseOrRun = (
  run: Run,
  job: JobState,
  policy: CachePolicy.Policy,
  inputs: Record<string, unknown>
): Effect.Effect<Finished, unknown, Job.Services> => {
  const jobs = run.state.jobs
  return run.reuse!.reuseOrRun({
    journal: run.journal,
    cache: run.options.cache!,
    dag: run.plan.dag.name,
    job,
    policy,
    definitionHash: run.hashes.of(job.planned.index),
    needs: job.planned.deps.map((dep) => [dep.name, jobs[dep.index]!.journaled] as const),
    warned: run.warned
  }, runJob(run.recorder, run.state.runId, job, inputs, run.inputHash)).pipe(
    Effect.annotateLogs({ jobId: job.id, runId: run.state.runId })
  )
}

/** A failed or interrupted job: record why, skip what needs it, and apply the failure mode. */
const failed = (run: Run, job: JobState, verdict: commits.Verdict, fibers: FiberSet.FiberSet<unknown, unknown>): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { recorder, state } = run
    yield* commits.conclude(recorder, run.clock, job, verdict)
    const what = job.phase === "interrupted" ? "was interrupted" : "failed"
    for (const [dependent, reason] of run.frontier.dependentsOf(job, what)) {
      yield* commits.skip(recorder, run.clock, state.runId, dependent, reason)
    }
    if (!job.planned.job.critical || run.options.failureMode === "continue" || state.stopReason !== undefined) return
    state.stopReason = `not started: the run stopped after critical job "${job.id}" ${what}`
    // kill: stop the jobs still running now; their completions arrive as interruptions.
    if (run.options.failureMode === "kill") yield* Effect.forkChild(FiberSet.clear(fibers))
  })

/**
 * The run was interrupted: each job still running or committing ends as its exits say (the same verdict as the
 * loop's); a success not yet committed is committed now. Jobs not started stay skipped, without events.
 */
const interrupted = (run: Run): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { recorder, state } = run
    const now = yield* Clock.currentTimeMillis
    for (const job of state.jobs) {
      if (job.phase === "waiting") job.detail = "not started: the run was interrupted"
      if (job.phase !== "running" && job.phase !== "committing") continue
      if (job.endedAt === 0) job.endedAt = now
      let verdict = commits.verdict(job)
      if (verdict._tag === "Uncommitted") {
        // A success not committed: not expected here, since a job's fiber commits its own success uninterruptibly and
        // the jobs' fibers have ended when this runs (their FiberSet is closed with the loop's scope). Kept as the
        // guard it was when commits ran in fibers of their own: such a success is committed now, never lost.
        job.commitExit = yield* Effect.exit(commits.commit(recorder, state.runId, job, lazyHash(run.hashes, job.planned.index), verdict.finished))
        verdict = Exit.isSuccess(job.commitExit) ? commits.verdict(job) : { _tag: "Interrupted", cause: Cause.interrupt() }
      }
      yield* commits.conclude(recorder, run.clock, job, verdict)
    }
    yield* finish(run, "interrupted")
  })

const finish = (run: Run, status: RunEvent.RunStatus): Effect.Effect<Result> =>
  Effect.gen(function*() {
    const { recorder, state } = run
    const now = yield* Clock.currentTimeMillis
    const jobs = state.jobs.map((job) => job.summary())
    const durationMillis = now - run.started
    const causes = new Map<string, Cause.Cause<unknown>>()
    for (const job of state.jobs) if (job.cause !== undefined) causes.set(job.id, job.cause)
    const event: RunEvent.RunFinished = { _tag: "RunFinished", runId: state.runId, dag: state.dag, at: now, status, durationMillis, jobs, causes }
    yield* recorder.emit(event)
    yield* spans.endRun(run.span, Recorder.maskEvent(event, recorder.masker) as RunEvent.RunFinished)
    return { runId: state.runId, status, durationMillis, jobs, failed: RunEvent.failures(jobs, causes) }
  })
