/**
 * What `runner <file>` (and `runner ws`) and `runner schedule` both run with, written once: the flags they share and
 * the services a run needs — the Reporter, the journal (whose own log lines the Reporter shows), the job logger, the
 * observers the flags ask for, and the ConfigProvider jobs' config is read from.
 */
import * as Flag from "effect/cli/Flag"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as References from "effect/References"
import type * as HttpClient from "effect/http/HttpClient"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import type * as Dag from "../../Dag.ts"
import type * as Plan from "../Plan.ts"
import { InvalidOption } from "../../Errors.ts"
import * as Environment from "../Environment.ts"
import * as Journal from "../Journal.ts"
import * as Reporter from "../reporter/Reporter.ts"
import * as RunLogger from "../RunLogger.ts"
import * as Runtime from "../runtime/Runtime.ts"
import type * as RunEvent from "../RunEvent.ts"
import * as Dialect from "../sql/Dialect.ts"
import { journalFlag, journalPath } from "./common.ts"
import { InFile } from "./exit.ts"
import * as observers from "./observers.ts"

/** `--concurrency N`, as a run and the scheduler take it. */
const concurrencyFlag = Flag.Int("concurrency").pipe(
  Flag.withDescription("at most N jobs at once per run (default: the DAG's setting, else the CPU count)"),
  Flag.optional
)

/** The flags of every command that runs DAGs (with `observers.flags`). */
export const flags = {
  concurrency: concurrencyFlag,
  failureMode: Flag.Literals("failure-mode", ["no-new", "kill", "continue"]).pipe(
    Flag.withDescription(
      "when a critical job fails: no-new (default) lets running jobs finish and starts no more; kill interrupts them; " +
        "continue runs every job whose needs succeeded"
    ),
    Flag.withDefault("no-new" as const)
  ),
  journal: journalFlag,
  durability: Flag.Literals("durability", ["full", "normal"]).pipe(
    Flag.withDescription(
      "full (default): every commit reaches the disk; normal: faster, survives a crash of the runner but not of the machine"
    ),
    Flag.withDefault("full" as const)
  ),
  envFile: Flag.String("env-file").pipe(
    Flag.withDescription("read config variables from this dotenv file too (variables already set in the environment win)"),
    Flag.optional
  )
}

/** The values of `flags`, as the commands receive them. */
export interface Input extends observers.Input {
  readonly concurrency: Option.Option<number>
  readonly failureMode: RunEvent.FailureMode
  readonly journal: Option.Option<string>
  readonly durability: "full" | "normal"
  readonly envFile: Option.Option<string>
}

/** A run's concurrency: the flag, else the DAG's setting, else the CPU count. */
export const concurrency = (input: Input, plan: Plan.Plan): number =>
  Option.getOrUndefined(input.concurrency) ?? plan.dag.concurrency ?? Runtime.cpuCount()

/** What a run is given by `provide` (besides its observers and ConfigProvider, which are references). */
export type Services = Reporter.Reporter | Journal.Journal | HttpClient.HttpClient

/**
 * Provides the services of runs started from the command line, reported in `format`. Bad observer flags or env file
 * fail before anything runs; a journal that cannot be opened or written fails as an error of its file.
 */
export const provide = (input: Input, format: Reporter.Format, output: Reporter.Output = process.stdout) =>
<A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<
  A,
  Exclude<E, Journal.JournalError> | InvalidOption | InFile,
  Exclude<R, Services> | ChildProcessSpawner.ChildProcessSpawner
> => {
  const file = journalPath(input.journal)
  const reporter = Reporter.layer({ format, output, buffered: true })
  // Opening a journal migrates it, and Effect's migrator logs "Running migration" at Debug (--log-level debug):
  // through the run's Reporter (the same layer, so the same instance) those lines are JSON lines in json mode too.
  const journal = journalLayer(file, input.durability).pipe(Layer.provide(reporterLogger), Layer.provide(reporter))
  const services = Layer.mergeAll(RunLogger.layer, observers.layer(input), configLayer(input.envFile), httpClient).pipe(
    Layer.provideMerge(Layer.mergeAll(reporter, journal))
  )
  return effect.pipe(
    Effect.provide(services),
    Effect.mapError((error) =>
      error instanceof Journal.JournalError
        ? new InFile({ file: Dialect.redact(file), error: new InvalidOption({ where: "journal", reason: error.message }) })
        : error as Exclude<E, Journal.JournalError> | InvalidOption
    )
  )
}

/**
 * The HTTP client every job may use without a layer of its own: Effect's fetch client (Node, Bun and Deno all have
 * fetch). Imported when a run starts, not when the CLI does: ~10 ms of module loading other commands do not pay.
 */
const httpClient = Layer.unwrap(Effect.map(Effect.promise(() => import("effect/http/FetchHttpClient")), (m) => m.layer))

/**
 * The journal layer for a path ("none": in memory, nothing kept; a postgres:// URL: that database). The SQL journal's
 * modules (effect/sql, the migrations) are loaded only when a run keeps a journal.
 */
const journalLayer = (path: string, durability: "full" | "normal"): Layer.Layer<Journal.Journal, Journal.JournalError> =>
  path === "none" ? Journal.layerMemory : Layer.unwrap(Effect.map(
    Effect.promise(() => import("../sql/SqlJournal.ts")),
    (SqlJournal) =>
      Dialect.isPostgresUrl(path)
        ? SqlJournal.layerPostgres(path)
        : SqlJournal.layerSqlite({ filename: path, durability })
  ))

/** The ConfigProvider jobs' config is resolved with: the environment, the env file, and NAME_FILE files. */
const configLayer = (envFile: Option.Option<string>): Layer.Layer<never, InvalidOption> =>
  Layer.effect(ConfigProvider.ConfigProvider)(
    Environment.provider({ env: process.env, envFile: Option.getOrUndefined(envFile) })
  )

/** A logger for the runner's own lines (no job): to the Reporter, with the log's annotations as `key=value`. */
const reporterLogger: Layer.Layer<never, never, Reporter.Reporter> = Layer.unwrap(Effect.map(
  Effect.service(Reporter.Reporter),
  (reporter) =>
    Logger.layer([Logger.make<unknown, void>(({ date, fiber, logLevel, message }) => {
      const annotations = Object.entries(fiber.getRef(References.CurrentLogAnnotations))
        .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
      const parts = (Array.isArray(message) ? message : [message]).map((m) => typeof m === "string" ? m : JSON.stringify(m))
      reporter.log({
        at: date.getTime(),
        level: Reporter.levelOf(logLevel),
        message: [...parts, ...annotations].join(" "),
        jobId: undefined,
        attempt: undefined
      })
    })])
))
