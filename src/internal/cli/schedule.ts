/**
 * `runner schedule <file | dir> ...`: the scheduler daemon. Loads every scheduled DAG, shows the next fire times,
 * then fires each at its slots until SIGTERM/SIGINT (graceful: running runs get --grace to finish; a second signal
 * interrupts them at once). `--list` only shows the next fire times.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as SqlClient from "effect/sql/SqlClient"
import type * as WorkflowEngine from "effect/workflow/WorkflowEngine"
import { InvalidOption } from "../../Errors.ts"
import * as Reporter from "../reporter/Reporter.ts"
import * as Dialect from "../sql/Dialect.ts"
import * as Audit from "../Audit.ts"
import * as duration from "../duration.ts"
import * as Runtime from "../runtime/Runtime.ts"
import * as Scheduler from "../Scheduler.ts"
import { print, requirePositive } from "./common.ts"
import { requirePostgres } from "./worker.ts"
import { InFile, SchedulerInterrupted } from "./exit.ts"
import * as observers from "./observers.ts"
import * as runServices from "./runServices.ts"
import * as scheduled from "./scheduled.ts"
import * as uiFlags from "./uiFlags.ts"
import { version } from "./version.ts"

const flags = {
  targets: Argument.String("file-or-dir").pipe(
    Argument.withDescription("task files, or folders whose *.ts files are loaded"),
    Argument.variadic({ min: 1 })
  ),
  list: Flag.Boolean("list").pipe(Flag.withDescription("show the next fire times and exit"), Flag.withDefault(false)),
  maxCatchUp: Flag.Int("max-catch-up").pipe(
    Flag.withDescription("with catchUp: \"all\", run at most N missed slots, the most recent (default 10)"),
    Flag.withDefault(10)
  ),
  ...runServices.flags,
  grace: Flag.String("grace").pipe(
    Flag.withDescription("on SIGTERM, how long running runs may take to finish before they are interrupted (default 30s)"),
    Flag.withDefault("30 seconds")
  ),
  logFormat: Flag.Literals("log-format", ["plain", "json"]).pipe(
    Flag.withDescription("plain (default) or json lines; runs overlap, so there is no live view"),
    Flag.withDefault("plain" as const)
  ),
  cluster: Flag.Boolean("cluster").pipe(
    Flag.withDescription(
      "fire each slot into the cluster (runner worker runs it) instead of running it here; needs a postgres:// journal. " +
        "A slot fired by several daemons is one run: run one daemon per machine for availability"
    ),
    Flag.withDefault(false)
  ),
  ...observers.flags,
  ...uiFlags.flags
}

const handler = (input: runServices.Input & {
  readonly targets: ReadonlyArray<string>
  readonly list: boolean
  readonly maxCatchUp: number
  readonly grace: string
  readonly logFormat: "plain" | "json"
  readonly ui: boolean
  readonly uiPort: number
  readonly cluster: boolean
}) =>
  Effect.gen(function*() {
    yield* requirePositive("--max-catch-up", input.maxCatchUp)
    yield* requirePositive("--concurrency", input.concurrency)
    const grace = yield* Effect.try({
      try: () => duration.parse(input.grace as Duration.Input, "--grace"),
      catch: (error) => error as InvalidOption
    })
    const entries = yield* scheduled.load(input.targets)
    const now = new Date()
    const lines = entries.flatMap((entry) => [
      `${entry.plan.dag.name} (${entry.file}): ${entry.trigger.expression} in ${entry.trigger.timezone}, ` +
      `catch-up ${entry.trigger.catchUp}, overlap ${entry.trigger.overlap}; next:`,
      ...Scheduler.upcoming(entry.trigger, now, 3).map(({ key, slot }) => `  ${key}  (${slot.toISOString()})`)
    ])
    yield* print(lines.join("\n"))
    if (input.list) return
    const stop = {
      graceful: Deferred.makeUnsafe<void>(),
      now: Deferred.makeUnsafe<void>()
    }
    const unregister = Runtime.onSignal((count) => {
      Deferred.doneUnsafe(count === 1 ? stop.graceful : stop.now, Effect.void)
      return true
    })
    const audited = yield* Effect.forEach(entries, (entry) =>
      Effect.map(Audit.collect(entry.file, version), (audit) => ({ ...entry, audit })))
    const schedule = (fire: Scheduler.Options["fire"]) =>
      uiFlags.withUi(input, Scheduler.run(audited, {
        concurrency: (plan) => runServices.concurrency(input, plan),
        failureMode: input.failureMode,
        maxCatchUp: input.maxCatchUp,
        grace,
        runnerVersion: version,
        ...(fire === undefined ? {} : { fire })
      }, stop).pipe(
        runServices.provide(input, input.logFormat),
        Effect.ensuring(Effect.sync(unregister))
      ))
    const stopped = input.cluster ? yield* inCluster(input, schedule) : yield* schedule(undefined)
    if (!stopped.drained) return yield* new SchedulerInterrupted()
  })

/**
 * `--cluster`: the scheduler fires each slot as a cluster run (cluster/Submit.ts, not followed: its line says how it
 * ended), through a client-only cluster member kept for the daemon's life. The cluster modules are loaded only now.
 */
const inCluster = <A, E, R>(
  input: runServices.Input & { readonly ui: boolean },
  schedule: (fire: Scheduler.Options["fire"]) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const url = yield* requirePostgres(input.journal, "runner schedule --cluster")
    if (input.ui) return yield* new InvalidOption({ where: "--cluster", reason: "cannot be combined with --ui" })
    const [Settings, Engine, Submit] = yield* Effect.promise(() =>
      Promise.all([import("../cluster/Settings.ts"), import("../cluster/Engine.ts"), import("../cluster/Submit.ts")])
    )
    const settings = yield* Settings.resolve({ lease: Option.none(), grace: Option.none() })
    const silent = Reporter.Reporter.of({ event: () => Effect.void, log: () => {} })
    return yield* Effect.gen(function*() {
      const context = yield* Effect.context<WorkflowEngine.WorkflowEngine | SqlClient.SqlClient>()
      const fire = (entry: Scheduler.Entry, key: string) =>
        Submit.submit({
          dag: entry.plan.dag.name,
          jobs: [],
          key,
          force: false,
          concurrency: runServices.concurrency(input, entry.plan),
          failureMode: input.failureMode,
          trigger: "schedule",
          audit: entry.audit ?? {},
          follow: false
        }).pipe(
          Effect.map((outcome) => {
            switch (outcome._tag) {
              case "Finished":
                return `cluster run ${outcome.runId} ${outcome.status}`
              case "AlreadyDone":
              case "AlreadySucceeded":
                return `already succeeded in run ${outcome.runId}; nothing to do`
              case "Error":
                return `not started: ${outcome.message}`
            }
          }),
          Effect.catch((error) => Effect.succeed(`failed to submit: ${error.message}`)),
          Effect.provideContext(context),
          Effect.provideService(Reporter.Reporter, silent)
        )
      return yield* schedule(fire)
    }).pipe(
      Effect.provide(Engine.layerClient(url, settings)),
      Effect.mapError((error) =>
        error instanceof InvalidOption || error instanceof InFile || error instanceof SchedulerInterrupted
          ? error
          : new InFile({
            file: Dialect.redact(url),
            error: new InvalidOption({ where: "journal", reason: (error as { message?: string })?.message ?? String(error) })
          })
      )
    )
  })

export const command = Command.make("schedule", flags, handler).pipe(
  Command.withDescription("Run the scheduled DAGs of task files at their times (a daemon; SIGTERM stops it gracefully)")
)
