/**
 * One run of a plan as the CLI and the scheduler start it: pick or create the run in the journal (new, resume, or a
 * run key) holding its lock, restore what already succeeded, execute the rest, and say how it ended.
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Duration from "effect/Duration"
import * as Context from "effect/Context"
import type * as Audit from "./Audit.ts"
import type * as Dag from "../Dag.ts"
import * as Partition from "../Partition.ts"
import type * as Plan from "./Plan.ts"
import { LayerFailed } from "../Errors.ts"
import type { PreflightFailed } from "./SetupErrors.ts"
import * as CachePolicy from "./cache/Policy.ts"
import * as Executor from "./Executor.ts"
import type * as reuse from "./executor/reuse.ts"
import * as layers from "./layers.ts"
import * as render from "./render.ts"
import * as Processes from "./processes.ts"
import * as Shell from "./shell.ts"
import type * as Job from "../Job.ts"
import * as Journal from "./Journal.ts"
import * as Observer from "./Observer.ts"
import * as Preflight from "./Preflight.ts"
import type * as resources from "./resources.ts"
import { Reporter } from "./reporter/Reporter.ts"
import * as Resume from "./Resume.ts"
import type * as RunEvent from "./RunEvent.ts"
import * as Secrets from "./Secrets.ts"
import * as Startup from "./startup.ts"
import * as Trigger from "./Trigger.ts"

export interface Request {
  readonly plan: Plan.Plan
  readonly target: Journal.Target
  readonly concurrency: number
  readonly failureMode: RunEvent.FailureMode
  /** Who started the run: "cli", "schedule", ... (shown by `runner history`/`show`). */
  readonly trigger: string
  readonly runnerVersion: string
  /** Wait for another process's lock instead of failing with RunLocked. */
  readonly wait: boolean
  /** Who and what executes the run, recorded in the journal. */
  readonly audit?: Audit.Audit
  /** The resources' limiters, when the run shares them with other runs of the process (the scheduler's). */
  readonly registry?: resources.Registry
  /** Jobs with `cache` that must not reuse an earlier success: all (`--force`) or those named. Default: none. */
  readonly force?: "all" | ReadonlyArray<string>
  /**
   * The slot the run is for, read by jobs as `Partition.Partition`. Default: for a run key of a scheduled DAG that is
   * a slot of its schedule, that slot (so the scheduler, cron lines and `--key` give the same); otherwise none.
   */
  readonly partition?: Partition.Partition
  /**
   * Runs the jobs on cluster workers instead of here (see `Executor.Options.dispatch`). Processes an earlier
   * coordinator's jobs left are then the workers' to end (each job's lease), not this process's. Default: jobs run here.
   */
  readonly dispatch?: Executor.Dispatch
}

export type Outcome =
  | { readonly _tag: "Finished"; readonly result: Executor.Result }
  | { readonly _tag: "AlreadySucceeded"; readonly runId: string; readonly key: string }
  | { readonly _tag: "NothingToResume"; readonly runId: string | undefined }

/**
 * Runs the plan under the journal's lock for the run; the lock is released when this returns. Fails with `LockLost`
 * if another process takes the lock over meanwhile (the run is interrupted and writes nothing more). First the preflight:
 * the jobs' config is resolved with the current `ConfigProvider` and their inputs checked; any problem fails with
 * `PreflightFailed` before anything is journaled. Then the DAG's `layer` is built (a failure is `LayerFailed`, before
 * anything is journaled); it and the jobs' own layers are released when the run ends.
 */
export const execute = (
  request: Request
): Effect.Effect<
  Outcome,
  Journal.JournalError | Journal.RunLocked | Journal.LockLost | PreflightFailed | LayerFailed,
  Journal.Journal | Reporter | Job.Services
> =>
  Effect.gen(function*() {
    const resolved = yield* Preflight.require(request.plan, yield* ConfigProvider.ConfigProvider)
    const partition = partitionOf(request)
    const run = executeResolved(request, resolved).pipe(
      Effect.provideService(Secrets.CurrentMasker, (yield* Secrets.CurrentMasker).with(resolved.secrets))
    )
    // The jobs, their layers and the DAG's hooks all see the run's slot.
    return yield* (partition === undefined ? run : Partition.provide(run, partition))
  })

/** The run's slot: the one asked for, else the slot of its run key in the DAG's schedule (see `Request.partition`). */
export const partitionOf = (request: Pick<Request, "plan" | "target" | "partition">): Partition.Partition | undefined => {
  if (request.partition !== undefined) return request.partition
  const trigger = request.plan.dag.trigger
  return trigger === undefined || request.target._tag !== "Key" ? undefined : Trigger.partitionOf(trigger, request.target.key)
}

const executeResolved = (request: Request, resolved: Preflight.Resolved) =>
  Effect.scoped(Effect.gen(function*() {
    const { plan } = request
    const journal = yield* Journal.Journal
    // The user's layers live in this run's scope: built before the first job, released after the run ends. Not here
    // when the jobs are dispatched: they are built where the jobs run (cluster/JobRunner.ts).
    const builder = yield* layers.make(yield* Effect.scope)
    const dagLayer = request.dispatch === undefined ? plan.dag.layer : undefined
    const services = dagLayer === undefined ? Context.empty() : yield* builder.build(dagLayer).pipe(
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.failCause(cause as Cause.Cause<never>)
          : Effect.fail(new LayerFailed({ dag: plan.dag.name, reason: render.causeMessage(cause) })))
    )
    const hashes = Resume.definitionHashes(plan)
    const begun = yield* journal.begin({
      dag: plan.dag.name,
      target: request.target,
      // Read by the journal only when it creates the run: a resumed run does not hash every job before its first.
      get definitionHash() {
        return Resume.planHash(hashes)
      },
      trigger: request.trigger,
      runnerVersion: request.runnerVersion,
      wait: request.wait,
      // With the options it runs with: a follower in another process (cluster/Follow.ts) reports them as this run does.
      audit: request.audit === undefined
        ? undefined
        : { ...request.audit, concurrency: request.concurrency, failureMode: request.failureMode }
    })
    if (begun._tag !== "Run") return begun
    const decision = begun.resumed
      ? yield* Effect.flatMap(journal.succeeded(begun.runId), (rows) => Resume.decide(plan, hashes, rows))
      : { restored: new Map<string, Resume.Restored>(), notes: [] }
    for (const note of decision.notes) yield* Effect.logWarning(note)
    if (begun.resumed && request.dispatch === undefined) yield* endLeftovers(journal, begun.runId)
    const observers = yield* Observer.Observers
    const hooks = dagHooks(plan.dag)
    const context = { dag: plan.dag.name, key: begun.key, trigger: request.trigger, resumed: begun.resumed }
    let finished: RunEvent.RunFinished | undefined
    const reporter = yield* Reporter
    const listening = observers.filter((observer) => observer.onEvent !== undefined)
    // Without observers that listen, an event goes straight to the reporter: no fiber-level generator per event
    // (a resumed 10,000-job run reports 5,000 restored jobs before its first new one starts).
    const eventOf = (event: RunEvent.RunEvent) => {
      // The reporters act when the event's effect runs, not when it is made: without observers, an event other than
      // the run's end is the reporter's effect itself (one effect less per event: 5,000 restored jobs at a resume).
      if (listening.length === 0 && event._tag !== "RunFinished") return reporter.event(event)
      const reported = Effect.suspend(() => {
        if (event._tag === "RunFinished") finished = event
        return reporter.event(event)
      })
      return listening.length === 0
        ? reported
        : Effect.andThen(reported, Effect.forEach(listening, (observer) => observer.onEvent!(event), { discard: true }))
    }
    const { events } = reporter
    const observed = Reporter.of({
      log: reporter.log,
      event: eventOf,
      // Several events at once (a resume's restored jobs) go to the reporter in one effect when no observer listens.
      ...(events === undefined || listening.length > 0 ? {} : {
        events: (batch: ReadonlyArray<RunEvent.RunEvent>) =>
          batch.some((e) => e._tag === "RunFinished") ? Effect.forEach(batch, eventOf, { discard: true }) : events(batch)
      })
    })
    const afterRun = (bound: Duration.Duration | undefined) =>
      Effect.suspend(() => {
        if (finished === undefined) return Effect.void
        const summary = Observer.summarize(finished, { ...context, finishedAt: finished.at })
        const all = [...hooks, ...observers].flatMap((o) =>
          o.onFinish === undefined ? [] : [notifyOne(o.name, () => o.onFinish!(summary), bound)]
        )
        // Annotated with the run id, so what observers log (a notification that failed) is journaled with the run.
        return Effect.all(all, { concurrency: "unbounded", discard: true }).pipe(Effect.annotateLogs({ runId: begun.runId }))
      })
    const cache = yield* cacheOptions(request, resolved, journal)
    yield* Startup.marked("run begun in the journal; its first jobs start")
    const result = yield* Executor.run(plan, {
      runId: begun.runId,
      concurrency: request.concurrency,
      failureMode: request.failureMode,
      restored: decision.restored,
      definitionHashes: hashes,
      resumed: begun.resumed,
      config: resolved.config,
      spanAttributes: { "runner.run.trigger": request.trigger, ...(begun.key === undefined ? {} : { "runner.run.key": begun.key }) },
      ...(request.registry === undefined ? {} : { registry: request.registry }),
      ...(cache === undefined ? {} : { cache }),
      ...(request.dispatch === undefined ? {} : { dispatch: request.dispatch })
    }).pipe(
      Effect.provideContext(services),
      Effect.provideService(layers.CurrentBuilder, builder),
      Effect.provideService(Reporter, observed),
      // Interrupted (SIGINT/SIGTERM): observers still hear how the run ended, but shutdown waits for them briefly.
      Effect.onInterrupt(() => afterRun(Duration.seconds(5))),
      // Another process took the run's lock over (this one was stopped too long): stop at once, fail with LockLost.
      Effect.raceFirst(journal.lockLost(begun.runId))
    )
    yield* afterRun(undefined)
    return { _tag: "Finished", result } as const
  }))

/** What the executor needs for up-to-date skipping, when a job of the plan has `cache` (see `cacheContext`). */
const cacheOptions = (request: Request, resolved: Preflight.Resolved, journal: Journal.Journal["Service"]) =>
  Effect.gen(function*() {
    const { plan } = request
    if (!plan.jobs.some((p) => CachePolicy.effective(p.job.cache, plan.dag.cache) !== undefined)) return undefined
    return yield* cacheContext({
      force: request.force,
      cacheEnv: resolved.cacheEnv,
      partition: partitionOf(request)?.key,
      runnerVersion: request.runnerVersion,
      dagDefinedVia: plan.dag.definedVia
    }, journal)
  })

/**
 * Where the keys of jobs with `cache` are made (this process's folder, journal and file-hash memo), and which jobs
 * reuse nothing: `RUNNER_CACHE=off` (this invocation), `--force` (all) or `--force=<job>,...`. Cluster workers make
 * it for the jobs they run (cluster/JobRunner.ts).
 */
export const cacheContext = (
  options: {
    readonly force: "all" | ReadonlyArray<string> | undefined
    readonly cacheEnv: Preflight.Resolved["cacheEnv"]
    readonly partition: string | undefined
    readonly runnerVersion: string
    readonly dagDefinedVia: ReadonlyArray<string>
  },
  journal: Journal.Journal["Service"]
): Effect.Effect<reuse.Cache, Journal.JournalError> =>
  Effect.gen(function*() {
    const off = (yield* Effect.orDie(Config.String("RUNNER_CACHE").pipe(Config.withDefault("")))).trim().toLowerCase() === "off"
    // Loaded only when a job has `cache`: a run without one does not pay for the cache's modules.
    const [Key, Reuse] = yield* Effect.promise(() => Promise.all([import("./cache/Key.ts"), import("./cache/Reuse.ts")]))
    const context = Key.context({
      runnerVersion: options.runnerVersion,
      memo: yield* journal.fileMemo,
      env: options.cacheEnv,
      cwd: process.cwd(),
      partition: options.partition,
      dagDefinedVia: options.dagDefinedVia
    })
    return { context, forced: Reuse.forcing(off, options.force) }
  })

/**
 * Before a resumed run starts its jobs again: the process groups that an earlier runner process of the run (killed,
 * or whose lock was taken over) journaled and did not see end. One still alive on this host is ended (SIGTERM to the
 * group, 3 s, SIGKILL), so that its job does not run twice side by side; one on another host is only reported.
 * Each is logged with its job, pid and what was done.
 */
const endLeftovers = (journal: Journal.Journal["Service"], runId: string) =>
  Effect.gen(function*() {
    const settings = yield* Shell.CurrentSettings
    for (const group of yield* journal.processes(runId)) {
      const what = `process ${group.pid} (group ${group.pgid}) of job "${group.jobId}", started by an earlier runner process,`
      const forget = journal.processEnded(runId, group.pid)
      const log = (effect: Effect.Effect<void>) => Effect.annotateLogs(effect, { jobId: group.jobId })
      switch (Processes.statusOf(group)) {
        case "gone":
          yield* forget
          break
        case "reused":
          yield* log(Effect.logInfo(`${what} has exited; its pid belongs to another process now, which is left alone`))
          yield* forget
          break
        case "elsewhere":
          yield* log(Effect.logWarning(`${what} may still be running on ${group.host}: it is not ended from this host`))
          break
        case "unverified":
          yield* log(Effect.logWarning(
            `${what} may still be running: its start time was not recorded on this system, so it is not ended (its pid ` +
              `may belong to another process now)`
          ))
          break
        case "alive": {
          const outcome = yield* Processes.end(group, settings)
          if (outcome === "still alive after SIGKILL") {
            yield* log(Effect.logError(`${what} was still running and is still there after SIGTERM and SIGKILL; the job runs again beside it`))
          } else {
            yield* log(Effect.logWarning(`${what} was still running: ${outcome} before the job runs again`))
            yield* forget
          }
        }
      }
    }
  }).pipe(Effect.annotateLogs({ runId }))

/** A DAG's own `onSuccess` / `onFailure`, as one more end-of-run observer (they may use the jobs' services). */
const dagHooks = (dag: Dag.Dag) => [{
  name: `dag "${dag.name}" onSuccess/onFailure`,
  onFinish: (summary: Observer.Summary): Effect.Effect<void, unknown, Job.Services> => {
    const hook = summary.status === "succeeded" ? dag.onSuccess : dag.onFailure
    return hook === undefined ? Effect.void : hook(summary)
  }
}]

/** Runs one observer's end-of-run work: a failure (or a defect) is logged as a warning and dropped. */
const notifyOne = (
  name: string,
  work: () => Effect.Effect<void, unknown, Job.Services>,
  bound: Duration.Duration | undefined
): Effect.Effect<void, never, Job.Services> => {
  const effect = Effect.suspend(() => {
    const effect = work()
    return Effect.isEffect(effect) ? effect : Effect.die(new TypeError(`${name} must return an Effect, got ${typeof effect}`))
  })
  const bounded = bound === undefined ? effect : Effect.timeoutOrElse(effect, {
    duration: bound,
    orElse: () => Effect.logWarning(`${name}: gave up after ${Duration.format(bound)} (the run was interrupted)`)
  })
  return bounded.pipe(
    // A Cause given to logWarning as an argument is not printed by the run's logger: its message goes in the text.
    Effect.catchCause((cause) => Effect.logWarning(`${name} failed (the run's outcome is unchanged): ${render.causeMessage(cause)}`)),
    Effect.asVoid
  )
}

