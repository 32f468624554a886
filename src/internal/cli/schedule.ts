/**
 * `runner schedule <file | dir> ...`: the scheduler daemon. Loads every scheduled DAG, shows the next fire times,
 * then fires each at its slots until SIGTERM/SIGINT (graceful: running runs get --grace to finish; a second signal
 * interrupts them at once). `--list` only shows the next fire times.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Audit from "../Audit.ts"
import { InvalidOption } from "../../Errors.ts"
import * as duration from "../duration.ts"
import * as Reporter from "../Reporter.ts"
import * as RunLogger from "../RunLogger.ts"
import * as Runtime from "../runtime/Runtime.ts"
import * as Scheduler from "../Scheduler.ts"
import {
  configLayer,
  durabilityFlag,
  envFileFlag,
  ExitCode,
  journalFlag,
  journalPath,
  type Outcome,
  print,
  reportedJournalLayer,
  reportSetupError
} from "./common.ts"
import * as scheduled from "./scheduled.ts"
import * as observers from "./observers.ts"
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
  grace: Flag.String("grace").pipe(
    Flag.withDescription("on SIGTERM, how long running runs may take to finish before they are interrupted (default 30s)"),
    Flag.withDefault("30 seconds")
  ),
  concurrency: Flag.Int("concurrency").pipe(
    Flag.withDescription("at most N jobs at once per run (default: the DAG's setting, else the CPU count)"),
    Flag.optional
  ),
  failureMode: Flag.Literals("failure-mode", ["no-new", "kill", "continue"]).pipe(Flag.withDefault("no-new" as const)),
  logFormat: Flag.Literals("log-format", ["plain", "json"]).pipe(
    Flag.withDescription("plain (default) or json lines; runs overlap, so there is no live view"),
    Flag.withDefault("plain" as const)
  ),
  journal: journalFlag,
  durability: durabilityFlag,
  envFile: envFileFlag,
  ...observers.flags
}

const handler = (outcome: Outcome) => (input: observers.Input & {
  readonly targets: ReadonlyArray<string>
  readonly list: boolean
  readonly maxCatchUp: number
  readonly grace: string
  readonly concurrency: Option.Option<number>
  readonly failureMode: "no-new" | "kill" | "continue"
  readonly logFormat: "plain" | "json"
  readonly journal: Option.Option<string>
  readonly durability: "full" | "normal"
  readonly envFile: Option.Option<string>
}) =>
  Effect.gen(function*() {
    if (input.maxCatchUp < 1) {
      return yield* new InvalidOption({ where: "--max-catch-up", reason: `must be a whole number >= 1, got ${input.maxCatchUp}` })
    }
    const concurrencyFlag = Option.getOrUndefined(input.concurrency)
    if (concurrencyFlag !== undefined && concurrencyFlag < 1) {
      return yield* new InvalidOption({ where: "--concurrency", reason: `must be a whole number >= 1, got ${concurrencyFlag}` })
    }
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
    const reporter = Reporter.layer({ format: input.logFormat, output: process.stdout, buffered: true })
    const services = Layer.mergeAll(RunLogger.layer, observers.layer(input), configLayer(input.envFile)).pipe(Layer.provideMerge(Layer.mergeAll(
      reporter,
      reportedJournalLayer(journalPath(input.journal), input.durability, reporter)
    )))
    const audited = yield* Effect.forEach(entries, (entry) =>
      Effect.map(Audit.collect(entry.file, version), (audit) => ({ ...entry, audit })))
    const stopped = yield* Scheduler.run(audited, {
      concurrency: (plan) => concurrencyFlag ?? plan.dag.concurrency ?? Runtime.cpuCount(),
      failureMode: input.failureMode,
      maxCatchUp: input.maxCatchUp,
      grace,
      runnerVersion: version
    }, stop).pipe(
      Effect.provide(services),
      Effect.ensuring(Effect.sync(unregister)),
      Effect.catchTag("JournalError", (error) =>
        Effect.fail({ file: journalPath(input.journal), error: new InvalidOption({ where: "journal", reason: error.message }) }))
    )
    outcome.code = stopped.drained ? ExitCode.ok : ExitCode.interrupted
  }).pipe(Effect.catch(reportSetupError(outcome)))

export const command = (outcome: Outcome) =>
  Command.make("schedule", flags, handler(outcome)).pipe(
    Command.withDescription("Run the scheduled DAGs of task files at their times (a daemon; SIGTERM stops it gracefully)")
  )
