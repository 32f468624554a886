/**
 * The body of a RunWorkflow: one activity, "coordinate:<dag>", that is the ordinary `Run.execute` of the run's key
 * (its journal lock with fencing token, the executor's loop, failure modes, skips, RunStarted/RunFinished) with each
 * job dispatched as a JobWorkflow instead of run here. If this worker dies, the engine replays the workflow on
 * another: the activity runs again, and `Run.execute` with the same key resumes the run — it takes the run's lock
 * over once stale (after the cluster lease), restores the jobs whose success is journaled, and dispatches the
 * others again under the same execution ids, which the engine joins to the executions already there.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Sharding from "effect/cluster/Sharding"
import * as Activity from "effect/workflow/Activity"
import * as WorkflowEngine from "effect/workflow/WorkflowEngine"
import type * as Job from "../../Job.ts"
import type * as Audit from "../Audit.ts"
import type * as Executor from "../Executor.ts"
import * as Journal from "../Journal.ts"
import * as Plan from "../Plan.ts"
import type { PreflightFailed } from "../SetupErrors.ts"
import type { Reporter } from "../reporter/Reporter.ts"
import * as Run from "../Run.ts"
import { version } from "../cli/version.ts"
import type { LayerFailed } from "../../Errors.ts"
import type { Catalog } from "./JobRunner.ts"
import * as Placement from "./Placement.ts"
import * as Workflows from "./Workflows.ts"

type Payload = typeof Workflows.RunWorkflow.payloadSchema.Type

/** The exit code a run that could not go on ends with, as exit.ts maps these errors for a local run. */
const codeOf = (error: Journal.JournalError | Journal.RunLocked | Journal.LockLost | PreflightFailed | LayerFailed): number => {
  switch (error._tag) {
    case "RunLocked":
    case "LockLost":
      return 75
    case "LayerFailed":
      return 1
    default:
      return 2
  }
}

/** Coordinates one run execution: `Run.execute` with its jobs dispatched; errors come back as data. */
export const coordinate = (
  catalog: Catalog,
  payload: Payload,
  executionId: string,
  self: Self
): Effect.Effect<
  Workflows.RunOutcome,
  never,
  Journal.Journal | Reporter | Job.Services | WorkflowEngine.WorkflowEngine | WorkflowEngine.WorkflowInstance | Sharding.Sharding
> =>
  Effect.gen(function*() {
    const entry = catalog.get(payload.dag)
    if (entry === undefined) {
      return { _tag: "Error", code: 2, message: `worker ${self.host} was not given the DAG "${payload.dag}" (start every worker with the same task files)` } as const
    }
    const planned = payload.jobs.length === 0 ? undefined : yield* Effect.result(Plan.plan(entry.plan.dag, payload.jobs))
    if (planned !== undefined && planned._tag === "Failure") return { _tag: "Error", code: 2, message: planned.failure.message } as const
    const plan = planned === undefined ? entry.plan : planned.success
    const engine = yield* WorkflowEngine.WorkflowEngine
    let runId = ""
    // Set when the engine stops this activity from outside (its shard moved to another worker, or this worker is
    // leaving): the jobs then keep running where they are, for the coordinator that takes over to re-attach to.
    const handover = { stopping: false }
    const journal = yield* Journal.Journal
    // Whether a job this coordinator lets go should be interrupted where it runs: not when the coordinator is handing
    // over, nor when another coordinator took the run's lock over (this one was frozen past the lease: the jobs are
    // the newer coordinator's now, re-attached under the same execution ids).
    const stopJobs = (runId: string) =>
      handover.stopping ? Effect.succeed(false) : journal.lockLost(runId).pipe(
        Effect.exit,
        Effect.timeoutOption(Duration.millis(20)),
        Effect.map(Option.isNone)
      )
    const placer = yield* Placement.make(self)
    // The placements of the jobs an earlier coordinator of this execution had leased: joined, not started again. Read
    // once, at the first dispatch, which is when the run's id is known (`runId` is set before it is read).
    const earlier = yield* Effect.cached(
      Effect.suspend(() => journal.placements(runId)).pipe(Effect.orElseSucceed((): ReadonlyMap<string, number> => new Map()))
    )
    const dispatch: Executor.Dispatch = (job) => {
      runId = job.runId
      const placements = { placer, earlier: Effect.map(earlier, (found) => found.get(job.jobId)) }
      return place(payload, executionId, job.runId, job.jobId, placements, stopJobs(job.runId), self.leaving).pipe(
        // The JobWorkflows are the cluster's, not children of this activity's workflow: the engine would otherwise
        // tie their results to this workflow's replays.
        Effect.updateContext((context: Context.Context<WorkflowEngine.WorkflowEngine>) =>
          Context.omit(WorkflowEngine.WorkflowInstance)(context) as Context.Context<WorkflowEngine.WorkflowEngine>
        ),
        Effect.provideService(WorkflowEngine.WorkflowEngine, engine)
      )
    }
    let audit: unknown = {}
    try {
      audit = JSON.parse(payload.audit)
    } catch {
      // an audit that does not parse is left out: it only describes the submitter
    }
    const execute = Run.execute({
      plan,
      target: { _tag: "Key", key: payload.key, force: payload.force },
      concurrency: payload.concurrency,
      failureMode: payload.failureMode,
      trigger: payload.trigger,
      runnerVersion: version,
      // A replay after this worker died waits for the dead coordinator's lock to go stale.
      wait: true,
      audit: {
        ...(typeof audit === "object" && audit !== null ? audit : {}),
        cluster: { generation: payload.generation, execution: executionId, coordinator: self.host }
      } as unknown as Audit.Audit,
      ...(payload.force ? { force: "all" as const } : {}),
      dispatch
    }).pipe(
      Effect.map((outcome): Workflows.RunOutcome => {
        switch (outcome._tag) {
          case "Finished":
            return { _tag: "Finished", runId: outcome.result.runId, status: outcome.result.status }
          case "AlreadySucceeded":
            return { _tag: "AlreadySucceeded", runId: outcome.runId, key: outcome.key }
          case "NothingToResume":
            return { _tag: "Error", code: 2, message: "nothing to resume" }
        }
      }),
      Effect.catch((error) => Effect.succeed({ _tag: "Error", code: codeOf(error), message: error.message } as const))
    )
    // `runner cancel`: the run is interrupted (its jobs too, on their workers) and ends interrupted in the journal.
    const raced = Effect.raceFirst(
      execute,
      Effect.map(Workflows.interruptRequested, () => ({ _tag: "Finished", runId, status: "interrupted" }) as const)
    )
    // Run apart from this fiber, so that an interruption from outside is known as such before the dispatches see it.
    const fiber = yield* Effect.forkDetach(raced)
    return yield* Fiber.join(fiber).pipe(
      Effect.onInterrupt(() => Effect.andThen(Effect.sync(() => void (handover.stopping = true)), Fiber.interrupt(fiber)))
    )
  }).pipe(Effect.annotateLogs({ dag: payload.dag, key: payload.key }))

/**
 * Runs one job as a JobWorkflow and waits for its outcome: first the execution an earlier coordinator of the run had
 * leased, if any (joined); otherwise under the placement the placer chooses (a worker with a free slot). A worker
 * without a free slot answers `Busy`, and the job is placed again under a later placement number. Interrupting it
 * interrupts the job where it runs.
 */
const place = (
  payload: Payload,
  runExecution: string,
  runId: string,
  jobId: string,
  placements: { readonly placer: Placement.Placer; readonly earlier: Effect.Effect<number | undefined> },
  stopJobs: Effect.Effect<boolean>,
  leaving: () => boolean
): Effect.Effect<Executor.Dispatched, never, WorkflowEngine.WorkflowEngine> =>
  Effect.gen(function*() {
    const base = { runExecution, runId, dag: payload.dag, key: payload.key, jobId, force: payload.force ? "all" as const : [] }
    const executionIdOf = (placement: number) => Workflows.JobWorkflow.executionId({ ...base, placement })
    let interruptions = 0
    let busy = 0
    let last = 0
    let joined = yield* placements.earlier
    for (;;) {
      const choice: Placement.Choice = joined === undefined
        ? yield* placements.placer.choose(last, executionIdOf)
        : placements.placer.join(joined, yield* executionIdOf(joined))
      joined = undefined
      last = Math.max(last, choice.placement)
      const executionId = choice.executionId
      // The request runs in a fiber of its own: the engine abandons the requests of a worker that is leaving by
      // interrupting the fiber that made them, which must not read as this job's interruption.
      const request = yield* Effect.forkChild(Workflows.JobWorkflow.execute({ ...base, placement: choice.placement }), {
        startImmediately: true
      })
      const exit = yield* Fiber.await(request).pipe(
        // The job ends where it runs, and journals how, before the run is journaled as ended; unless this coordinator
        // is only handing over to another one, which re-attaches to the job's execution.
        Effect.onInterrupt(() =>
          Effect.flatMap(stopJobs, (stop) =>
            stop ? Workflows.JobWorkflow.interrupt(executionId).pipe(
              Effect.andThen(Workflows.JobWorkflow.poll(executionId).pipe(
                Effect.repeat({ schedule: Schedule.spaced(Duration.millis(200)), until: Option.isSome }),
                Effect.timeoutOption(STOP_WAIT)
              ))
            ) : Effect.void)
        )
      )
      if (Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause) && leaving()) {
        // This worker is leaving and its requests go unanswered: the job goes on where it runs (or waits to be
        // placed), and the run is handed over when the engine stops this coordinator, at the end of the grace period.
        // The coordinator that takes over re-attaches to the job (its placement is journaled with its lease).
        return yield* Effect.never
      }
      const outcome: Workflows.JobOutcome = Exit.isSuccess(exit)
        ? exit.value
        : Cause.hasInterruptsOnly(exit.cause)
        ? { _tag: "Interrupted", reason: "the cluster let go of the request" }
        : { _tag: "Failed", error: `the cluster lost the job: ${Cause.pretty(exit.cause)}`, attempt: 0, at: 0 }
      yield* placements.placer.settle(choice, { busy: outcome._tag === "Busy", host: outcome.host, slots: outcome.slots })
      switch (outcome._tag) {
        case "Busy":
          // Every worker full (more in flight than the cluster holds): place it again, less eagerly each time.
          if (++busy >= 2) yield* Effect.sleep(Duration.millis(Math.min(1_000, 50 * 2 ** Math.min(busy - 2, 5))))
          continue
        case "Interrupted":
          // This coordinator is running and did not stop the job (a cancel or its own interruption would have stopped
          // this fiber first): another stopped it — a stale coordinator woken after the run moved on, or a worker
          // leaving. The run still wants the job: placed again, a bounded number of times.
          if (++interruptions <= MAX_REPLACED) continue
          return { _tag: "Interrupted", reason: outcome.reason }
        case "Succeeded":
          return { _tag: "Succeeded", json: outcome.json ?? undefined, attempt: outcome.attempt, at: outcome.at, cachedFrom: outcome.cachedFrom }
        case "Failed":
          return { _tag: "Failed", error: outcome.error, attempt: outcome.attempt }
      }
    }
  })

/** How many times a job that something else interrupted is placed again before its interruption stands. */
const MAX_REPLACED = 3

/** How long an interrupted run waits for each of its jobs to end where it runs. */
const STOP_WAIT = Duration.seconds(15)

/** The worker a coordinator runs on: its name (as its jobs' answers give it), slots and jobs running now. */
export interface Self {
  readonly host: string
  readonly slots: number
  readonly running: () => number
  /** True once the worker has started leaving (SIGTERM): it takes no new work, and its requests are abandoned. */
  readonly leaving: () => boolean
}

/** The RunWorkflow handler: its one activity (named per DAG: activity names are unique per step). */
export const handler = (catalog: Catalog, self: Self) => (payload: Payload, executionId: string) =>
  Activity.make({
    name: `coordinate:${payload.dag}`,
    success: Workflows.RunOutcome,
    execute: coordinate(catalog, payload, executionId, self)
  })
