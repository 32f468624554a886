/**
 * The errors users and operators see. Load, plan and usage errors stop the runner with exit code 2 before any job
 * runs; job errors (a shell command's exit, a timeout) are typed failures that retries and the journal understand.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

/** A job's shell command exited with a non-zero code. Retryable. */
export class ShellExitError extends Schema.TaggedError<ShellExitError>()("ShellExitError", {
  jobId: Schema.String,
  command: Schema.String,
  exitCode: Schema.Number,
  stderrTail: Schema.Array(Schema.String)
}) {
  override get message(): string {
    const tail = this.stderrTail.length > 0 ? `\n  stderr (last lines):\n    ${this.stderrTail.join("\n    ")}` : ""
    return `${this.command} exited with code ${this.exitCode}${tail}`
  }
}

/** One attempt of a job ran longer than its `timeout`. Retryable, like any typed failure. */
export class JobTimeout extends Schema.TaggedError<JobTimeout>()("JobTimeout", {
  jobId: Schema.String,
  timeout: Schema.String
}) {
  override get message(): string {
    return `attempt timed out after ${this.timeout}`
  }
}

/** A job's output could not be encoded with its `output` Schema, so it cannot be passed on or journaled. */
export class OutputInvalid extends Schema.TaggedError<OutputInvalid>()("OutputInvalid", {
  jobId: Schema.String,
  issue: Schema.String
}) {
  override get message(): string {
    return `output of job "${this.jobId}" does not match its output schema: ${this.issue}`
  }
}

/** A job's output cannot be journaled at all (it is circular, or its encoding threw): the job fails, not retried. */
export class OutputNotJournalable extends Schema.TaggedError<OutputNotJournalable>()("OutputNotJournalable", {
  jobId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `output of job "${this.jobId}" cannot be journaled: ${this.reason}; return plain data, or declare \`output\` with a Schema`
  }
}

/** The task file does not exist or cannot be read. */
export class TaskFileNotFound extends Data.TaggedError("TaskFileNotFound")<{ readonly file: string }> {
  override get message(): string {
    return `${this.file}: no such task file`
  }
}

/** A folder was given where a task file is expected; its task files are listed so the user can pick one. */
export class TaskFileIsFolder extends Data.TaggedError("TaskFileIsFolder")<{
  readonly file: string
  /** The folder's task files (`*.ts`, not recursive), as paths to give the runner. */
  readonly taskFiles: ReadonlyArray<string>
}> {
  override get message(): string {
    return this.taskFiles.length === 0
      ? `${this.file}: is a folder, not a task file, and holds no task files (*.ts)`
      : `${this.file}: is a folder, not a task file; give one of its task files:\n  ${this.taskFiles.join("\n  ")}`
  }
}

/** The task file failed to load: a syntax error, a failed import, or an exception thrown at module level. */
export class TaskFileInvalid extends Data.TaggedError("TaskFileInvalid")<{
  readonly file: string
  readonly location: string | undefined
  readonly reason: string
}> {
  override get message(): string {
    return `${this.location ?? this.file}: ${this.reason}`
  }
}

/** The task file exports neither a Dag (as default export) nor any job. */
export class NothingToRun extends Data.TaggedError("NothingToRun")<{ readonly file: string }> {
  override get message(): string {
    return `${this.file}: exports no Dag (export default Dag.make(...)) and no jobs (export const x = Job.make(...))`
  }
}

/** Two different jobs use the same id. */
export class DuplicateJobId extends Data.TaggedError("DuplicateJobId")<{
  readonly jobId: string
  readonly places: ReadonlyArray<string>
}> {
  override get message(): string {
    return `job id "${this.jobId}" is defined twice: at ${this.places.join(" and at ")}`
  }
}

/** Jobs depend on each other in a cycle. */
export class CycleDetected extends Data.TaggedError("CycleDetected")<{ readonly path: ReadonlyArray<string> }> {
  override get message(): string {
    return `jobs depend on each other in a cycle: ${this.path.join(" -> ")}`
  }
}

/** A job's `needs` names something that is not a job of the DAG. */
export class MissingDependency extends Data.TaggedError("MissingDependency")<{
  readonly jobId: string
  readonly need: string
  readonly found: string
}> {
  override get message(): string {
    return `job "${this.jobId}" needs "${this.need}", which is not a job (found ${this.found}); ` +
      `check the import of "${this.need}" (an import cycle between task files leaves it undefined)`
  }
}

/** A job named on the command line is not in the DAG. */
export class UnknownJob extends Data.TaggedError("UnknownJob")<{
  readonly names: ReadonlyArray<string>
  readonly available: ReadonlyArray<string>
}> {
  override get message(): string {
    const shown = this.available.slice(0, 20).join(", ") + (this.available.length > 20 ? ", ..." : "")
    return `unknown job${this.names.length > 1 ? "s" : ""} ${this.names.map((n) => `"${n}"`).join(", ")}; ` +
      `the DAG has: ${shown}`
  }
}

/** A job definition or command-line value is invalid (bad duration, zero concurrency, ...). */
export class InvalidOption extends Data.TaggedError("InvalidOption")<{
  readonly where: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.where}: ${this.reason}`
  }
}

/** Everything that stops the runner before a job runs (exit code 2). */
/** The preflight found problems (config missing or malformed, inputs missing): all of them, each naming its job. */
export class PreflightFailed extends Data.TaggedError("PreflightFailed")<{
  readonly dag: string
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    const n = this.problems.length
    return `dag "${this.dag}": ${n} problem${n === 1 ? "" : "s"} found before the run; nothing ran:\n  ` +
      this.problems.join("\n  ")
  }
}

/** The DAG's `layer` failed to build: the run fails before any job starts. */
export class LayerFailed extends Data.TaggedError("LayerFailed")<{
  readonly dag: string
  readonly reason: string
}> {
  override get message(): string {
    return `dag "${this.dag}": its layer failed to build; no job ran: ${this.reason}`
  }
}

export type SetupError =
  | TaskFileNotFound
  | TaskFileIsFolder
  | PreflightFailed
  | TaskFileInvalid
  | NothingToRun
  | DuplicateJobId
  | CycleDetected
  | MissingDependency
  | UnknownJob
  | InvalidOption
  | WorkspaceNotFound
  | WorkspaceInvalid
  | UnknownPackage
  | AffectedUnavailable

/** An operator command (history, show, logs, prune, doctor) was pointed at a journal file that does not exist. */
export class JournalNotFound extends Data.TaggedError("JournalNotFound")<{ readonly path: string }> {
  override get message(): string {
    return `no journal at ${this.path} (nothing was created; choose the file with --journal PATH or RUNNER_JOURNAL)`
  }
}

/** No run with this id in the journal. */
export class RunNotFound extends Data.TaggedError("RunNotFound")<{ readonly runId: string; readonly journal: string }> {
  override get message(): string {
    return `no run ${this.runId} in ${this.journal} (runner history lists the runs)`
  }
}

/** A job named on the command line is not a job of the run. */
export class JobNotInRun extends Data.TaggedError("JobNotInRun")<{
  readonly runId: string
  readonly jobId: string
  readonly available: ReadonlyArray<string>
}> {
  override get message(): string {
    return `run ${this.runId} has no job "${this.jobId}"; its jobs: ${this.available.join(", ") || "none"}`
  }
}

/** An operator command could not open, migrate or read the journal (not a database, damaged, locked too long). */
export class JournalUnreadable extends Data.TaggedError("JournalUnreadable")<{ readonly path: string; readonly reason: string }> {
  override get message(): string {
    return `journal ${this.path}: ${this.reason}`
  }
}

/** A call or job attempt was refused because the circuit breaker of its resource is open. Retryable, like any typed failure. */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  resource: Schema.String,
  /** How long until the breaker lets a probe call through; 0 while a probe is running. */
  retryInMillis: Schema.Number
}) {
  override get message(): string {
    const when = this.retryInMillis > 0
      ? `a probe call may go through in ${Duration.format(Duration.millis(this.retryInMillis))}`
      : "a probe call is testing it now"
    return `resource "${this.resource}" is failing: its circuit breaker is open, so calls fail fast (${when})`
  }
}

/** No workspace root (a package.json with `workspaces`, or a pnpm-workspace.yaml) in this folder or above it. */
export class WorkspaceNotFound extends Data.TaggedError("WorkspaceNotFound")<{ readonly from: string }> {
  override get message(): string {
    return `no workspace in ${this.from} or above it: expected a package.json with "workspaces", or a pnpm-workspace.yaml`
  }
}

/** A workspace pattern (or a package's `effect-runner.tasks` pattern) matches nothing. */
export class WorkspaceGlobEmpty extends Data.TaggedError("WorkspaceGlobEmpty")<{
  readonly pattern: string
  /** Where the pattern comes from: "package.json workspaces", "pnpm-workspace.yaml", a package's manifest. */
  readonly source: string
}> {
  override get message(): string {
    return `${this.source}: pattern "${this.pattern}" matches no ${this.source.includes("effect-runner") ? "file" : "package (a folder with a package.json)"}`
  }
}

/** A workspace manifest cannot be used: not JSON, no `name`, a malformed field. */
export class PackageManifestInvalid extends Data.TaggedError("PackageManifestInvalid")<{
  readonly manifest: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.manifest}: ${this.reason}`
  }
}

/** Two workspace packages have the same name. */
export class PackageNameDuplicate extends Data.TaggedError("PackageNameDuplicate")<{
  readonly name: string
  readonly manifests: ReadonlyArray<string>
}> {
  override get message(): string {
    return `package name "${this.name}" is used twice: by ${this.manifests.join(" and by ")}`
  }
}

/** Workspace packages depend on each other in a cycle. */
export class PackageCycle extends Data.TaggedError("PackageCycle")<{ readonly path: ReadonlyArray<string> }> {
  override get message(): string {
    return `packages depend on each other in a cycle: ${this.path.join(" -> ")}`
  }
}

/** A task file of a workspace package failed to load or to plan. */
export class PackageTaskFileInvalid extends Data.TaggedError("PackageTaskFileInvalid")<{
  readonly pkg: string
  readonly file: string
  readonly reason: string
}> {
  override get message(): string {
    return `package "${this.pkg}", task file ${this.reason.startsWith(this.file) ? this.reason : `${this.file}: ${this.reason}`}`
  }
}

/** One problem of a workspace. */
export type WorkspaceProblem =
  | WorkspaceGlobEmpty
  | PackageManifestInvalid
  | PackageNameDuplicate
  | PackageCycle
  | PackageTaskFileInvalid
  | DuplicateJobId
  | CycleDetected
  | UnknownJob

/** The workspace has problems: all of them, found in one pass; nothing ran. */
export class WorkspaceInvalid extends Data.TaggedError("WorkspaceInvalid")<{
  readonly root: string
  readonly problems: ReadonlyArray<WorkspaceProblem>
}> {
  override get message(): string {
    const n = this.problems.length
    return `workspace ${this.root}: ${n} problem${n === 1 ? "" : "s"}; nothing ran:\n  ` +
      this.problems.map((p) => p.message.replace(/\n/g, "\n    ")).join("\n  ")
  }
}

/** A `--filter` names no workspace package. */
export class UnknownPackage extends Data.TaggedError("UnknownPackage")<{
  readonly filters: ReadonlyArray<string>
  readonly available: ReadonlyArray<string>
}> {
  override get message(): string {
    return `--filter ${this.filters.map((f) => `"${f}"`).join(", ")} matches no workspace package; the packages: ` +
      (this.available.join(", ") || "none")
  }
}

/** `--affected`: git cannot say which files changed (not a repository, a shallow clone, an unknown ref). */
export class AffectedUnavailable extends Data.TaggedError("AffectedUnavailable")<{ readonly reason: string }> {
  override get message(): string {
    return `--affected: git cannot tell which files changed: ${this.reason}. Nothing ran. Pass --base REF (and --head REF), ` +
      `or --affected=all-on-error to run every selected package when git cannot answer`
  }
}
