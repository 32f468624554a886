/**
 * The errors a task file meets, all Schema tagged errors (one kind: they match with `Effect.catchTag`, compare by
 * value, and round-trip through the journal). Two groups: the typed failures of a job (its command's exit, a timeout,
 * an open circuit, an output that does not fit its schema, a layer that failed) and the errors a definition throws
 * when the task file loads (a bad option, a duplicate id, a cycle). The errors only the CLI meets (task file not
 * found, journal not found, ...) live in internal/SetupErrors.ts; the `runner ws` errors below are here because
 * `Workspace.jobs` rejects with them.
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

// ---------------------------------------------------------------------------------------------------------------------
// What a job can meet. Each is a typed failure: it is retried by the job's `retry`, and hooks receive it in the cause.
// ---------------------------------------------------------------------------------------------------------------------

/**
 * A command job's process exited with a non-zero code. Retryable.
 *
 * @example
 * ```ts
 * Effect.catchTag(effect, "ShellExitError", (e) => e.exitCode === 2 ? Effect.void : Effect.fail(e))
 * ```
 */
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

/**
 * One attempt of a job ran longer than its `timeout`. Retryable, like any typed failure. Only jobs with a `timeout`
 * meet it (their error type says so).
 *
 * @example
 * ```ts
 * Effect.catchTag(effect, "JobTimeout", (e) => Effect.logWarning(`${e.jobId} timed out after ${e.timeout}`))
 * ```
 */
export class JobTimeout extends Schema.TaggedError<JobTimeout>()("JobTimeout", {
  jobId: Schema.String,
  timeout: Schema.String
}) {
  override get message(): string {
    return `attempt timed out after ${this.timeout}`
  }
}

/**
 * A job that ran on a cluster worker failed there. Typed causes do not cross processes: the worker's rendered (and
 * masked) failure is all that comes back, so a cluster run's summary shows the same text a local run's would.
 */
export class RemoteJobFailed extends Schema.TaggedError<RemoteJobFailed>()("RemoteJobFailed", {
  jobId: Schema.String,
  error: Schema.String
}) {
  override get message(): string {
    return this.error
  }
}

/**
 * A call or job attempt was refused because the circuit breaker of its resource is open. Retryable, like any typed
 * failure: a retry delay longer than the breaker's cooldown lets the next attempt probe the resource.
 *
 * @example
 * ```ts
 * api.use(callApi).pipe(Effect.catchTag("CircuitOpen", (e) => Effect.sleep(e.retryInMillis)))
 * ```
 */
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

/**
 * A job's output could not be encoded with its `output` Schema, so it cannot be passed on or journaled. Not retried:
 * the same code would return the same kind of value.
 *
 * @example
 * ```ts
 * Effect.catchTag(effect, "OutputInvalid", (e) => Effect.logError(`${e.jobId}: ${e.issue}`))
 * ```
 */
export class OutputInvalid extends Schema.TaggedError<OutputInvalid>()("OutputInvalid", {
  jobId: Schema.String,
  issue: Schema.String
}) {
  override get message(): string {
    return `output of job "${this.jobId}" does not match its output schema: ${this.issue}`
  }
}

/**
 * A job's output cannot be journaled at all (it is circular, or its encoding threw): the job fails, not retried. It is
 * a bug in the job, so job types do not list it; return plain data, or declare `output` with a Schema.
 */
export class OutputNotJournalable extends Schema.TaggedError<OutputNotJournalable>()("OutputNotJournalable", {
  jobId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `output of job "${this.jobId}" cannot be journaled: ${this.reason}; return plain data, or declare \`output\` with a Schema`
  }
}

/**
 * The DAG's `layer` failed to build: the run fails before any job starts (exit 1), with the layer's error as `reason`.
 * (A job's own layer failing fails that job's attempt with the layer's own error instead.)
 */
export class LayerFailed extends Schema.TaggedError<LayerFailed>()("LayerFailed", {
  dag: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `dag "${this.dag}": its layer failed to build; no job ran: ${this.reason}`
  }
}

/** The runner's own typed failures that a job attempt can end with, besides the job's own errors. */
export type JobError = ShellExitError | JobTimeout | CircuitOpen | OutputInvalid | OutputNotJournalable

// ---------------------------------------------------------------------------------------------------------------------
// What a definition can meet: thrown by Job.make, Dag.make, Resource.make... when the task file loads (exit code 2).
// ---------------------------------------------------------------------------------------------------------------------

/**
 * A job definition or command-line value is invalid (bad duration, zero concurrency, ...). Thrown when the task file
 * loads, naming the option (`job "load" timeout`).
 */
export class InvalidOption extends Schema.TaggedError<InvalidOption>()("InvalidOption", {
  where: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.where}: ${this.reason}`
  }
}

/** Two different jobs use the same id. */
export class DuplicateJobId extends Schema.TaggedError<DuplicateJobId>()("DuplicateJobId", {
  jobId: Schema.String,
  places: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `job id "${this.jobId}" is defined twice: at ${this.places.join(" and at ")}`
  }
}

/** Jobs depend on each other in a cycle. */
export class CycleDetected extends Schema.TaggedError<CycleDetected>()("CycleDetected", {
  path: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `jobs depend on each other in a cycle: ${this.path.join(" -> ")}`
  }
}

/** A job's `needs` names something that is not a job of the DAG. */
export class MissingDependency extends Schema.TaggedError<MissingDependency>()("MissingDependency", {
  jobId: Schema.String,
  need: Schema.String,
  found: Schema.String
}) {
  override get message(): string {
    return `job "${this.jobId}" needs "${this.need}", which is not a job (found ${this.found}); ` +
      `check the import of "${this.need}" (an import cycle between task files leaves it undefined)`
  }
}

/** A job named on the command line (or given to `Workspace.jobs`) is not in the DAG. */
export class UnknownJob extends Schema.TaggedError<UnknownJob>()("UnknownJob", {
  names: Schema.Array(Schema.String),
  available: Schema.Array(Schema.String)
}) {
  override get message(): string {
    const shown = this.available.slice(0, 20).join(", ") + (this.available.length > 20 ? ", ..." : "")
    return `unknown job${this.names.length > 1 ? "s" : ""} ${this.names.map((n) => `"${n}"`).join(", ")}; ` +
      `the DAG has: ${shown}`
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Workspaces: what `Workspace.jobs` (and `runner ws`) fail with.
// ---------------------------------------------------------------------------------------------------------------------

/** No workspace root (a package.json with `workspaces`, or a pnpm-workspace.yaml) in this folder or above it. */
export class WorkspaceNotFound extends Schema.TaggedError<WorkspaceNotFound>()("WorkspaceNotFound", {
  from: Schema.String
}) {
  override get message(): string {
    return `no workspace in ${this.from} or above it: expected a package.json with "workspaces", or a pnpm-workspace.yaml`
  }
}

/** A workspace pattern (or a package's `effect-runner.tasks` pattern) matches nothing. */
export class WorkspaceGlobEmpty extends Schema.TaggedError<WorkspaceGlobEmpty>()("WorkspaceGlobEmpty", {
  pattern: Schema.String,
  /** Where the pattern comes from: "package.json workspaces", "pnpm-workspace.yaml", a package's manifest. */
  source: Schema.String
}) {
  override get message(): string {
    return `${this.source}: pattern "${this.pattern}" matches no ${this.source.includes("effect-runner") ? "file" : "package (a folder with a package.json)"}`
  }
}

/** A workspace manifest cannot be used: not JSON, no `name`, a malformed field. */
export class PackageManifestInvalid extends Schema.TaggedError<PackageManifestInvalid>()("PackageManifestInvalid", {
  manifest: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.manifest}: ${this.reason}`
  }
}

/** Two workspace packages have the same name. */
export class PackageNameDuplicate extends Schema.TaggedError<PackageNameDuplicate>()("PackageNameDuplicate", {
  name: Schema.String,
  manifests: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `package name "${this.name}" is used twice: by ${this.manifests.join(" and by ")}`
  }
}

/** Workspace packages depend on each other in a cycle. */
export class PackageCycle extends Schema.TaggedError<PackageCycle>()("PackageCycle", {
  path: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `packages depend on each other in a cycle: ${this.path.join(" -> ")}`
  }
}

/** A task file of a workspace package failed to load or to plan. */
export class PackageTaskFileInvalid extends Schema.TaggedError<PackageTaskFileInvalid>()("PackageTaskFileInvalid", {
  pkg: Schema.String,
  file: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `package "${this.pkg}", task file ${this.reason.startsWith(this.file) ? this.reason : `${this.file}: ${this.reason}`}`
  }
}

/** One problem of a workspace. */
export const WorkspaceProblem = Schema.Union([
  WorkspaceGlobEmpty,
  PackageManifestInvalid,
  PackageNameDuplicate,
  PackageCycle,
  PackageTaskFileInvalid,
  DuplicateJobId,
  CycleDetected,
  UnknownJob
])
export type WorkspaceProblem = typeof WorkspaceProblem.Type

/** The workspace has problems: all of them, found in one pass; nothing ran. */
export class WorkspaceInvalid extends Schema.TaggedError<WorkspaceInvalid>()("WorkspaceInvalid", {
  root: Schema.String,
  problems: Schema.Array(WorkspaceProblem)
}) {
  override get message(): string {
    const n = this.problems.length
    return `workspace ${this.root}: ${n} problem${n === 1 ? "" : "s"}; nothing ran:\n  ` +
      this.problems.map((p) => p.message.replace(/\n/g, "\n    ")).join("\n  ")
  }
}

/** A `--filter` (or `Workspace.jobs`'s `filter`) names no workspace package. */
export class UnknownPackage extends Schema.TaggedError<UnknownPackage>()("UnknownPackage", {
  filters: Schema.Array(Schema.String),
  available: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `--filter ${this.filters.map((f) => `"${f}"`).join(", ")} matches no workspace package; the packages: ` +
      (this.available.join(", ") || "none")
  }
}

/** `--affected`: git cannot say which files changed (not a repository, a shallow clone, an unknown ref). */
export class AffectedUnavailable extends Schema.TaggedError<AffectedUnavailable>()("AffectedUnavailable", {
  reason: Schema.String
}) {
  override get message(): string {
    return `--affected: git cannot tell which files changed: ${this.reason}. Nothing ran. Pass --base REF (and --head REF), ` +
      `or --affected=all-on-error to run every selected package when git cannot answer`
  }
}
