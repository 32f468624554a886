/**
 * Everything that happens in a run, as data. The executor emits these; the Journal records them and the Reporter
 * shows them. One union, so a new consumer (metrics, notifications) sees the same facts.
 */
import * as Cause from "effect/Cause"

export type JobStatus = "succeeded" | "cached" | "restored" | "failed" | "skipped" | "interrupted"
export type RunStatus = "succeeded" | "failed" | "interrupted"
export type FailureMode = "no-new" | "kill" | "continue"

export interface RunStarted {
  readonly _tag: "RunStarted"
  readonly runId: string
  /** True when this continues an earlier, unfinished run. */
  readonly resumed: boolean
  readonly dag: string
  readonly at: number
  readonly jobIds: ReadonlyArray<string>
  /**
   * The ids of the jobs each job needs, parallel to `jobIds` (journaled for the dashboard's DAG drawing). Absent when
   * not known (events made by hand): the journal then records none.
   */
  readonly needs?: ReadonlyArray<ReadonlyArray<string>>
  readonly concurrency: number
  readonly failureMode: FailureMode
}

export interface AttemptStarted {
  readonly _tag: "AttemptStarted"
  readonly runId: string
  readonly jobId: string
  readonly attempt: number
  readonly at: number
}

export interface AttemptFailed {
  readonly _tag: "AttemptFailed"
  readonly runId: string
  readonly jobId: string
  readonly attempt: number
  readonly at: number
  /** The failure, rendered for people (defects carry their stack). */
  readonly error: string
  readonly cause: Cause.Cause<unknown>
  /** Milliseconds until the next attempt, or undefined when this was the last one. */
  readonly retryInMillis: number | undefined
}

export interface AttemptSucceeded {
  readonly _tag: "AttemptSucceeded"
  readonly runId: string
  readonly jobId: string
  readonly attempt: number
  readonly at: number
  /** The output as the job produced it. */
  readonly output: unknown
  /** The output as the journal keeps it (see `Encoding`): JSON text, an unrestorable marker, undefined for `undefined`. */
  readonly json: string | undefined
  /** For a job with `cache`: its key and manifest, journaled with the success so a later run with the same key reuses it. */
  readonly cache?: CacheRecord
}

/** What a cached job's success is kept under: its key, and the manifest it was made from (see cache/Manifest.ts). */
export interface CacheRecord {
  readonly key: string
  /** The manifest, encoded (`Manifest.encode`): digests and facts, never a secret in clear. */
  readonly manifest: string
}

/**
 * A job with `cache` whose inputs match an earlier success (any run, in this journal): its output is reused and passed
 * on; it does not run. Durable when recorded, like a success.
 */
export interface JobCached {
  readonly _tag: "JobCached"
  readonly runId: string
  readonly jobId: string
  readonly at: number
  /** The run whose success is reused. */
  readonly fromRunId: string
  /** When that success was recorded (epoch ms). */
  readonly cachedAt: number
  readonly output: unknown
  readonly json: string | undefined
  readonly key: string
}

export interface JobSkipped {
  readonly _tag: "JobSkipped"
  readonly runId: string
  readonly jobId: string
  readonly at: number
  readonly reason: string
}

/** A job that succeeded in an earlier attempt of this run: its journaled output is passed on; it does not run. */
export interface JobRestored {
  readonly _tag: "JobRestored"
  readonly runId: string
  readonly jobId: string
  readonly at: number
}

export interface JobInterrupted {
  readonly _tag: "JobInterrupted"
  readonly runId: string
  readonly jobId: string
  readonly attempt: number
  readonly at: number
  /** Why, when it was more than a request to stop (a process that outlived SIGKILL). */
  readonly reason?: string
}

/**
 * A job waits for a permit of a resource or for its next rate-limit slot: before an attempt starts (`uses`), or inside
 * a running attempt (`call`: a `r.use` call).
 */
export interface JobWaiting {
  readonly _tag: "JobWaiting"
  readonly runId: string
  readonly jobId: string
  /** The attempt that waits to start, or the running attempt when `call`. */
  readonly attempt: number
  readonly at: number
  readonly resource: string
  readonly kind: "permit" | "rate"
  /** For a rate limit: when the slot opens (epoch millis). */
  readonly until: number | undefined
  /** True when a call inside the running attempt waits (`r.use`), false when the attempt waits to start (`uses`). */
  readonly call: boolean
}

/** The job got what its JobWaiting waited for. */
export interface JobAdmitted {
  readonly _tag: "JobAdmitted"
  readonly runId: string
  readonly jobId: string
  readonly attempt: number
  readonly at: number
  readonly resource: string
  readonly kind: "permit" | "rate"
  readonly call: boolean
  readonly waitedMillis: number
}

/** The final state of one job, for summaries. */
export interface JobSummary {
  readonly jobId: string
  readonly status: JobStatus
  readonly critical: boolean
  readonly attempts: number
  /** From when the run started it to its end, waits for resources included. */
  readonly durationMillis: number
  /**
   * How much of `durationMillis` it waited for resource permits and rate-limit slots before its attempts (the rest it
   * ran, backoff between attempts included). Default: 0.
   */
  readonly waitedMillis?: number
  /** Why it failed (the rendered error) or why it was skipped. */
  readonly detail: string | undefined
  /** For a `cached` job: the run whose success it reused. */
  readonly cachedFrom?: string
}

export interface RunFinished {
  readonly _tag: "RunFinished"
  readonly runId: string
  readonly dag: string
  readonly at: number
  readonly status: RunStatus
  readonly durationMillis: number
  readonly jobs: ReadonlyArray<JobSummary>
  /**
   * Each failed or interrupted job's Cause, typed (in-process only, like `AttemptFailed.cause`: never journaled, shown
   * or sent, and not masked).
   */
  readonly causes?: ReadonlyMap<string, Cause.Cause<unknown>>
}

/** A failed or interrupted job with its error: as text for people (secrets masked where the run's were), and typed. */
export interface JobFailure<E = unknown> {
  readonly jobId: string
  readonly critical: boolean
  /** The rendered error (or "interrupted"). */
  readonly error: string
  /** The job's failure as the job (or the runner: timeout, open circuit, invalid output) raised it. */
  readonly cause: Cause.Cause<E>
}

/** The failed and interrupted jobs of a summary, with their causes (an interruption when none was recorded). */
export const failures = (
  jobs: ReadonlyArray<JobSummary>,
  causes: ReadonlyMap<string, Cause.Cause<unknown>> | undefined
): ReadonlyArray<JobFailure> =>
  jobs
    .filter((job) => job.status === "failed" || job.status === "interrupted")
    .map((job) => ({
      jobId: job.jobId,
      critical: job.critical,
      error: job.detail ?? job.status,
      cause: causes?.get(job.jobId) ?? Cause.interrupt()
    }))

export type RunEvent =
  | RunStarted
  | AttemptStarted
  | AttemptFailed
  | AttemptSucceeded
  | JobSkipped
  | JobCached
  | JobRestored
  | JobInterrupted
  | JobWaiting
  | JobAdmitted
  | RunFinished
