/**
 * How a command ends. A command succeeds (exit 0) or fails with a typed error; `main` hands every failure to
 * `exitOf`, the one place that says which exit code it means and what, if anything, to print on stderr. The codes
 * are the ones documented in README ("Exit codes"); test/CliExit.test.ts holds the two together.
 *
 * Besides the errors of the runner's modules (a task file that does not load, a locked run, ...), a command can end
 * in ways that are not anyone's error but still are not success: a run that failed, checks that found problems.
 * Those are the failures declared here; what they mean was already printed on stdout, so they print nothing more.
 */
import * as CliError from "effect/cli/CliError"
import * as Schema from "effect/Schema"
import type { LayerFailed } from "../../Errors.ts"
import type { JobNotInRun, JournalNotFound, JournalUnreadable, RunNotFound, SetupError } from "../SetupErrors.ts"
import type { LockLost, RunLocked } from "../Journal.ts"

/** The documented exit codes. */
export const ExitCode = {
  /** Every critical job succeeded (or the command did what it was asked). */
  ok: 0,
  /** A critical job failed or was interrupted by the failure mode; or the DAG's layer failed to build. */
  failed: 1,
  /** Bad usage, an invalid task file, config or inputs, or an unusable journal; nothing ran. */
  usage: 2,
  /**
   * The run cannot make progress (every unfinished job waits for something nothing will give), or an internal error
   * of the runner. Set by Runtime.runMain, which sees the process stall or the program die.
   */
  stalled: 70,
  /**
   * Another process is executing the same run (same DAG and key, or same run id); try again later or use --wait. Also:
   * this process lost the run's lock to another one while it was stopped or blocked, and stopped.
   */
  locked: 75,
  /** Interrupted by SIGINT or SIGTERM (Runtime.runMain also exits 130 when a signal interrupts a command). */
  interrupted: 130
} as const

/** An error of a file the command was given (a task file, the journal), reported with the file's name. */
export class InFile extends Schema.TaggedError<InFile>()("InFile", {
  file: Schema.String,
  error: Schema.declare((u): u is SetupError => u instanceof Error && "_tag" in u)
}) {
  override get message(): string {
    const message = this.error.message
    return message.startsWith(this.file) ? message : `${this.file}: ${message}`
  }
}

/** The run ended failed; its summary says which jobs and why. */
export class RunFailed extends Schema.TaggedError<RunFailed>()("RunFailed", { runId: Schema.String }) {
  override get message(): string {
    return `run ${this.runId} failed`
  }
}

/** The run was interrupted (a signal, or a job interrupted by the failure mode); its summary says so. */
export class RunInterrupted extends Schema.TaggedError<RunInterrupted>()("RunInterrupted", { runId: Schema.String }) {
  override get message(): string {
    return `run ${this.runId} was interrupted`
  }
}

/** `runner schedule` stopped without its runs finishing (a second signal, or the grace period ran out). */
export class SchedulerInterrupted extends Schema.TaggedError<SchedulerInterrupted>()("SchedulerInterrupted", {}) {
  override get message(): string {
    return "the scheduler stopped before its runs finished"
  }
}

/** `runner check` found problems; the checklist names them. */
export class ChecksFailed extends Schema.TaggedError<ChecksFailed>()("ChecksFailed", {
  file: Schema.String,
  problems: Schema.Number
}) {
  override get message(): string {
    return `${this.file}: ${this.problems} problem${this.problems === 1 ? "" : "s"}: a run would not start`
  }
}

/** `runner doctor` found the journal damaged; the report shows the integrity check. */
export class JournalUnhealthy extends Schema.TaggedError<JournalUnhealthy>()("JournalUnhealthy", {
  journal: Schema.String,
  /** Which check failed (default: SQLite's integrity check). */
  check: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `journal ${this.journal} failed its ${this.check ?? "integrity check"}`
  }
}

/** `runner init` changed nothing: it would have overwritten files, or could not read one. */
export class InitRefused extends Schema.TaggedError<InitRefused>()("InitRefused", {
  reason: Schema.String,
  /** What to do about it, e.g. "--force overwrites". */
  hint: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `${this.reason}; nothing was changed${this.hint === undefined ? "" : ` (${this.hint})`}`
  }
}

/** `runner cron` printed no crontab line: every schedule has a seconds field (the output explains each). */
export class NoCronLine extends Schema.TaggedError<NoCronLine>()("NoCronLine", {}) {
  override get message(): string {
    return "no schedule can be a cron line (each has a seconds field): use runner schedule"
  }
}

/**
 * A cluster run's coordinator (on a worker) could not go on with the run: its layer failed, or (`locked`) another
 * process executes the run or took it over. The message is the coordinator's, as a local run would print it.
 */
export class ClusterRunStopped extends Schema.TaggedError<ClusterRunStopped>()("ClusterRunStopped", {
  reason: Schema.String
}) {
  override get message(): string {
    return this.reason
  }
}

/** A cluster run's coordinator found the run executed by another process, or lost it to one (as exit 75 locally). */
export class ClusterRunLocked extends Schema.TaggedError<ClusterRunLocked>()("ClusterRunLocked", {
  reason: Schema.String
}) {
  override get message(): string {
    return this.reason
  }
}

/** `runner cancel`: the run is not one a cluster executes now (it ended, or it is a local run). */
export class NotCancellable extends Schema.TaggedError<NotCancellable>()("NotCancellable", {
  runId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId} cannot be cancelled: ${this.reason}`
  }
}

/** Every way a command can fail. */
export type Failure =
  | SetupError
  | InFile
  | JournalNotFound
  | JournalUnreadable
  | RunNotFound
  | JobNotInRun
  | RunLocked
  | LockLost
  | LayerFailed
  | RunFailed
  | RunInterrupted
  | SchedulerInterrupted
  | ChecksFailed
  | JournalUnhealthy
  | InitRefused
  | NoCronLine
  | ClusterRunStopped
  | ClusterRunLocked
  | NotCancellable

/** The exit code of each failure. Typed so that a new failure cannot be left out. */
export const codes: { readonly [Tag in Failure["_tag"]]: number } = {
  // The command line, the task file, its config and inputs, the workspace: nothing ran.
  TaskFileNotFound: ExitCode.usage,
  TaskFileIsFolder: ExitCode.usage,
  TaskFileInvalid: ExitCode.usage,
  NothingToRun: ExitCode.usage,
  DuplicateJobId: ExitCode.usage,
  CycleDetected: ExitCode.usage,
  MissingDependency: ExitCode.usage,
  UnknownJob: ExitCode.usage,
  InvalidOption: ExitCode.usage,
  PreflightFailed: ExitCode.usage,
  WorkspaceNotFound: ExitCode.usage,
  WorkspaceInvalid: ExitCode.usage,
  UnknownPackage: ExitCode.usage,
  AffectedUnavailable: ExitCode.usage,
  InFile: ExitCode.usage,
  // The operator commands' journal and what they look up in it.
  JournalNotFound: ExitCode.usage,
  JournalUnreadable: ExitCode.usage,
  RunNotFound: ExitCode.usage,
  JobNotInRun: ExitCode.usage,
  JournalUnhealthy: ExitCode.usage,
  ChecksFailed: ExitCode.usage,
  InitRefused: ExitCode.usage,
  NoCronLine: ExitCode.usage,
  NotCancellable: ExitCode.usage,
  // Runs.
  RunFailed: ExitCode.failed,
  LayerFailed: ExitCode.failed,
  ClusterRunStopped: ExitCode.failed,
  RunInterrupted: ExitCode.interrupted,
  SchedulerInterrupted: ExitCode.interrupted,
  RunLocked: ExitCode.locked,
  LockLost: ExitCode.locked,
  ClusterRunLocked: ExitCode.locked
}

/** Failures whose story is already on stdout: a run's summary, a checklist, a report. */
const shown: ReadonlySet<Failure["_tag"]> = new Set<Failure["_tag"]>([
  "RunFailed",
  "RunInterrupted",
  "SchedulerInterrupted",
  "ChecksFailed",
  "JournalUnhealthy",
  "NoCronLine"
])

/**
 * The exit code a command's failure means, and the line to print on stderr for it (undefined when it was shown
 * already). A command line Effect's CLI could not parse is bad usage: the CLI printed the error with the help.
 */
export const exitOf = (failure: Failure | CliError.CliError): { readonly code: number; readonly stderr: string | undefined } =>
  CliError.isCliError(failure)
    ? { code: ExitCode.usage, stderr: undefined }
    : { code: codes[failure._tag], stderr: shown.has(failure._tag) ? undefined : `runner: ${failure.message}\n` }
