/** `runner <file> [job ...]`: runs a DAG (or the named jobs and what they need), or prints its plan with --dry-run. */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as FileSystem from "effect/FileSystem"
import type * as Path from "effect/Path"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Dag from "../../Dag.ts"
import type * as Plan from "../Plan.ts"
import { InvalidOption } from "../../Errors.ts"
import * as Audit from "../Audit.ts"
import type * as Journal from "../Journal.ts"
import type * as Reporter from "../reporter/Reporter.ts"
import * as Run from "../Run.ts"
import type * as RunEvent from "../RunEvent.ts"
import * as Dialect from "../sql/Dialect.ts"
import { journalPath, loadPlan, print, requirePositive } from "./common.ts"
import { ClusterRunLocked, ClusterRunStopped, type Failure, InFile, RunFailed, RunInterrupted } from "./exit.ts"
import * as observers from "./observers.ts"
import * as uiFlags from "./uiFlags.ts"
import * as runServices from "./runServices.ts"
import * as Startup from "../startup.ts"
import { version } from "./version.ts"

export const flags = {
  file: Argument.String("file").pipe(Argument.withDescription("the task file, e.g. tasks/nightly.ts")),
  jobs: Argument.String("job").pipe(
    Argument.withDescription("run only these jobs and the jobs they need"),
    Argument.variadic()
  ),
  ...runServices.flags,
  dryRun: Flag.Boolean("dry-run").pipe(
    Flag.withDescription(
      "print the plan (levels, retries, timeouts, resources) and, for jobs with `cache`, whether each would run (and " +
        "why) or reuse an earlier success; run nothing, write nothing"
    ),
    Flag.withDefault(false)
  ),
  logFormat: Flag.Literals("log-format", ["pretty", "plain", "json"]).pipe(
    Flag.withDescription("pretty (default on a terminal), plain (default otherwise) or json lines"),
    Flag.optional
  ),
  resume: Flag.String("resume").pipe(
    Flag.withDescription("resume the latest unfinished run of this DAG, or the run with this id (--resume <runId>)"),
    Flag.withOptionalValue("latest"),
    Flag.optional
  ),
  key: Flag.String("key").pipe(
    Flag.withDescription("idempotent run key: creates run K, resumes it if unfinished, does nothing if it succeeded"),
    Flag.optional
  ),
  force: Flag.String("force").pipe(
    Flag.withDescription(
      "reuse no earlier success of jobs with `cache` (--force), or only of these jobs (--force=build,test); " +
        "with --key: run again even if the key's run already succeeded"
    ),
    Flag.withOptionalValue("*"),
    Flag.optional
  ),
  wait: Flag.Boolean("wait").pipe(
    Flag.withDescription("if another process is executing this run, wait for it instead of exiting 75"),
    Flag.withDefault(false)
  ),
  cluster: Flag.Boolean("cluster").pipe(
    Flag.withDescription(
      "submit the run to the cluster's workers (runner worker) and follow it here; needs a postgres:// journal. " +
        "Killing this process does not stop the run: --key K --cluster again re-attaches, runner cancel stops it"
    ),
    Flag.withDefault(false)
  ),
  ...observers.flags
}

/** The run flags (all but the file and the jobs), as `runner ws` takes them too. */
export interface RunFlags extends runServices.Input {
  readonly dryRun: boolean
  readonly logFormat: Option.Option<Reporter.Format>
  readonly resume: Option.Option<string>
  readonly key: Option.Option<string>
  /** `--force`: "*" for all jobs, else job ids separated by commas. */
  readonly force: Option.Option<string>
  readonly wait: boolean
}

const handler = (
  input: RunFlags & {
    readonly file: string
    readonly jobs: ReadonlyArray<string>
    readonly ui: boolean
    readonly uiPort: number
    readonly cluster: boolean
  }
) =>
  Startup.marked("command line parsed (the run command's modules loaded)").pipe(
    Effect.andThen(checkFlags(input)),
    // The audit's git calls (two processes at once, none outside a repository: Audit.ts) run while the task file loads
    // and the journal opens, off the cold start's critical path (bench/README.md, issue 18); they are joined in
    // `executePlan`. A cluster run's audit is collected by its submitter (clusterRun).
    Effect.andThen(input.dryRun || input.cluster ? Effect.succeed(undefined) : Effect.forkChild(Audit.collect(input.file, version))),
    Effect.flatMap((audit) =>
      Effect.flatMap(
        Effect.tap(loadPlan(input.file, input.jobs), (plan) => Startup.marked(`task file imported, ${plan.jobs.length} job${plan.jobs.length === 1 ? "" : "s"} planned`)),
        (plan): Effect.Effect<unknown, Failure, FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner> =>
          input.cluster && !input.dryRun
            ? clusterRun(plan, input, input.file)
            : uiFlags.withUi(
              input.dryRun ? { ...input, ui: false } : input,
              executePlan(plan, input, input.file, audit === undefined ? undefined : Fiber.join(audit))
            )
      )
    )
  )

/**
 * `--cluster`: the run is submitted to the cluster's workers and followed here (cluster/Submit.ts), with the same
 * live view, summary and exit code as a local run. The cluster modules are loaded only now.
 */
const clusterRun = (
  plan: Plan.Plan,
  input: RunFlags & { readonly file: string; readonly jobs: ReadonlyArray<string>; readonly ui: boolean },
  auditFile: string
) =>
  Effect.gen(function*() {
    const url = journalPath(input.journal)
    if (!Dialect.isPostgresUrl(url)) {
      return yield* new InvalidOption({
        where: "--cluster",
        reason: `needs a postgres://user@host:port/db journal (--journal or RUNNER_JOURNAL), got ${JSON.stringify(Dialect.redact(url))}`
      })
    }
    if (Option.isSome(input.resume)) {
      return yield* new InvalidOption({ where: "--cluster", reason: "cannot be combined with --resume (--key K --cluster re-attaches to K's run)" })
    }
    if (input.ui) return yield* new InvalidOption({ where: "--cluster", reason: "cannot be combined with --ui" })
    const [Settings, Engine, Submit, Reporter] = yield* Effect.promise(() =>
      Promise.all([
        import("../cluster/Settings.ts"),
        import("../cluster/Engine.ts"),
        import("../cluster/Submit.ts"),
        import("../reporter/Reporter.ts")
      ])
    )
    const settings = yield* Settings.resolve({ lease: Option.none(), grace: Option.none() })
    const format = Option.getOrElse(input.logFormat, () => process.stdout.isTTY ? "pretty" as const : "plain" as const)
    const force = yield* forceOf(input, plan)
    const key = Option.getOrUndefined(input.key)
    const outcome = yield* Submit.submit({
      dag: plan.dag.name,
      jobs: input.jobs,
      key,
      force: force !== undefined,
      concurrency: runServices.concurrency(input, plan),
      failureMode: input.failureMode,
      trigger: "cli",
      audit: yield* Audit.collect(auditFile, version),
      nonCritical: plan.jobs.filter((p) => !p.job.critical).map((p) => p.job.id)
    }).pipe(
      Effect.provide(Layer.merge(
        Reporter.layer({ format, output: process.stdout, buffered: true }),
        Engine.layerClient(url, settings)
      )),
      Effect.mapError((error) =>
        new InFile({
          file: Dialect.redact(url),
          error: new InvalidOption({ where: "journal", reason: (error as { message?: string }).message ?? String(error) })
        })
      )
    )
    switch (outcome._tag) {
      case "AlreadyDone":
      case "AlreadySucceeded":
        return yield* print(`run ${outcome.runId} of ${plan.dag.name} (key ${key ?? "?"}) already succeeded; nothing to do (--force runs it again)`)
      case "Error":
        if (outcome.code === 75) return yield* new ClusterRunLocked({ reason: outcome.message })
        if (outcome.code === 1) return yield* new ClusterRunStopped({ reason: outcome.message })
        return yield* new InFile({ file: auditFile, error: new InvalidOption({ where: "cluster", reason: outcome.message }) })
      case "Finished":
        if (outcome.status === "failed") return yield* new RunFailed({ runId: outcome.runId })
        if (outcome.status === "interrupted") return yield* new RunInterrupted({ runId: outcome.runId })
        return
    }
  })

/** Rejects flag combinations that make no sense, before anything is loaded. */
export const checkFlags = (input: RunFlags): Effect.Effect<void, InvalidOption> =>
  Effect.gen(function*() {
    yield* requirePositive("--concurrency", input.concurrency)
    const resume = Option.getOrUndefined(input.resume)
    const key = Option.getOrUndefined(input.key)
    if (resume !== undefined && key !== undefined) {
      return yield* new InvalidOption({ where: "--resume", reason: "cannot be combined with --key (a key resumes its own run)" })
    }
    // A cron line's failing `$(date ...)` passes "": that key would make every later run the same, finished run.
    if (key !== undefined && key.trim() === "") {
      return yield* new InvalidOption({ where: "--key", reason: `must not be empty or blank, got ${JSON.stringify(key)}` })
    }
    const force = Option.getOrUndefined(input.force)
    if (force !== undefined && force !== "*" && forcedJobs(input).length === 0) {
      return yield* new InvalidOption({ where: "--force", reason: `names no job: ${JSON.stringify(force)} (write --force=build,test)` })
    }
  })

/** `--force`: "all", the job ids it names, or nothing. */
const forcedJobs = (input: RunFlags): ReadonlyArray<string> =>
  Option.match(input.force, {
    onNone: () => [],
    onSome: (value) => value === "*" ? [] : value.split(",").map((id) => id.trim()).filter((id) => id !== "")
  })

/** What `--force` asks of the run: all jobs, the named ones (each must be in the plan), or nothing. */
export const forceOf = (input: RunFlags, plan: Plan.Plan): Effect.Effect<"all" | ReadonlyArray<string> | undefined, InvalidOption> =>
  Effect.suspend((): Effect.Effect<"all" | ReadonlyArray<string> | undefined, InvalidOption> => {
    if (Option.isNone(input.force)) return Effect.succeed(undefined)
    if (input.force.value === "*") return Effect.succeed("all" as const)
    const named = forcedJobs(input)
    const known = new Set(plan.jobs.map((p) => p.job.id))
    const unknown = named.filter((id) => !known.has(id))
    return unknown.length === 0 ? Effect.succeed(named) : Effect.fail(
      new InvalidOption({
        where: "--force",
        reason: `names ${unknown.map((id) => JSON.stringify(id)).join(", ")}, not ${unknown.length === 1 ? "a job" : "jobs"} of this run ` +
          `(jobs: ${[...known].slice(0, 10).join(", ")}${known.size > 10 ? ", ..." : ""})`
      })
    )
  })

/**
 * Runs a plan (or prints it with --dry-run) as the flags say. `auditFile` is the file recorded as the run's task file
 * (its folder's git commit is recorded too); it is also the file a preflight failure is reported against. `audit`:
 * the audit already being collected (started before the plan was loaded), else it is collected here.
 */
export const executePlan = (
  plan: Plan.Plan,
  input: RunFlags,
  auditFile: string,
  audit: Effect.Effect<Audit.Audit, never, never> | undefined = undefined
) =>
  Effect.gen(function*() {
    const resume = Option.getOrUndefined(input.resume)
    const key = Option.getOrUndefined(input.key)
    const concurrency = runServices.concurrency(input, plan)
    const force = yield* forceOf(input, plan)
    if (input.dryRun) {
      // The cache preview (journal queries and all) is loaded by a dry run only: a run does not need it.
      const cachePreview = yield* Effect.promise(() => import("./cachePreview.ts"))
      if (!cachePreview.hasCache(plan)) return yield* print(renderPlan(plan, concurrency, input.failureMode))
      const cache = yield* cachePreview.withView(input.journal, (view) =>
        Effect.map(
          cachePreview.preview(view, plan, {
            envFile: input.envFile,
            force,
            assumeKept: false,
            partition: key === undefined ? undefined : Run.partitionOf({ plan, target: { _tag: "Key", key, force: false } })?.key
          }),
          ({ now, previewed }): CachePreview => {
            const reused = previewed.filter((p) => p.verdict._tag === "Cached").length
            const where = view.file === undefined
              ? "--journal none keeps nothing"
              : view.exists
              ? `journal ${view.file}`
              : `no journal at ${view.file} yet`
            return {
              summary: `cache: ${reused} of ${plan.jobs.length} job${plan.jobs.length === 1 ? "" : "s"} would be reused (${where})`,
              verdicts: previewed.map((p) => cachePreview.describe(p.verdict, now))
            }
          }
        ))
      return yield* print(renderPlan(plan, concurrency, input.failureMode, cache))
    }
    const format = Option.getOrElse(input.logFormat, () => process.stdout.isTTY ? "pretty" as const : "plain" as const)
    const target: Journal.Target = key !== undefined
      ? { _tag: "Key", key, force: force !== undefined }
      : resume !== undefined
      ? { _tag: "Resume", runId: resume === "latest" ? undefined : resume }
      : { _tag: "New" }
    // The audit (git's processes, started before the task file was imported) is joined once the run's services are
    // up: opening the journal and loading its modules overlap git's run instead of waiting behind it.
    const outcome = yield* Startup.marked("journal open, run's services up").pipe(
      Effect.andThen(audit ?? Audit.collect(auditFile, version)),
      Effect.tap(Startup.marked("audit (git) joined")),
      Effect.flatMap((audit) => Run.execute({
        plan,
        target,
        concurrency,
        failureMode: input.failureMode,
        trigger: "cli",
        runnerVersion: version,
        wait: input.wait,
        audit,
        ...(force === undefined ? {} : { force })
      }))
    ).pipe(
      runServices.provide(input, format),
      Effect.catchTag("PreflightFailed", (error) => Effect.fail(new InFile({ file: auditFile, error })))
    )
    switch (outcome._tag) {
      case "AlreadySucceeded":
        return yield* print(`run ${outcome.runId} of ${plan.dag.name} (key ${outcome.key}) already succeeded; nothing to do (--force runs it again)`)
      case "NothingToResume":
        if (outcome.runId === undefined) return yield* print(`no unfinished run of ${plan.dag.name} to resume; nothing to do`)
        return yield* new InvalidOption({
          where: "--resume",
          reason: `no unfinished run ${outcome.runId} of ${plan.dag.name} in ${Dialect.redact(journalPath(input.journal))}`
        })
      case "Finished": {
        const { runId, status } = outcome.result
        if (status === "failed") return yield* new RunFailed({ runId })
        if (status === "interrupted") return yield* new RunInterrupted({ runId })
        return
      }
    }
  })

export const command = Command.make("run", { ...flags, ...uiFlags.flags }, handler).pipe(
  Command.withDescription("Run a task file's DAG, or only the named jobs and what they need (the default command)")
)

/** What --dry-run prints of the cache when a job of the plan has `cache`: a summary, and each job's verdict in the plan's order. */
export interface CachePreview {
  readonly summary: string
  readonly verdicts: ReadonlyArray<string>
}

/**
 * The --dry-run view: what would run, in which order, with which policies; with `cache`, whether each job would run
 * (and why) or reuse an earlier success.
 */
export const renderPlan = (
  plan: Plan.Plan,
  concurrency: number,
  failureMode: RunEvent.FailureMode,
  cache?: CachePreview
): string => {
  const lines = [
    `dag ${plan.dag.name}: ${plan.jobs.length} job${plan.jobs.length === 1 ? "" : "s"} in ${plan.levels.length} ` +
    `level${plan.levels.length === 1 ? "" : "s"}, concurrency ${concurrency}, failure mode ${failureMode}`
  ]
  if (cache !== undefined) lines.push(cache.summary)
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
      const verdict = cache?.verdicts[index]
      if (verdict !== undefined) lines.push(`      → ${verdict}`)
    }
  })
  return lines.join("\n")
}
