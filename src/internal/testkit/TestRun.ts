/**
 * `TestRun.run` / `TestRun.resume`: a DAG run inside a test, the way the CLI runs it (`Run.execute`: config preflight,
 * layers, partition, journal begin/resume), with faults injected into named jobs, an in-memory (or temporary SQLite)
 * journal, and a `TestClock` advanced by itself whenever the run is idle, so retry delays, timeouts and sleeps take no
 * real time. A crash is modelled as a dead process: once it happens nothing more reaches the journal, the run is
 * interrupted, and its DAG's hooks do not run.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { clearImmediate, clearTimeout, setImmediate, setTimeout } from "node:timers"
import * as NodeServices from "@effect/platform-node/NodeServices"
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import type * as Dag from "../../Dag.ts"
import { InvalidOption, type LayerFailed } from "../../Errors.ts"
import type * as Job from "../../Job.ts"
import type * as PartitionApi from "../../Partition.ts"
import * as Journal from "../Journal.ts"
import * as Plan from "../Plan.ts"
import * as Spawner from "../process/Spawner.ts"
import * as Reporter from "../reporter/Reporter.ts"
import * as Resume from "../Resume.ts"
import * as Run from "../Run.ts"
import type * as RunEvent from "../RunEvent.ts"
import * as RunLogger from "../RunLogger.ts"
import type { PreflightFailed } from "../SetupErrors.ts"
import * as SqlJournal from "../sql/SqlJournal.ts"
import * as Trigger from "../Trigger.ts"
import { CurrentAttemptHook } from "./Hook.ts"
import * as Fault from "./Fault.ts"

// ---------------------------------------------------------------------------------------------------------------
// Types: a DAG's job ids and outputs, read from the phantom parameters of `Dag` and `Job` (see Dag.ts, Job.ts).
// ---------------------------------------------------------------------------------------------------------------

type IsAny<T> = 0 extends 1 & T ? true : false

/** The jobs of a DAG member (a job, or a DAG whose members count), with the jobs they need, transitively. */
type Members<M> = IsAny<M> extends true ? Job.Any
  : M extends Dag.Dag<infer Inner> ? (IsAny<Inner> extends true ? Job.Any : Inner extends ReadonlyArray<infer I> ? Members<I> : Job.Any)
  : M extends Job.Job<any, any, any, any, infer Needs> ? M | Members<Needs[keyof Needs]>
  : never

/** The jobs of a DAG (`Job.Any` when it is not typed: made dynamically, or typed `Dag.Dag`). */
export type JobsOf<D> = D extends Dag.Dag<infer Jobs> ? IsAny<Jobs> extends true ? Job.Any
  : Jobs extends ReadonlyArray<infer M> ? Members<M> : Job.Any
  : Job.Any

type IdOf<J> = J extends Job.Job<any, any, any, infer Id, any> ? Id : string
type OutputOf<J> = J extends Job.Job<infer A, any, any, any, any> ? A : unknown
type ErrorOf<J> = J extends Job.Job<any, infer E, any, any, any> ? E : unknown

/** A DAG's job ids: a union of literals when the DAG is typed, else `string`. */
export type JobIds<D> = IdOf<JobsOf<D>>

/** What happened to each job, by id, typed by the job. */
export type JobResults<D> = { readonly [J in JobsOf<D> as IdOf<J>]: JobResult<OutputOf<J>, ErrorOf<J> | Dag.RunnerFailure> }

/** How a job ended in a test run: the runner's statuses, `not started`, or `crashed` (running when the process died). */
export type JobStatus = RunEvent.JobStatus | "not started" | "crashed"

export interface JobResult<A = unknown, E = unknown> {
  readonly id: string
  readonly status: JobStatus
  /** Attempts started in this run (or resume); 0 for a job restored, cached, skipped or not started. */
  readonly attempts: number
  /**
   * Its output, when it succeeded (or was reused): as the job returned it; when it was restored on resume: as the
   * journal gave it back (decoded by its `output` schema).
   */
  readonly output: A | undefined
  /** Why it failed: its last attempt's Cause, typed. */
  readonly error: Cause.Cause<E> | undefined
  /** The errors of its failed attempts, in order, rendered as text. */
  readonly attemptErrors: ReadonlyArray<string>
  /** From its first attempt's start to its end, in test-clock milliseconds (0 when it did not run). */
  readonly durationMillis: number
}

export type RunStatus = RunEvent.RunStatus | "crashed"

export interface Result<D = Dag.Dag> {
  readonly runId: string
  readonly dag: string
  readonly status: RunStatus
  readonly jobs: JobResults<D>
  /** The events that reached the journal, in order (all of them, unless the run crashed). Secrets masked. */
  readonly events: ReadonlyArray<RunEvent.RunEvent>
  /** The log lines of the run's jobs and of the runner. */
  readonly logs: ReadonlyArray<Reporter.LogEntry>
  /** Test-clock times (epoch ms) when it started and ended, and the difference. */
  readonly startedAt: number
  readonly endedAt: number
  readonly durationMillis: number
  /** The journal and the run, for `TestRun.resume`. */
  readonly [ResumeState]: Handle
}

export const ResumeState: unique symbol = Symbol.for("effect-runner/test/ResumeState") as never

interface Handle {
  readonly dag: Dag.Dag
  readonly journal: JournalHandle
  readonly options: Options<string>
}

export interface Options<Ids extends string = string> {
  /** Faults by job id (`{ extract: Fault.failTimes(2) }`). An id that is not a job of the DAG is an error. */
  readonly faults?: { readonly [K in Ids]?: Fault.Fault }
  /** Run only these jobs and what they need (like `runner file.ts job...`). Default: all. */
  readonly jobs?: ReadonlyArray<Ids>
  /** At most this many jobs at once. Default: the DAG's `concurrency`, else 4. */
  readonly concurrency?: number
  /** What a failed critical job does to the rest (as `--failure-mode`). Default: "no-new". */
  readonly failureMode?: RunEvent.FailureMode
  /**
   * Services added to (or replacing) the runner's own (FileSystem, Path, ChildProcessSpawner, HttpClient) and the
   * DAG's layer's: e.g. a fake HttpClient. The DAG's `layer` is still built; this is provided around it.
   */
  readonly layer?: Layer.Layer<any, any, never>
  /**
   * The values the jobs' `config` reads, by variable name (`{ DB_URL: "...", DB_PASSWORD: Redacted.make("x") }`):
   * nothing else is read from the environment. Secrets (`Config.Redacted`) are masked in events and logs as in a real run.
   */
  readonly config?: Readonly<Record<string, string | Redacted.Redacted<string>>>
  /** The test clock's start (epoch ms or a Date). Default: the real time now (for `resume`: where the last run ended). */
  readonly now?: number | Date
  /** For a scheduled DAG: the slot to run, as its key (`"2026-01-02T02:00"`) or a Partition. Default: none. */
  readonly partition?: string | PartitionApi.Partition
  /** "memory" (default) or "sqlite": the runner's SQLite journal in a temporary file, reopened by `resume`. */
  readonly journal?: "memory" | "sqlite"
}

/** What can fail a test run before its jobs run: a bad DAG or option, a config problem, a layer that failed, the journal. */
export type SetupError = Plan.PlanError | PreflightFailed | LayerFailed | Journal.JournalError | Journal.RunLocked | Journal.LockLost

// ---------------------------------------------------------------------------------------------------------------
// Journals
// ---------------------------------------------------------------------------------------------------------------

type JournalHandle =
  | { readonly _tag: "Memory"; readonly context: Context.Context<Journal.Journal> }
  | { readonly _tag: "Sqlite"; readonly file: string }

const tempDirs: Array<string> = []
let cleanupRegistered = false

/** A fresh temporary SQLite journal file; its folder is removed when the process exits. */
const tempJournal = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-runner-test-"))
  tempDirs.push(dir)
  if (!cleanupRegistered) {
    cleanupRegistered = true
    process.once("exit", () => {
      for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true })
    })
  }
  return path.join(dir, "journal.db")
}

/** The journal of a handle, open for the life of `scope`. */
const openJournal = (handle: JournalHandle, scope: Scope.Scope) =>
  handle._tag === "Memory"
    ? Effect.succeed(Context.get(handle.context, Journal.Journal))
    : Layer.buildWithScope(SqlJournal.layerSqlite({ filename: handle.file, durability: "normal" }), scope).pipe(
      Effect.map((context) => Context.get(context, Journal.Journal))
    )

interface Crash {
  crashed: boolean
  readonly latch: Latch.Latch
}

/**
 * The journal as a process that may die sees it: every write goes through until the crash, none after (the crash
 * after a checkpoint happens once that checkpoint is saved). The events written are collected in order.
 */
const crashable = (
  inner: Journal.Journal["Service"],
  crash: Crash,
  crashNow: () => void,
  crashSteps: ReadonlyMap<string, ReadonlyArray<string>>,
  events: Array<RunEvent.RunEvent>,
  live: Set<number>
): Journal.Journal["Service"] => {
  const unlessCrashed = <A extends ReadonlyArray<unknown>, E>(write: (...args: A) => Effect.Effect<void, E>) =>
  (...args: A): Effect.Effect<void, E> => Effect.suspend(() => crash.crashed ? Effect.void : write(...args))
  return Journal.Journal.of({
    ...inner,
    record: unlessCrashed((event: RunEvent.RunEvent, definitionHash?: string) => {
      events.push(event)
      return inner.record(event, definitionHash)
    }),
    log: (record) => {
      if (!crash.crashed) inner.log(record)
    },
    saveSlot: unlessCrashed(inner.saveSlot),
    saveCheckpoint: unlessCrashed((runId: string, jobId: string, step: string, checkpoint: Journal.Checkpoint) =>
      Effect.tap(inner.saveCheckpoint(runId, jobId, step, checkpoint), () => {
        if (!crashSteps.get(jobId)?.includes(step)) return Effect.void
        // The process dies here: the job goes no further (the run is interrupted as soon as the crash is seen).
        crashNow()
        return Effect.interruptible(Effect.never)
      })
    ),
    processStarted: (record) =>
      Effect.suspend(() => {
        live.add(record.pid)
        return crash.crashed ? Effect.void : inner.processStarted(record)
      }),
    processEnded: (runId, pid) =>
      Effect.suspend(() => {
        live.delete(pid)
        return crash.crashed ? Effect.void : inner.processEnded(runId, pid)
      })
  })
}

// ---------------------------------------------------------------------------------------------------------------
// The clock
// ---------------------------------------------------------------------------------------------------------------

/** The pending sleeps of Effect's TestClock (its implementation keeps them sorted, latest first). */
const nextSleep = (clock: unknown): number | undefined => {
  const sleeps = (clock as { readonly sleeps?: ReadonlyArray<{ readonly timestamp: number }> }).sleeps
  return sleeps === undefined || sleeps.length === 0 ? undefined : sleeps[sleeps.length - 1]!.timestamp
}

const sleepCount = (clock: unknown): number => (clock as { readonly sleeps?: ReadonlyArray<unknown> }).sleeps?.length ?? 0

/** Waits one turn of the real event loop (timers and I/O callbacks get to run). */
const turn = Effect.callback<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/** Waits a real millisecond: the run waits on something outside Effect (a process, a file, a socket). */
const realPause = Effect.callback<void>((resume) => {
  const handle = setTimeout(() => resume(Effect.void), 1)
  return Effect.sync(() => clearTimeout(handle))
})

/** Node's names of pending requests: a file system operation, a DNS lookup, a connection being made, a write. */
const pendingRequest = /FSReq|ReqWrap|FileHandle|ConnectWrap|ShutdownWrap|WriteWrap/

/**
 * Real work the run may be waiting on, so the clock must not move yet: a command job's process (journaled as running),
 * or, on Node, a pending request (Bun and Deno do not list them). Requests count for at most `requestPatienceMillis`
 * of real time in a row: one the run does not own (the test's own, a watcher) must not stop the clock for good.
 */
const requestPatienceMillis = 1_000

const pendingRequests = (): boolean => {
  const info = (process as { getActiveResourcesInfo?: () => Array<string> }).getActiveResourcesInfo?.()
  return info !== undefined && info.some((name) => pendingRequest.test(name))
}

/**
 * Advances the test clock to the next pending sleep whenever the run is idle: no fiber made progress (no event, log
 * or new sleep) for a few turns of the event loop, and nothing real is pending. Runs until interrupted.
 */
const drive = (clock: TestClock.TestClock, activity: () => number, live: ReadonlySet<number>) =>
  Effect.gen(function*() {
    let last = -1
    let quiet = 0
    let requestsSince: number | undefined
    while (true) {
      yield* turn
      const now = activity() + sleepCount(clock) * 1_000_003
      let waiting = live.size > 0
      if (!waiting && pendingRequests()) {
        requestsSince ??= Date.now()
        waiting = Date.now() - requestsSince < requestPatienceMillis
      } else requestsSince = undefined
      if (now !== last || waiting) {
        last = now
        quiet = 0
        if (waiting) yield* realPause
        continue
      }
      if (++quiet < 3) continue
      const next = nextSleep(clock)
      if (next === undefined) {
        yield* realPause
        continue
      }
      yield* clock.setTime(Math.max(next, clock.currentTimeMillisUnsafe()))
      quiet = 0
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------------------------

/** The runner's services as the CLI provides them: Node's (Bun's and Deno's through their Node compatibility). */
const runnerServices = Layer.merge(Layer.provideMerge(Spawner.layer, NodeServices.layer), FetchHttpClient.layer)

const toConfigProvider = (config: Options["config"]) => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(config ?? {})) env[name] = Redacted.isRedacted(value) ? Redacted.value(value) : value
  return ConfigProvider.fromEnv({ env })
}

const resolvePartition = (dag: Dag.Dag, partition: Options["partition"]): PartitionApi.Partition | undefined => {
  if (partition === undefined || typeof partition !== "string") return partition
  if (dag.trigger === undefined) {
    throw new InvalidOption({ where: "TestRun partition", reason: `dag "${dag.name}" has no schedule: give a Partition, not a key` })
  }
  const slot = Trigger.partitionOf(dag.trigger, partition)
  if (slot === undefined) {
    throw new InvalidOption({ where: "TestRun partition", reason: `"${partition}" is not a slot of dag "${dag.name}"'s schedule` })
  }
  return slot
}

/** Checks the faults against the plan: every id is a job of the DAG, `Fault.exit` only on command jobs. */
const checkFaults = (dag: Dag.Dag, plan: Plan.Plan, faults: Options["faults"]): Effect.Effect<void, InvalidOption> =>
  Effect.suspend(() => {
    const all = new Map<string, Job.Any>()
    for (const job of dag.jobs) all.set(job.id, job)
    for (const planned of plan.jobs) all.set(planned.job.id, planned.job)
    for (const [id, fault] of Object.entries(faults ?? {})) {
      if (fault === undefined) continue
      const job = all.get(id)
      if (job === undefined) {
        return Effect.fail(new InvalidOption({
          where: `TestRun faults.${id}`,
          reason: `dag "${dag.name}" has no job "${id}" (its jobs: ${[...all.keys()].join(", ")})`
        }))
      }
      if (!Fault.isFault(fault)) {
        return Effect.fail(new InvalidOption({ where: `TestRun faults.${id}`, reason: "is not a Fault (use Fault.failTimes, Fault.crash, ...)" }))
      }
      if (job.kind !== "shell" && [...fault.attempts, fault.rest].some((a) => a._tag === "Exit")) {
        return Effect.fail(new InvalidOption({ where: `TestRun faults.${id}`, reason: "Fault.exit is for command jobs (Job.command); use Fault.fail" }))
      }
    }
    return Effect.void
  })

/** The DAG with its hooks silenced once the process crashed (a dead process runs no onSuccess / onFailure). */
const withHooksUnlessCrashed = (dag: Dag.Dag, crash: Crash): Dag.Dag => {
  const guard = (hook: Dag.Hook<any> | undefined): Dag.Hook<any> | undefined =>
    hook === undefined ? undefined : (summary) => Effect.suspend(() => crash.crashed ? Effect.void : hook(summary))
  return { ...dag, onSuccess: guard(dag.onSuccess), onFailure: guard(dag.onFailure) }
}

const execute = (
  dag: Dag.Dag,
  options: Options<string>,
  journal: JournalHandle,
  target: Journal.Target,
  startAt: number
): Effect.Effect<Result<any>, SetupError> =>
  Effect.scoped(Effect.gen(function*() {
    const scope = yield* Effect.scope
    const plan = yield* Plan.plan(dag, options.jobs ?? [])
    yield* checkFaults(dag, plan, options.faults)
    const partition = yield* Effect.try({
      try: () => resolvePartition(dag, options.partition),
      catch: (error) => error instanceof InvalidOption ? error : new InvalidOption({ where: "TestRun partition", reason: String(error) })
    })
    const events: Array<RunEvent.RunEvent> = []
    const reported: Array<RunEvent.RunEvent> = []
    const logs: Array<Reporter.LogEntry> = []
    const crash: Crash = { crashed: false, latch: Latch.makeUnsafe() }
    const crashNow = () => {
      if (crash.crashed) return
      crash.crashed = true
      crash.latch.openUnsafe()
    }
    const faults = new Map<string, Fault.Fault>()
    const crashSteps = new Map<string, ReadonlyArray<string>>()
    for (const [id, fault] of Object.entries(options.faults ?? {})) {
      if (fault === undefined) continue
      faults.set(id, fault)
      if (fault.crashAfterSteps.length > 0) crashSteps.set(id, fault.crashAfterSteps)
    }
    const counts = new Map<string, number>()
    const hook = (job: Job.Any, work: () => Effect.Effect<unknown, unknown, Job.Services>) => {
      const fault = faults.get(job.id)
      if (fault === undefined) return work()
      const attempt = (counts.get(job.id) ?? 0) + 1
      counts.set(job.id, attempt)
      return Fault.apply(Fault.actionOf(fault, attempt), job.id, attempt, job.command, work, crashNow)
    }
    const inner = yield* openJournal(journal, scope)
    const live = new Set<number>()
    const wrapped = crashable(inner, crash, crashNow, crashSteps, events, live)
    const reporter = Reporter.Reporter.of({
      event: (event) => Effect.sync(() => void reported.push(event)),
      log: (entry) => {
        if (!crash.crashed) logs.push(entry)
      }
    })
    const clockContext = yield* Layer.buildWithScope(TestClock.layer(), scope)
    const clock = Context.get(clockContext, Clock.Clock) as TestClock.TestClock
    yield* clock.setTime(startAt)
    const services = options.layer === undefined ? runnerServices : Layer.provideMerge(options.layer, runnerServices)
    const run = Run.execute({
      plan: { ...plan, dag: withHooksUnlessCrashed(plan.dag, crash) },
      target,
      concurrency: options.concurrency ?? dag.concurrency ?? 4,
      failureMode: options.failureMode ?? "no-new",
      trigger: "test",
      runnerVersion: "test",
      wait: false,
      ...(partition === undefined ? {} : { partition })
    }).pipe(
      Effect.provideService(CurrentAttemptHook, hook),
      Effect.provideService(ConfigProvider.ConfigProvider, toConfigProvider(options.config)),
      Effect.provide(Layer.mergeAll(
        services as Layer.Layer<Job.Services>,
        RunLogger.layer.pipe(Layer.provideMerge(Layer.mergeAll(
          Layer.succeed(Journal.Journal)(wrapped),
          Layer.succeed(Reporter.Reporter)(reporter)
        )))
      ))
    )
    // Scoped: ended with the run, also when the test interrupts it (a timeout), so it never spins on.
    const driver = yield* Effect.forkScoped(drive(clock, () => events.length + reported.length + logs.length, live))
    // A crash interrupts the run at once: the process is dead, nothing it did afterwards counts.
    const raced = Effect.raceFirst(
      Effect.map(run, (outcome) => ({ _tag: "Outcome", outcome }) as const),
      Effect.as(crash.latch.await, { _tag: "Crashed" } as const)
    )
    const exit = yield* Effect.exit(raced.pipe(Effect.provideContext(clockContext)))
    yield* Fiber.interrupt(driver)
    if (Exit.isFailure(exit)) return yield* Effect.failCause(exit.cause) as Effect.Effect<never, SetupError>
    const ended = clock.currentTimeMillisUnsafe()
    const value = exit.value
    let runId: string
    if (value._tag === "Outcome") {
      const outcome = value.outcome
      if (outcome._tag !== "Finished") {
        return yield* Effect.fail(new InvalidOption({
          where: "TestRun.resume",
          reason: `run ${outcome.runId ?? "(none)"} has nothing to resume: it succeeded, or it is not in this journal`
        }))
      }
      runId = outcome.result.runId
    } else {
      const started = events.find((e) => e._tag === "RunStarted") ?? reported.find((e) => e._tag === "RunStarted")
      runId = started?.runId ?? (target._tag === "Resume" ? target.runId ?? "" : "")
    }
    const crashed = value._tag === "Crashed"
    const finished = crashed ? undefined : reported.findLast((e): e is RunEvent.RunFinished => e._tag === "RunFinished")
    // The outputs of restored jobs as the run got them back: decoded from the journal, as a resumed run decodes them.
    const restored = (crashed ? events : reported).some((e) => e._tag === "JobRestored")
      ? (yield* Effect.flatMap(inner.succeeded(runId), (rows) => Resume.decide(plan, Resume.definitionHashes(plan), rows))).restored
      : new Map<string, Resume.Restored>()
    const jobs = jobResults(plan, crashed ? events : reported, finished, restored)
    return {
      runId,
      dag: dag.name,
      status: crashed ? "crashed" : finished?.status ?? "interrupted",
      jobs,
      events,
      logs,
      startedAt: startAt,
      endedAt: ended,
      durationMillis: ended - startAt,
      [ResumeState]: { dag, journal, options }
    } satisfies Result<Dag.Dag> as Result<any>
  }))

/** Each job's result, from the events of this run (the journal's when it crashed) and its summary if it finished. */
const jobResults = (
  plan: Plan.Plan,
  events: ReadonlyArray<RunEvent.RunEvent>,
  finished: RunEvent.RunFinished | undefined,
  restoredOutputs: ReadonlyMap<string, Resume.Restored>
): Record<string, JobResult> => {
  const results: Record<string, JobResult> = {}
  for (const { job } of plan.jobs) {
    const mine = events.filter((e) => "jobId" in e && e.jobId === job.id)
    const summary = finished?.jobs.find((j) => j.jobId === job.id)
    const attempts = mine.filter((e) => e._tag === "AttemptStarted").length
    const failures = mine.filter((e): e is RunEvent.AttemptFailed => e._tag === "AttemptFailed")
    const succeeded = mine.find((e): e is RunEvent.AttemptSucceeded => e._tag === "AttemptSucceeded")
    const cached = mine.find((e): e is RunEvent.JobCached => e._tag === "JobCached")
    const restored = mine.some((e) => e._tag === "JobRestored")
    const last = mine.at(-1)
    const status: JobStatus = summary?.status ?? (
      succeeded !== undefined ? "succeeded"
        : cached !== undefined ? "cached"
        : restored ? "restored"
        : mine.some((e) => e._tag === "JobSkipped") ? "skipped"
        : last === undefined ? "not started"
        : last._tag === "AttemptFailed" && last.retryInMillis === undefined ? "failed"
        : "crashed"
    )
    const first = mine.find((e) => e._tag === "AttemptStarted")
    results[job.id] = {
      id: job.id,
      status,
      attempts,
      output: succeeded !== undefined ? succeeded.output : cached !== undefined ? cached.output : restored ? restoredOutputs.get(job.id)?.output : undefined,
      error: finished?.causes?.get(job.id) ?? (status === "failed" ? failures.at(-1)?.cause : undefined),
      attemptErrors: failures.map((f) => f.error),
      durationMillis: summary?.durationMillis ?? (first === undefined || last === undefined ? 0 : last.at - first.at)
    }
  }
  return results
}

/**
 * Runs `dag` in-process under a self-advancing TestClock with an in-memory journal (see `Options`). Succeeds with the
 * result whatever the run's status; fails only when the run cannot start (a bad option or fault, the jobs' config,
 * the DAG's layer).
 *
 * @example
 * ```ts
 * const result = yield* TestRun.run(etl, { faults: { extract: Fault.failTimes(2) } })
 * assert.strictEqual(result.jobs.extract.attempts, 3)
 * ```
 */
export const run = <D extends Dag.Dag>(
  dag: D,
  options: NoInfer<Options<JobIds<D>>> = {}
): Effect.Effect<Result<D>, SetupError> =>
  Effect.suspend(() => {
    const journal: JournalHandle = options.journal === "sqlite"
      ? { _tag: "Sqlite", file: tempJournal() }
      : { _tag: "Memory", context: Effect.runSync(Layer.build(Journal.layerMemory).pipe(Effect.scoped)) }
    const now = options.now === undefined ? Date.now() : typeof options.now === "number" ? options.now : options.now.getTime()
    return execute(dag, options as Options<string>, journal, { _tag: "New" }, now)
  })

/**
 * Continues the run of `result` in the same journal, as `runner <file> --resume <runId>` would: jobs that succeeded
 * are restored (not run again), the rest run. `options` replace the first run's (faults are not carried over: give
 * them again if the resumed run should meet them); the clock starts where the first run ended unless `now` is given.
 */
export const resume = <D extends Dag.Dag>(
  result: Result<D>,
  options: NoInfer<Omit<Options<JobIds<D>>, "journal">> = {}
): Effect.Effect<Result<D>, SetupError> =>
  Effect.suspend(() => {
    const handle = result[ResumeState]
    const merged: Options<string> = { ...handle.options, faults: {}, ...(options as Options<string>) }
    const now = options.now === undefined ? result.endedAt : typeof options.now === "number" ? options.now : options.now.getTime()
    return execute(handle.dag, merged, handle.journal, { _tag: "Resume", runId: result.runId }, now)
  }) as Effect.Effect<Result<D>, SetupError>
