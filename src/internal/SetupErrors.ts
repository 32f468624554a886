/**
 * The errors only the CLI meets: a task file that cannot be found or loaded, a preflight that found problems, an
 * operator command pointed at a missing journal or run. They stop the runner before any job runs (exit code 2). Schema
 * tagged errors, like the public ones in src/Errors.ts; `SetupError` is everything that stops a run before it starts.
 */
import * as Schema from "effect/Schema"
import type {
  AffectedUnavailable,
  CycleDetected,
  DuplicateJobId,
  InvalidOption,
  MissingDependency,
  UnknownJob,
  UnknownPackage,
  WorkspaceInvalid,
  WorkspaceNotFound
} from "../Errors.ts"

/** The task file does not exist or cannot be read. */
export class TaskFileNotFound extends Schema.TaggedError<TaskFileNotFound>()("TaskFileNotFound", {
  file: Schema.String
}) {
  override get message(): string {
    return `${this.file}: no such task file`
  }
}

/** A folder was given where a task file is expected; its task files are listed so the user can pick one. */
export class TaskFileIsFolder extends Schema.TaggedError<TaskFileIsFolder>()("TaskFileIsFolder", {
  file: Schema.String,
  /** The folder's task files (`*.ts`, not recursive), as paths to give the runner. */
  taskFiles: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return this.taskFiles.length === 0
      ? `${this.file}: is a folder, not a task file, and holds no task files (*.ts)`
      : `${this.file}: is a folder, not a task file; give one of its task files:\n  ${this.taskFiles.join("\n  ")}`
  }
}

/** The task file failed to load: a syntax error, a failed import, or an exception thrown at module level. */
export class TaskFileInvalid extends Schema.TaggedError<TaskFileInvalid>()("TaskFileInvalid", {
  file: Schema.String,
  location: Schema.UndefinedOr(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.location ?? this.file}: ${this.reason}`
  }
}

/** The task file exports neither a Dag (as default export) nor any job. */
export class NothingToRun extends Schema.TaggedError<NothingToRun>()("NothingToRun", {
  file: Schema.String
}) {
  override get message(): string {
    return `${this.file}: exports no Dag (export default Dag.make(...)) and no jobs (export const x = Job.make(...))`
  }
}

/** The preflight found problems (config missing or malformed, inputs missing): all of them, each naming its job. */
export class PreflightFailed extends Schema.TaggedError<PreflightFailed>()("PreflightFailed", {
  dag: Schema.String,
  problems: Schema.Array(Schema.String)
}) {
  override get message(): string {
    const n = this.problems.length
    return `dag "${this.dag}": ${n} problem${n === 1 ? "" : "s"} found before the run; nothing ran:\n  ` +
      this.problems.join("\n  ")
  }
}

/** Everything that stops the runner before a job runs (exit code 2). */
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
export class JournalNotFound extends Schema.TaggedError<JournalNotFound>()("JournalNotFound", {
  path: Schema.String
}) {
  override get message(): string {
    return `no journal at ${this.path} (nothing was created; choose the file with --journal PATH or RUNNER_JOURNAL)`
  }
}

/** No run with this id in the journal. */
export class RunNotFound extends Schema.TaggedError<RunNotFound>()("RunNotFound", {
  runId: Schema.String,
  journal: Schema.String
}) {
  override get message(): string {
    return `no run ${this.runId} in ${this.journal} (runner history lists the runs)`
  }
}

/** A job named on the command line is not a job of the run. */
export class JobNotInRun extends Schema.TaggedError<JobNotInRun>()("JobNotInRun", {
  runId: Schema.String,
  jobId: Schema.String,
  available: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `run ${this.runId} has no job "${this.jobId}"; its jobs: ${this.available.join(", ") || "none"}`
  }
}

/** An operator command could not open, migrate or read the journal (not a database, damaged, locked too long). */
export class JournalUnreadable extends Schema.TaggedError<JournalUnreadable>()("JournalUnreadable", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `journal ${this.path}: ${this.reason}`
  }
}
