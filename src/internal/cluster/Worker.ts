/**
 * A worker: a cluster runner that can run any job of the task files it was given. It loads them (each DAG planned
 * whole, by name), joins the cluster (Engine.layerRunner), registers the RunWorkflow handler (Coordinator.ts) and the
 * JobWorkflow handler (JobRunner.ts) with the cluster's resource limits (Limits.ts), trims finished workflows' messages (MessageRetention), prints one line when it
 * has joined (its address and shards) and one per job it runs, and on `stop` leaves: it takes no new work, lets its
 * jobs finish within the grace period (the engine hands back the rest to the other workers), and returns.
 */
import * as MessageRetention from "effect/cluster/MessageRetention"
import type * as Entity from "effect/cluster/Entity"
import * as Sharding from "effect/cluster/Sharding"
import * as ShardId from "effect/cluster/ShardId"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Activity from "effect/workflow/Activity"
import { InvalidOption } from "../../Errors.ts"
import { InFile } from "../cli/exit.ts"
import * as Environment from "../Environment.ts"
import * as Loader from "../Loader.ts"
import * as Plan from "../Plan.ts"
import * as Reporter from "../reporter/Reporter.ts"
import * as Resume from "../Resume.ts"
import * as RunLogger from "../RunLogger.ts"
import * as Coordinator from "./Coordinator.ts"
import * as Engine from "./Engine.ts"
import * as JobRunner from "./JobRunner.ts"
import * as Limits from "./Limits.ts"
import * as Settings from "./Settings.ts"
import * as Workflows from "./Workflows.ts"

export interface Options {
  /** Task files, each planned whole. */
  readonly files: ReadonlyArray<string>
  readonly url: string
  /** At most this many jobs at once on this worker. */
  readonly concurrency: number
  readonly addresses: Settings.Addresses
  readonly settings: Settings.Settings
  /** Where the worker's lines go. */
  readonly print: (line: string) => void
}

/** Loads the task files into a catalog of DAGs by name (two files with one DAG name are an error). */
export const catalog = (files: ReadonlyArray<string>): Effect.Effect<JobRunner.Catalog & { readonly names: ReadonlyArray<string> }, InFile> =>
  Effect.gen(function*() {
    const byName = new Map<string, { readonly plan: Plan.Plan; readonly hashes: Resume.DefinitionHashes; readonly file: string }>()
    for (const file of files) {
      const loaded = yield* Effect.mapError(Loader.load(file), (error) => new InFile({ file, error }))
      const plan = yield* Effect.mapError(Plan.plan(loaded.dag), (error) => new InFile({ file, error }))
      const twin = byName.get(plan.dag.name)
      if (twin !== undefined) {
        return yield* new InFile({
          file,
          error: new InvalidOption({ where: `dag "${plan.dag.name}"`, reason: `is also in ${twin.file}; DAG names must differ` })
        })
      }
      byName.set(plan.dag.name, { plan, hashes: Resume.definitionHashes(plan), file })
    }
    return { get: (dag) => byName.get(dag), names: [...byName.keys()] }
  })

/** A Reporter for a worker's terminal: one line per job attempt's end and per log line, tagged with run and job. */
const reporter = (print: (line: string) => void): Reporter.Reporter["Service"] => {
  const stamp = (at: number) => new Date(at).toISOString()
  return Reporter.Reporter.of({
    event: (event) =>
      Effect.sync(() => {
        switch (event._tag) {
          case "AttemptStarted":
            return print(`${stamp(event.at)} run ${event.runId} job "${event.jobId}": attempt ${event.attempt} started`)
          case "AttemptSucceeded":
            return print(`${stamp(event.at)} run ${event.runId} job "${event.jobId}": attempt ${event.attempt} succeeded`)
          case "AttemptFailed":
            return print(`${stamp(event.at)} run ${event.runId} job "${event.jobId}": attempt ${event.attempt} failed: ${event.error}`)
          case "JobInterrupted":
            return print(`${stamp(event.at)} run ${event.runId} job "${event.jobId}": interrupted`)
          case "RunStarted":
            return print(`${stamp(event.at)} run ${event.runId} of ${event.dag}: coordinating ${event.jobIds.length} jobs here${event.resumed ? " (resumed)" : ""}`)
          case "RunFinished":
            return print(`${stamp(event.at)} run ${event.runId} of ${event.dag}: ${event.status}`)
          default:
            return
        }
      }),
    log: (entry) =>
      print(`${stamp(entry.at)} ${entry.level}${entry.runId === undefined ? "" : ` run ${entry.runId}`}${entry.jobId === undefined ? "" : ` job "${entry.jobId}"`}: ${entry.message}`)
  })
}

/** How long a worker's shard count must stay the same before it says it has joined. */
const SETTLED = 2_500

/** Runs the worker until `stop` completes, then leaves the cluster gracefully (see the module's comment). */
export const run = (options: Options, stop: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const loaded = yield* catalog(options.files)
    const { advertise } = options.addresses
    const holder = `${advertise.host}:${advertise.port} (pid ${process.pid})`
    const retention = (workflow: { readonly _tag: string }) =>
      MessageRetention.make({
        // MessageRetention reads only the entity's type: the engine names a workflow's entity `Workflow/<tag>`.
        entity: { type: `Workflow/${workflow._tag}` } as unknown as Entity.Entity<string, never>,
        retention: Settings.RETENTION,
        interval: Duration.minutes(5)
      })
    const handlers = Layer.mergeAll(
      // Resources hold across the cluster: their permits and rate slots are rows of the database (Limits.ts).
      Layer.unwrap(Effect.gen(function*() {
        const registry = yield* Limits.registry({ ttl: options.settings.lease, holder })
        const jobs = yield* JobRunner.make(loaded, { concurrency: options.concurrency, holder, registry, stopping: stop })
        return Layer.merge(
          Workflows.RunWorkflow.toLayer(Coordinator.handler(loaded, {
            host: holder,
            slots: options.concurrency,
            running: jobs.running,
            leaving: () => Deferred.isDoneUnsafe(stop)
          })),
          Workflows.JobWorkflow.toLayer((payload) =>
            Activity.make({ name: `job:${payload.jobId}`, success: Workflows.JobOutcome, execute: jobs.run(payload) })
          )
        )
      })),
      retention(Workflows.RunWorkflow),
      retention(Workflows.JobWorkflow)
    )
    const report = Layer.succeed(Reporter.Reporter)(reporter(options.print))
    const config = Layer.effect(ConfigProvider.ConfigProvider)(Environment.provider({ env: process.env }))
    const services = Layer.mergeAll(RunLogger.layer, config, FetchHttpClient.layer).pipe(Layer.provideMerge(report))
    const worker = handlers.pipe(
      Layer.provide(services),
      Layer.provideMerge(Engine.layerRunner(options.url, options.settings, options.addresses))
    )
    const joined = Deferred.makeUnsafe<void>()
    const fiber = yield* Effect.forkChild(Layer.launch(Layer.effectDiscard(Effect.gen(function*() {
      const sharding = yield* Sharding.Sharding
      yield* announce(sharding, options, loaded.names)
      Deferred.doneUnsafe(joined, Effect.void)
    })).pipe(Layer.provideMerge(worker))))
    yield* Effect.raceFirst(Deferred.await(stop), Fiber.join(fiber))
    options.print(`worker ${advertise.host}:${advertise.port}: stopping: no new work; running jobs get ${Duration.format(options.settings.grace)} to finish`)
    yield* Fiber.interrupt(fiber)
    options.print(`worker ${advertise.host}:${advertise.port}: left the cluster`)
  })

/**
 * Prints the joined line once the worker holds shards and their number has settled (the others hand theirs over a
 * few at a time), so the line gives the worker's share; or after three leases, whatever it holds then.
 */
const announce = (sharding: Sharding.Sharding["Service"], options: Options, dags: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const count = () => {
      let n = 0
      for (let i = 1; i <= 300; i++) if (sharding.hasShardId(ShardId.make("default", i))) n++
      return n
    }
    const deadline = Date.now() + 3 * Duration.toMillis(options.settings.lease)
    let held = count()
    let since = Date.now()
    while ((held === 0 || Date.now() - since < SETTLED) && Date.now() < deadline) {
      yield* Effect.sleep(Duration.millis(100))
      if (count() !== held) [held, since] = [count(), Date.now()]
    }
    const { advertise, listen } = options.addresses
    const where = `${advertise.host}:${advertise.port}` + (listen.host === advertise.host && listen.port === advertise.port ? "" : ` (listening on ${listen.host}:${listen.port})`)
    options.print(
      `worker ${where} joined the cluster: pid ${process.pid}, ${count()} of 300 shards, concurrency ${options.concurrency}, ` +
        `lease ${Duration.format(options.settings.lease)}, DAGs: ${dags.join(", ")}`
    )
  })
