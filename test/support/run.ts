/** Test helpers: run a DAG in-process with the memory journal and a reporter that collects what it is shown. */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Dag from "../../src/Dag.ts"
import * as Plan from "../../src/internal/Plan.ts"
import * as Spawner from "../../src/internal/process/Spawner.ts"
import * as Executor from "../../src/internal/Executor.ts"
import * as Journal from "../../src/internal/Journal.ts"
import * as Reporter from "../../src/internal/reporter/Reporter.ts"
import * as Run from "../../src/internal/Run.ts"
import type * as RunEvent from "../../src/internal/RunEvent.ts"
import * as RunLogger from "../../src/internal/RunLogger.ts"

export interface Collected {
  readonly events: Array<RunEvent.RunEvent>
  readonly logs: Array<Reporter.LogEntry>
}

/** The runner's services as the CLI provides them: Node's, with the runner's own ChildProcessSpawner. */
export const services = Layer.merge(Layer.provideMerge(Spawner.layer, NodeServices.layer), FetchHttpClient.layer)

export const collectingReporter = (collected: Collected): Layer.Layer<Reporter.Reporter> =>
  Layer.succeed(Reporter.Reporter)(Reporter.Reporter.of({
    event: (event) => Effect.sync(() => void collected.events.push(event)),
    log: (entry) => void collected.logs.push(entry)
  }))

export interface RunOptions {
  readonly concurrency?: number
  readonly failureMode?: RunEvent.FailureMode
  readonly selection?: ReadonlyArray<string>
  /** The runner's services. Default: `services` (a test gives a fake ChildProcessSpawner this way). */
  readonly services?: Layer.Layer<Layer.Success<typeof services>>
}

/** Plans and runs `dag`, returning the executor's result and everything reported. */
export const runDag = (dag: Dag.Dag, options: RunOptions = {}, collected: Collected = { events: [], logs: [] }) =>
  Effect.gen(function*() {
    const plan = yield* Plan.plan(dag, options.selection)
    const result = yield* Executor.run(plan, {
      runId: "test-run",
      concurrency: options.concurrency ?? 4,
      failureMode: options.failureMode ?? "no-new"
    }).pipe(
      Effect.provide(Layer.mergeAll(
        options.services ?? services,
        RunLogger.layer.pipe(Layer.provideMerge(Layer.mergeAll(Journal.layerMemory, collectingReporter(collected))))
      ))
    )
    return { result, ...collected }
  })

/** The summary of one job in a result. */
export const jobOf = (result: Executor.Result, jobId: string) => {
  const job = result.jobs.find((j) => j.jobId === jobId)
  if (job === undefined) throw new Error(`no job ${jobId} in result`)
  return job
}

export const eventsOf = <T extends RunEvent.RunEvent["_tag"]>(events: ReadonlyArray<RunEvent.RunEvent>, tag: T, jobId?: string) =>
  events.filter((e): e is Extract<RunEvent.RunEvent, { _tag: T }> =>
    e._tag === tag && (jobId === undefined || ("jobId" in e && e.jobId === jobId))
  )

/**
 * Runs (or resumes) `dag` through `Run.execute`, as the CLI does, on the journal in context, with failure mode
 * `continue`; returns the result and everything reported.
 */
export const executeRun = (
  dag: Dag.Dag,
  target: Journal.Target,
  collected: Collected = { events: [], logs: [] },
  concurrency = 4
) =>
  Effect.gen(function*() {
    const plan = yield* Plan.plan(dag)
    const outcome = yield* Run.execute({
      plan,
      target,
      concurrency,
      failureMode: "continue",
      trigger: "test",
      runnerVersion: "test",
      wait: false
    }).pipe(
      Effect.provide(Layer.mergeAll(services, RunLogger.layer.pipe(Layer.provideMerge(collectingReporter(collected)))))
    )
    if (outcome._tag !== "Finished") throw new Error(`expected a finished run, got ${outcome._tag}`)
    return { result: outcome.result, ...collected }
  })
