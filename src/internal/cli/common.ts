/** What every command shares: exit codes, loading and planning a task file, and printing setup errors. */
import * as Flag from "effect/cli/Flag"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Journal from "../Journal.ts"
import * as SqlJournal from "../sql/SqlJournal.ts"
import * as Dag from "../../Dag.ts"
import * as Environment from "../Environment.ts"
import type { InvalidOption } from "../../Errors.ts"
import type { SetupError } from "../SetupErrors.ts"
import * as Loader from "../Loader.ts"
import * as Reporter from "../Reporter.ts"

/** The documented exit codes. */
export const ExitCode = {
  /** Every critical job succeeded (or the command did what it was asked). */
  ok: 0,
  /** A critical job failed or was interrupted by the failure mode. */
  failed: 1,
  /** Bad usage, an invalid task file or an unusable journal; nothing ran. */
  usage: 2,
  /**
   * Another process is executing the same run (same DAG and key, or same run id); try again later or use --wait. Also:
   * this process lost the run's lock to another one while it was stopped or blocked, and stopped.
   */
  locked: 75,
  /** Interrupted by SIGINT or SIGTERM. */
  interrupted: 130
} as const

/** The exit code for how a run ended. */
export const exitCodeOf = (status: "succeeded" | "failed" | "interrupted"): number =>
  status === "succeeded" ? ExitCode.ok : status === "failed" ? ExitCode.failed : ExitCode.interrupted

/** The command's result, set by its handler and read by main. */
export interface Outcome {
  code: number
}

/** A setup error, with the task file it concerns when known. */
export interface FileError {
  readonly file: string | undefined
  readonly error: SetupError
}

/** Loads a task file and plans its DAG (or the named jobs and what they need). */
export const loadPlan = (file: string, jobs: ReadonlyArray<string> = []): Effect.Effect<Dag.Plan, FileError> =>
  Effect.flatMap(Loader.load(file), (loaded) => Dag.plan(loaded.dag, jobs)).pipe(
    Effect.mapError((error) => ({ file, error }))
  )

/** Prints a setup error to stderr, naming the file, and sets exit code 2. */
export const reportSetupError = (outcome: Outcome) => (failure: FileError | SetupError) =>
  Effect.sync(() => {
    const { error, file } = "error" in failure ? failure : { error: failure, file: undefined }
    const message = file === undefined || error.message.startsWith(file) ? error.message : `${file}: ${error.message}`
    process.stderr.write(`runner: ${message}\n`)
    outcome.code = ExitCode.usage
  })

/** Writes to stdout. */
export const print = (text: string) => Effect.sync(() => process.stdout.write(text.endsWith("\n") ? text : text + "\n"))

/** `--journal PATH`: where runs are recorded. */
export const journalFlag = Flag.String("journal").pipe(
  Flag.withDescription(
    "the journal file (default: $RUNNER_JOURNAL, else .runner/journal.db in the current directory; none: keep nothing)"
  ),
  Flag.optional
)

/** `--durability full|normal`. */
export const durabilityFlag = Flag.Literals("durability", ["full", "normal"]).pipe(
  Flag.withDescription("full (default): every commit reaches the disk; normal: faster, survives a crash of the runner but not of the machine"),
  Flag.withDefault("full" as const)
)

/** The journal path: the flag, else RUNNER_JOURNAL, else .runner/journal.db (relative to the current directory). */
export const journalPath = (flag: Option.Option<string>): string =>
  Option.getOrUndefined(flag) || process.env["RUNNER_JOURNAL"] || ".runner/journal.db"

/** The journal layer for a path ("none": in memory, nothing kept). */
export const journalLayer = (path: string, durability: "full" | "normal"): Layer.Layer<Journal.Journal, Journal.JournalError> =>
  path === "none" ? Journal.layerMemory : SqlJournal.layerSqlite({ filename: path, durability })

/**
 * The journal layer of a run, whose own log lines are shown by the run's Reporter like the run's other lines: opening
 * a journal migrates it, and Effect's migrator logs "Running migration" at Debug (seen with --log-level debug). Through
 * the Reporter they are JSON lines in json mode, where stdout holds nothing else. The Reporter layer given is the one
 * the run uses (layers are built once per reference, so it is shared).
 */
export const reportedJournalLayer = (
  path: string,
  durability: "full" | "normal",
  reporter: Layer.Layer<Reporter.Reporter>
): Layer.Layer<Journal.Journal, Journal.JournalError> =>
  journalLayer(path, durability).pipe(Layer.provide(reporterLogger), Layer.provide(reporter))

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
        level: logLevel === "Trace" ? "trace" : logLevel === "Debug" ? "debug" : logLevel === "Warn" ? "warn" :
          logLevel === "Error" ? "error" : logLevel === "Fatal" ? "fatal" : "info",
        message: [...parts, ...annotations].join(" "),
        jobId: undefined,
        attempt: undefined
      })
    })])
))

/** `--env-file FILE`: dotenv-format variables for the jobs' config (the process environment wins). */
export const envFileFlag = Flag.String("env-file").pipe(
  Flag.withDescription("read config variables from this dotenv file too (variables already set in the environment win)"),
  Flag.optional
)

/** The ConfigProvider jobs' config is resolved with: the environment, the env file, and NAME_FILE files. */
export const configLayer = (envFile: Option.Option<string>): Layer.Layer<never, InvalidOption> =>
  Layer.effect(ConfigProvider.ConfigProvider)(
    Environment.provider({ env: process.env, envFile: Option.getOrUndefined(envFile) })
  )
