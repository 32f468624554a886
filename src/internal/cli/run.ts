/** `runner <file> [job ...]`: runs a DAG (or the named jobs and what they need), or prints its plan with --dry-run. */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Dag from "../../Dag.ts"
import { InvalidOption } from "../../Errors.ts"
import * as Audit from "../Audit.ts"
import * as Journal from "../Journal.ts"
import * as Reporter from "../Reporter.ts"
import * as Run from "../Run.ts"
import * as RunLogger from "../RunLogger.ts"
import * as Runtime from "../runtime/Runtime.ts"
import type * as RunEvent from "../RunEvent.ts"
import {
  configLayer,
  durabilityFlag,
  envFileFlag,
  ExitCode,
  exitCodeOf,
  journalFlag,
  journalPath,
  loadPlan,
  type Outcome,
  print,
  reportedJournalLayer,
  reportSetupError
} from "./common.ts"
import * as observers from "./observers.ts"
import { version } from "./version.ts"

export const flags = {
  file: Argument.String("file").pipe(Argument.withDescription("the task file, e.g. tasks/nightly.ts")),
  jobs: Argument.String("job").pipe(
    Argument.withDescription("run only these jobs and the jobs they need"),
    Argument.variadic()
  ),
  concurrency: Flag.Int("concurrency").pipe(
    Flag.withDescription("at most N jobs at once (default: the DAG's setting, else the CPU count)"),
    Flag.optional
  ),
  failureMode: Flag.Literals("failure-mode", ["no-new", "kill", "continue"]).pipe(
    Flag.withDescription(
      "when a critical job fails: no-new (default) lets running jobs finish and starts no more; kill interrupts them; " +
        "continue runs every job whose needs succeeded"
    ),
    Flag.withDefault("no-new" as const)
  ),
  dryRun: Flag.Boolean("dry-run").pipe(
    Flag.withDescription("print the plan (levels, retries, timeouts, resources); run nothing"),
    Flag.withDefault(false)
  ),
  logFormat: Flag.Literals("log-format", ["pretty", "plain", "json"]).pipe(
    Flag.withDescription("pretty (default on a terminal), plain (default otherwise) or json lines"),
    Flag.optional
  ),
  journal: journalFlag,
  durability: durabilityFlag,
  envFile: envFileFlag,
  resume: Flag.String("resume").pipe(
    Flag.withDescription("resume the latest unfinished run of this DAG, or the run with this id (--resume <runId>)"),
    Flag.withOptionalValue("latest"),
    Flag.optional
  ),
  key: Flag.String("key").pipe(
    Flag.withDescription("idempotent run key: creates run K, resumes it if unfinished, does nothing if it succeeded"),
    Flag.optional
  ),
  force: Flag.Boolean("force").pipe(
    Flag.withDescription("with --key: run again even if the key's run already succeeded"),
    Flag.withDefault(false)
  ),
  wait: Flag.Boolean("wait").pipe(
    Flag.withDescription("if another process is executing this run, wait for it instead of exiting 75"),
    Flag.withDefault(false)
  ),
  ...observers.flags
}

type Input = observers.Input & {
  readonly file: string
  readonly jobs: ReadonlyArray<string>
  readonly concurrency: Option.Option<number>
  readonly failureMode: RunEvent.FailureMode
  readonly dryRun: boolean
  readonly logFormat: Option.Option<Reporter.Format>
  readonly journal: Option.Option<string>
  readonly durability: "full" | "normal"
  readonly envFile: Option.Option<string>
  readonly resume: Option.Option<string>
  readonly key: Option.Option<string>
  readonly force: boolean
  readonly wait: boolean
}

const handler = (outcome: Outcome) => (input: Input) =>
  checkFlags(input).pipe(
    Effect.andThen(loadPlan(input.file, input.jobs)),
    Effect.flatMap((plan) => executePlan(plan, input, input.file)),
    Effect.map((code) => {
      outcome.code = code
    }),
    Effect.catch(reportSetupError(outcome))
  )

/** The run flags (all but the file and the jobs), as `runner ws` takes them too. */
export type RunFlags = Omit<Input, "file" | "jobs">

/** Rejects flag combinations that make no sense, before anything is loaded. */
export const checkFlags = (input: RunFlags): Effect.Effect<void, InvalidOption> =>
  Effect.gen(function*() {
    const concurrencyFlag = Option.getOrUndefined(input.concurrency)
    if (concurrencyFlag !== undefined && concurrencyFlag < 1) {
      return yield* new InvalidOption({ where: "--concurrency", reason: `must be a whole number >= 1, got ${concurrencyFlag}` })
    }
    const resume = Option.getOrUndefined(input.resume)
    const key = Option.getOrUndefined(input.key)
    if (resume !== undefined && key !== undefined) {
      return yield* new InvalidOption({ where: "--resume", reason: "cannot be combined with --key (a key resumes its own run)" })
    }
    // A cron line's failing `$(date ...)` passes "": that key would make every later run the same, finished run.
    if (key !== undefined && key.trim() === "") {
      return yield* new InvalidOption({ where: "--key", reason: `must not be empty or blank, got ${JSON.stringify(key)}` })
    }
    if (input.force && key === undefined) {
      return yield* new InvalidOption({ where: "--force", reason: "only applies with --key" })
    }
  })

/**
 * Runs a plan (or prints it with --dry-run) as the flags say, and returns the exit code. `auditFile` is the file
 * recorded as the run's task file (its folder's git commit is recorded too).
 */
export const executePlan = (plan: Dag.Plan, input: RunFlags, auditFile: string) =>
  Effect.gen(function*() {
    const concurrencyFlag = Option.getOrUndefined(input.concurrency)
    const resume = Option.getOrUndefined(input.resume)
    const key = Option.getOrUndefined(input.key)
    const concurrency = concurrencyFlag ?? plan.dag.concurrency ?? Runtime.cpuCount()
    if (input.dryRun) {
      yield* print(renderPlan(plan, concurrency, input.failureMode))
      return ExitCode.ok
    }
    const format = Option.getOrElse(input.logFormat, () => process.stdout.isTTY ? "pretty" as const : "plain" as const)
    const target: Journal.Target = key !== undefined
      ? { _tag: "Key", key, force: input.force }
      : resume !== undefined
      ? { _tag: "Resume", runId: resume === "latest" ? undefined : resume }
      : { _tag: "New" }
    const journalFile = journalPath(input.journal)
    const execute = Effect.gen(function*() {
      const outcome = yield* Run.execute({
        plan,
        target,
        concurrency,
        failureMode: input.failureMode,
        trigger: "cli",
        runnerVersion: version,
        wait: input.wait,
        audit: yield* Audit.collect(auditFile, version)
      })
      switch (outcome._tag) {
        case "AlreadySucceeded":
          yield* print(`run ${outcome.runId} of ${plan.dag.name} (key ${outcome.key}) already succeeded; nothing to do (--force runs it again)`)
          return ExitCode.ok
        case "NothingToResume":
          if (outcome.runId === undefined) {
            yield* print(`no unfinished run of ${plan.dag.name} to resume; nothing to do`)
            return ExitCode.ok
          }
          return yield* new InvalidOption({ where: "--resume", reason: `no unfinished run ${outcome.runId} of ${plan.dag.name} in ${journalFile}` })
        case "Finished":
          return exitCodeOf(outcome.result.status)
      }
    })
    const reporter = Reporter.layer({ format, output: process.stdout, buffered: true })
    const services = Layer.mergeAll(RunLogger.layer, observers.layer(input), configLayer(input.envFile)).pipe(
      Layer.provideMerge(Layer.mergeAll(reporter, reportedJournalLayer(journalFile, input.durability, reporter)))
    )
    return yield* execute.pipe(
      Effect.provide(services),
      Effect.catchTag("RunLocked", (locked) =>
        Effect.as(Effect.sync(() => process.stderr.write(`runner: ${locked.message}\n`)), ExitCode.locked)),
      // This runner was stopped or blocked past the lock's staleness window and another one took the run over.
      Effect.catchTag("LockLost", (lost) =>
        Effect.as(Effect.sync(() => process.stderr.write(`runner: ${lost.message}\n`)), ExitCode.locked)),
      Effect.catchTag("JournalError", (error) =>
        Effect.fail({ file: journalFile, error: new InvalidOption({ where: "journal", reason: error.message }) })),
      Effect.catchTag("PreflightFailed", (error) => Effect.fail({ file: auditFile, error })),
      // The DAG's layer failed to build: the run failed (exit 1) before any job started.
      Effect.catchTag("LayerFailed", (error) =>
        Effect.as(Effect.sync(() => process.stderr.write(`runner: ${error.message}\n`)), ExitCode.failed))
    )
  })

export const command = (outcome: Outcome) =>
  Command.make("run", flags, handler(outcome)).pipe(
    Command.withDescription("Run a task file's DAG, or only the named jobs and what they need (the default command)")
  )

/** The --dry-run view: what would run, in which order, with which policies. */
export const renderPlan = (plan: Dag.Plan, concurrency: number, failureMode: RunEvent.FailureMode): string => {
  const lines = [
    `dag ${plan.dag.name}: ${plan.jobs.length} job${plan.jobs.length === 1 ? "" : "s"} in ${plan.levels.length} ` +
    `level${plan.levels.length === 1 ? "" : "s"}, concurrency ${concurrency}, failure mode ${failureMode}`
  ]
  if (plan.resources.length > 0) {
    lines.push("resources:")
    for (const r of plan.resources) {
      const limits = [
        r.concurrency === undefined ? undefined : `concurrency ${r.concurrency}`,
        r.rate === undefined ? undefined : `${r.rate.limit} per ${Duration.format(r.rate.per)}`
      ].filter((s) => s !== undefined)
      lines.push(`  ${r.name}: ${limits.length > 0 ? limits.join(", ") : "unlimited"}`)
    }
  }
  plan.levels.forEach((level, i) => {
    lines.push(`level ${i}:`)
    for (const index of level) {
      const { deps, job } = plan.jobs[index]!
      const policies = [
        job.kind === "shell" ? `runs ${job.command}` : undefined,
        deps.length === 0 ? undefined : `needs ${deps.map((d) => plan.jobs[d.index]!.job.id).join(", ")}`,
        job.retry === undefined ? "no retry" : job.retry.description,
        job.timeout === undefined ? undefined : `timeout ${Duration.format(job.timeout)} per attempt`,
        job.uses.length === 0 ? undefined : `uses ${job.uses.map((r) => r.name).join(", ")}`,
        job.critical ? undefined : "non-critical"
      ].filter((s) => s !== undefined)
      lines.push(`  ${job.id}${job.description === undefined ? "" : ` — ${job.description}`}`)
      lines.push(`      ${policies.join("; ")}`)
    }
  })
  return lines.join("\n")
}
