/**
 * The body of a JobWorkflow: runs one job of a run on this worker, alone, with the executor's own attempt code
 * (retries, timeouts, resources, checkpoints, logs, events), and commits its success to the journal before answering.
 * The job is leased first (`Journal.leaseJob`): the lease's epoch fences its journal writes and is its fencing token,
 * and the journaled attempt count continues where an earlier holder stopped. At most `concurrency` jobs run here at
 * once; a job that finds no free slot within 250 ms is answered `Busy`, and the coordinator places it again, so
 * jobs flow to workers with room instead of queueing where their shard happens to live.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as RcMap from "effect/RcMap"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type * as WorkflowEngine from "effect/workflow/WorkflowEngine"
import type * as Job from "../../Job.ts"
import * as Partition from "../../Partition.ts"
import * as commits from "../executor/commit.ts"
import { runJob } from "../executor/attempt.ts"
import * as reuse from "../executor/reuse.ts"
import * as CachePolicy from "../cache/Policy.ts"
import { version } from "../cli/version.ts"
import * as Recorder from "../executor/recorder.ts"
import { JobState } from "../executor/state.ts"
import * as Encoding from "../Encoding.ts"
import * as Journal from "../Journal.ts"
import * as layers from "../layers.ts"
import type * as Plan from "../Plan.ts"
import * as Preflight from "../Preflight.ts"
import * as render from "../render.ts"
import type { Reporter } from "../reporter/Reporter.ts"
import * as resources from "../resources.ts"
import * as Resume from "../Resume.ts"
import * as Run from "../Run.ts"
import * as Secrets from "../Secrets.ts"
import * as Workflows from "./Workflows.ts"

/** The DAGs a worker can run, by name: each planned whole, with its jobs' definition hashes. */
export interface Catalog {
  readonly get: (dag: string) => { readonly plan: Plan.Plan; readonly hashes: Resume.DefinitionHashes } | undefined
}

/**
 * A run's layers on this worker, by DAG and run execution: the DAG's `layer`, built once by the first of the run's
 * jobs to start here, and the builder its jobs' own layers are built with (once each, as in a local run). A worker does
 * not know when a run ends, so they are released once no job of the run has run here for `LAYERS_IDLE`.
 */
type RunLayers = RcMap.RcMap<string, {
  readonly builder: layers.Builder
  readonly services: Context.Context<any>
  /** The `cache.files` globs warned about as matching nothing, once a run here. */
  readonly warned: Set<string>
}, unknown>

/** How long a run's layers are kept on a worker after its last job there ended. */
const LAYERS_IDLE = Duration.seconds(30)

/** How long a job waits for a free slot on this worker (one may free soon) before it is handed back (`Busy`). */
const SLOT_WAIT = Duration.millis(250)

export interface JobRunner {
  readonly run: (payload: typeof Workflows.JobWorkflow.payloadSchema.Type) => Effect.Effect<
    Workflows.JobOutcome,
    never,
    Journal.Journal | Reporter | Job.Services | WorkflowEngine.WorkflowEngine | WorkflowEngine.WorkflowInstance
  >
  /** Jobs running here now. */
  readonly running: () => number
}

/**
 * A runner of `catalog`'s jobs, at most `concurrency` at once, as `holder` (this worker's address and pid, journaled
 * with its leases). `registry` holds the resources' limiters of every job run here.
 */
export const make = (catalog: Catalog, options: {
  readonly concurrency: number
  readonly holder: string
  readonly registry: resources.Registry
  /** Completed when the worker starts leaving: jobs not started by then are handed back (`Busy`), not interrupted. */
  readonly stopping?: Deferred.Deferred<void>
}): Effect.Effect<JobRunner, never, Scope.Scope | Job.Services> =>
  Effect.gen(function*() {
    const runLayers: RunLayers = yield* RcMap.make({
      lookup: (key: string) =>
        Effect.gen(function*() {
          const builder = yield* layers.make(yield* Effect.scope)
          const layer = catalog.get(key.slice(0, key.indexOf("\u0000")))?.plan.dag.layer
          const services = layer === undefined ? Context.empty() as Context.Context<any> : yield* builder.build(layer)
          return { builder, services, warned: new Set<string>() }
        }),
      idleTimeToLive: LAYERS_IDLE
    })
    const slots = Semaphore.makeUnsafe(options.concurrency)
    let running = 0
    const run: JobRunner["run"] = (payload) =>
      Effect.gen(function*() {
        const entry = catalog.get(payload.dag)
        const planned = entry?.plan.jobs.find((p) => p.job.id === payload.jobId)
        const at = yield* Clock.currentTimeMillis
        if (entry === undefined || planned === undefined) {
          const what = entry === undefined ? `the DAG "${payload.dag}"` : `the job "${payload.jobId}" of "${payload.dag}"`
          return { _tag: "Failed", error: `worker ${options.holder} was not given ${what} (start every worker with the same task files)`, attempt: 0, at } as const
        }
        // A leaving worker starts nothing new: the coordinator places the job again, on a worker that stays.
        const leaving = options.stopping === undefined ? Effect.never : Deferred.await(options.stopping)
        if (options.stopping !== undefined && Deferred.isDoneUnsafe(options.stopping)) return { _tag: "Busy" } as const
        const taken = yield* Effect.raceFirst(
          Effect.timeoutOption(slots.take(1), SLOT_WAIT),
          Effect.as(leaving, Option.none())
        )
        if (Option.isNone(taken)) return { _tag: "Busy" } as const
        if (options.stopping !== undefined && Deferred.isDoneUnsafe(options.stopping)) {
          yield* slots.release(1)
          return { _tag: "Busy" } as const
        }
        running++
        return yield* Effect.scoped(runOne(entry.plan, entry.hashes, planned, payload, { ...options, runLayers })).pipe(
          Effect.ensuring(Effect.andThen(slots.release(1), Effect.sync(() => running--)))
        )
      }).pipe(
        // Asked to stop (the run was cancelled, or the coordinator let the job go): the job is interrupted here.
        Effect.raceFirst(Effect.as(Workflows.interruptRequested, { _tag: "Interrupted", reason: "interrupted" } as const)),
        // Signed: the coordinator learns where the job's shard lives and how many slots this worker has.
        Effect.map((outcome): Workflows.JobOutcome => ({ ...outcome, host: options.holder, slots: options.concurrency }))
      )
    return { run, running: () => running }
  })

type Payload = typeof Workflows.JobWorkflow.payloadSchema.Type

const runOne = (
  plan: Plan.Plan,
  hashes: Resume.DefinitionHashes,
  planned: Plan.PlannedJob,
  payload: Payload,
  options: { readonly holder: string; readonly registry: resources.Registry; readonly runLayers: RunLayers }
): Effect.Effect<Workflows.JobOutcome, never, Journal.Journal | Reporter | Job.Services | Scope.Scope> =>
  Effect.gen(function*() {
    const { jobId, runId } = payload
    const failed = (error: string, attempt = 0) =>
      Effect.map(Clock.currentTimeMillis, (at) => ({ _tag: "Failed", error, attempt, at }) as const)
    const journal = yield* Journal.Journal
    const lease = yield* Effect.result(journal.leaseJob(runId, jobId, options.holder, payload.placement))
    if (lease._tag === "Failure") return yield* failed(`could not lease the job: ${lease.failure.message}`)
    // The needs' outputs, as their jobs' schemas decode them from the journal.
    const succeeded = new Map((yield* Effect.orElseSucceed(journal.succeeded(runId), () => [])).map((row) => [row.jobId, row]))
    // An earlier holder's success committed just before this takeover (its answer was lost): it stands.
    const done = succeeded.get(jobId)
    if (done !== undefined && done.definitionHash === hashes.of(planned.index)) {
      const at = yield* Clock.currentTimeMillis
      return { _tag: "Succeeded", json: done.json ?? null, attempt: lease.success.attempts, at } as const
    }
    const resolved = yield* Effect.result(
      Preflight.require({ ...plan, jobs: [planned] }, yield* ConfigProvider.ConfigProvider)
    )
    if (resolved._tag === "Failure") return yield* failed(resolved.failure.message)
    const config = resolved.success.config.get(jobId)
    const inputs: Record<string, unknown> = Object.create({ config: config ?? {} })
    const needs: Array<readonly [string, string | undefined]> = []
    for (const dep of planned.deps) {
      const need = plan.jobs[dep.index]!.job
      const row = succeeded.get(need.id)
      if (row === undefined) return yield* failed(`its need "${need.id}" has no success journaled in run ${runId}`)
      const decoded = yield* Effect.result(Encoding.decode(need.output, row.json))
      if (decoded._tag === "Failure") return yield* failed(`the output of its need "${need.id}" does not decode: ${decoded.failure}`)
      inputs[dep.name] = decoded.success
      needs.push([dep.name, row.json])
    }
    const masker = (yield* Secrets.CurrentMasker).with(resolved.success.secrets)
    // The run's layers on this worker: built by its first job here, shared by the others (see RunLayers).
    const layersKey = `${payload.dag}\u0000${payload.runExecution}`
    const built = yield* Effect.exit(RcMap.get(options.runLayers, layersKey))
    if (Exit.isFailure(built)) {
      yield* RcMap.invalidate(options.runLayers, layersKey)
      return yield* failed(`the DAG's layer failed: ${render.causeMessage(built.cause)}`)
    }
    const { builder, services, warned } = built.value
    const partition = Run.partitionOf({ plan, target: { _tag: "Key", key: payload.key, force: false } })
    // Up-to-date skipping as locally, with this worker's folder, files and RUNNER_CACHE.
    const policy = CachePolicy.effective(planned.job.cache, plan.dag.cache)
    const cache = policy === undefined ? undefined : yield* Effect.result(Run.cacheContext({
      force: payload.force,
      cacheEnv: resolved.success.cacheEnv,
      partition: partition?.key,
      runnerVersion: version,
      dagDefinedVia: plan.dag.definedVia
    }, journal))
    if (cache?._tag === "Failure") return yield* failed(cache.failure.message)
    const job = new JobState(planned)
    job.attempts = lease.success.attempts
    job.fencingToken = lease.success.epoch
    job.phase = "running"
    job.startedAt = yield* Clock.currentTimeMillis
    return yield* Effect.gen(function*() {
      const recorder = yield* Recorder.make
      yield* Effect.logInfo(`runs on worker ${options.holder} (lease epoch ${lease.success.epoch})`).pipe(
        Effect.annotateLogs({ runId, jobId })
      )
      // Made when a checkpoint first needs it, once (the job's services keep it), as on a local run: a job without
      // checkpoints never hashes its inputs.
      const attempt = runJob(recorder, runId, job, inputs, () => Resume.inputHash(needs))
      const reused = cache === undefined || policy === undefined ? attempt : reuse.reuseOrRun({
        journal,
        cache: cache.success,
        dag: plan.dag.name,
        job,
        policy,
        definitionHash: hashes.of(planned.index),
        needs,
        warned
      }, attempt)
      const work = reused.pipe(
        Effect.provideContext(services as Context.Context<never>),
        Effect.provideService(layers.CurrentBuilder, builder),
        Effect.provideService(resources.CurrentRegistry, options.registry),
        // A lease taken over (this worker was stopped or cut off past it) stops the job at once.
        Effect.raceFirst(lease.success.lost)
      )
      const exit = yield* Effect.exit(partition === undefined ? work : Partition.provide(work, partition))
      if (Exit.isSuccess(exit)) {
        const committed = yield* Effect.exit(
          Effect.uninterruptible(commits.commit(recorder, runId, job, hashes.of(planned.index), exit.value))
        )
        if (Exit.isFailure(committed)) {
          return yield* failed(`its success could not be committed: ${render.causeMessage(committed.cause)}`, job.attempts)
        }
        const { encoded, attempt, at, cached } = exit.value
        return { _tag: "Succeeded", json: encoded.json ?? null, attempt, at, ...(cached === undefined ? {} : { cachedFrom: cached.fromRunId }) } as const
      }
      if (Cause.hasInterruptsOnly(exit.cause)) return { _tag: "Interrupted", reason: job.interruptedDetail } as const
      return yield* failed(recorder.mask(render.cause(exit.cause)), job.attempts)
    }).pipe(Effect.provideService(Secrets.CurrentMasker, masker))
  })
