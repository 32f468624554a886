/** `runner <file> [job ...]`: runs a DAG (or the named jobs and what they need), or prints its plan with --dry-run. */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Dag from "../Dag.ts"
import { InvalidOption } from "../Errors.ts"
import * as Executor from "../Executor.ts"
import * as Journal from "../Journal.ts"
import * as Reporter from "../Reporter.ts"
import * as Runtime from "../runtime/Runtime.ts"
import type * as RunEvent from "../RunEvent.ts"
import { ExitCode, loadPlan, type Outcome, print, reportSetupError } from "./common.ts"

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
  )
}

type Input = {
  readonly file: string
  readonly jobs: ReadonlyArray<string>
  readonly concurrency: Option.Option<number>
  readonly failureMode: RunEvent.FailureMode
  readonly dryRun: boolean
  readonly logFormat: Option.Option<Reporter.Format>
}

const handler = (outcome: Outcome) => (input: Input) =>
  Effect.gen(function*() {
    const concurrencyFlag = Option.getOrUndefined(input.concurrency)
    if (concurrencyFlag !== undefined && concurrencyFlag < 1) {
      return yield* new InvalidOption({ where: "--concurrency", reason: `must be a whole number >= 1, got ${concurrencyFlag}` })
    }
    const plan = yield* loadPlan(input.file, input.jobs)
    const concurrency = concurrencyFlag ?? plan.dag.concurrency ?? Runtime.cpuCount()
    if (input.dryRun) return yield* print(renderPlan(plan, concurrency, input.failureMode))
    const format = Option.getOrElse(input.logFormat, () => process.stdout.isTTY ? "pretty" as const : "plain" as const)
    const reporter = Reporter.layer({ format, output: process.stdout })
    const result = yield* Executor.run(plan, { runId: makeRunId(), concurrency, failureMode: input.failureMode }).pipe(
      Effect.provide(Layer.mergeAll(Journal.layerMemory, Reporter.logger.pipe(Layer.provideMerge(reporter))))
    )
    outcome.code = result.status === "succeeded" ? ExitCode.ok : result.status === "failed" ? ExitCode.failed : ExitCode.interrupted
  }).pipe(Effect.catch(reportSetupError(outcome)))

export const command = (outcome: Outcome) =>
  Command.make("run", flags, handler(outcome)).pipe(
    Command.withDescription("Run a task file's DAG, or only the named jobs and what they need (the default command)")
  )

/** Sortable and readable: the start time to the second, then 4 random hex digits. */
const makeRunId = (): string => {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)
  return `${stamp}-${Math.floor(Math.random() * 0x10000).toString(16).padStart(4, "0")}`
}

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
