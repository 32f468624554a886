/**
 * The two workflows a cluster runs, as data shared by the submitter and the workers: RunWorkflow (one per execution
 * of a run: it coordinates the DAG) and JobWorkflow (one per job of that execution: it runs the job on whichever worker
 * owns its shard). Their execution ids come from the payload's idempotency key, so submitting the same run twice, or
 * dispatching the same job again after a coordinator moved, joins the execution already there.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as DurableDeferred from "effect/workflow/DurableDeferred"
import * as Workflow from "effect/workflow/Workflow"
import * as WorkflowEngine from "effect/workflow/WorkflowEngine"

/** How a run execution ended, as the coordinator reports it (errors are data: the workflow itself never fails). */
export const RunOutcome = Schema.Union([
  Schema.Struct({
    _tag: Schema.Literal("Finished"),
    runId: Schema.String,
    status: Schema.Literals(["succeeded", "failed", "interrupted"])
  }),
  Schema.Struct({ _tag: Schema.Literal("AlreadySucceeded"), runId: Schema.String, key: Schema.String }),
  /** The run could not start or went on no longer: exit code and message as a local run would have them. */
  Schema.Struct({ _tag: Schema.Literal("Error"), code: Schema.Number, message: Schema.String })
])
export type RunOutcome = typeof RunOutcome.Type

/** One execution of a run: the DAG, its run key and which execution of that key this is. */
export const RunWorkflow = Workflow.make("effect-runner/Run", {
  payload: {
    dag: Schema.String,
    key: Schema.String,
    /** Bumped each time the key's run ended unfinished, so submitting it again makes a new execution. */
    generation: Schema.Number,
    /** `--force`: run again a key whose run succeeded (and reuse no cached success). */
    force: Schema.Boolean,
    /** Only these jobs and what they need (empty: all). */
    jobs: Schema.Array(Schema.String),
    concurrency: Schema.Number,
    failureMode: Schema.Literals(["no-new", "kill", "continue"]),
    trigger: Schema.String,
    /** The submitter's audit record (JSON), journaled with the run's executions. */
    audit: Schema.String
  },
  success: RunOutcome,
  idempotencyKey: (payload) => `${payload.dag}\u0000${payload.key}\u0000${payload.generation}`
})

/**
 * How a job ended on its worker. Its success is committed to the journal already; a failure comes as text. Each
 * answer names the worker that gave it and that worker's slot count: the coordinator places later jobs by them
 * (Placement.ts).
 */
const answeredBy = { host: Schema.optionalKey(Schema.String), slots: Schema.optionalKey(Schema.Number) }
export const JobOutcome = Schema.Union([
  Schema.Struct({
    _tag: Schema.Literal("Succeeded"),
    json: Schema.NullOr(Schema.String),
    attempt: Schema.Number,
    at: Schema.Number,
    /** Its success is this earlier run's, reused (up-to-date skipping): it did not run. */
    cachedFrom: Schema.optionalKey(Schema.String),
    ...answeredBy
  }),
  Schema.Struct({ _tag: Schema.Literal("Failed"), error: Schema.String, attempt: Schema.Number, at: Schema.Number, ...answeredBy }),
  Schema.Struct({ _tag: Schema.Literal("Interrupted"), reason: Schema.String, ...answeredBy }),
  /** The worker had no free slot: the coordinator places the job again (another execution id, on a worker with room). */
  Schema.Struct({ _tag: Schema.Literal("Busy"), ...answeredBy })
])
export type JobOutcome = typeof JobOutcome.Type

/** One job of one run execution. */
export const JobWorkflow = Workflow.make("effect-runner/Job", {
  payload: {
    /** The run execution's id: the job's execution id is made from it and the job's id. */
    runExecution: Schema.String,
    runId: Schema.String,
    dag: Schema.String,
    key: Schema.String,
    jobId: Schema.String,
    /** Jobs with `cache`: reuse no earlier success (`--force`, all or these). */
    force: Schema.Union([Schema.Literal("all"), Schema.Array(Schema.String)]),
    /** Which placement of the job this is: a worker that was full answered `Busy` to the earlier ones. */
    placement: Schema.Number
  },
  success: JobOutcome,
  idempotencyKey: (payload) => `${payload.runExecution}/${payload.jobId}#${payload.placement}`
})

/** The engine's own interrupt signal of an execution (ClusterWorkflowEngine's name for it). */
const InterruptSignal = DurableDeferred.make("Workflow/InterruptSignal")

/**
 * Completes once the current workflow execution has been asked to stop (`Workflow.interrupt`). The engine applies an
 * interrupt only between activities, and ours run for a whole run or job: their bodies watch for it with this.
 */
export const interruptRequested: Effect.Effect<void, never, WorkflowEngine.WorkflowEngine | WorkflowEngine.WorkflowInstance> =
  Effect.flatMap(WorkflowEngine.WorkflowEngine, (engine) =>
    engine.deferredResult(InterruptSignal).pipe(
      Effect.repeat({ schedule: Schedule.spaced(Duration.millis(500)), until: Option.isSome }),
      Effect.asVoid
    ))
