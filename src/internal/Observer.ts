/**
 * Observers follow runs besides the Reporter and the Journal: metrics, traces, notifications. They see the same
 * events (already masked) and, once a run has ended, its summary. An observer never changes how a run ends: its
 * failures are logged and dropped.
 */
import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as RunEvent from "./RunEvent.ts"

/**
 * How a run that executed ended, as observers and notifications receive it (also the `--notify-url` JSON body, which
 * leaves out the failures' causes). `E`: the errors its jobs can fail with (see `Dag.Failure`).
 */
export interface Summary<E = unknown> {
  readonly runId: string
  readonly dag: string
  /** The run key (`--key`, or a scheduled slot's key), if any. */
  readonly key: string | undefined
  /** Who started it: "cli", "schedule", ... */
  readonly trigger: string
  readonly status: RunEvent.RunStatus
  /** True when this continued an earlier, unfinished run. */
  readonly resumed: boolean
  /** Epoch milliseconds. */
  readonly startedAt: number
  readonly finishedAt: number
  readonly durationMillis: number
  readonly jobs: ReadonlyArray<RunEvent.JobSummary>
  /**
   * The failed (or interrupted) jobs with their errors: as text (secrets masked) and as their typed `cause`, to match
   * on (`Cause.findErrorOption(f.cause)`, then its `_tag`: `ShellExitError` with its `exitCode`, `JobTimeout`, ...).
   * The cause is the job's own, in-process: never sent or journaled, and not masked.
   */
  readonly failed: ReadonlyArray<RunEvent.JobFailure<E>>
}

export interface Observer {
  /** Names the observer in the warning logged when it fails. */
  readonly name: string
  /** Every event of every run, in order, as the executor emits it. Should be quick; must not fail. */
  readonly onEvent?: (event: RunEvent.RunEvent) => Effect.Effect<void>
  /** Once per run that executed, after it ended (still under its lock). A failure is logged, never changes the outcome. */
  readonly onFinish?: (summary: Summary) => Effect.Effect<void, unknown>
}

/** The observers of the runs started in this context. Default: none. */
export const Observers = Context.Reference<ReadonlyArray<Observer>>("effect-runner/Observers", {
  defaultValue: () => []
})

/** The summary of a finished run. */
export const summarize = (
  result: {
    readonly runId: string
    readonly status: RunEvent.RunStatus
    readonly jobs: ReadonlyArray<RunEvent.JobSummary>
    readonly durationMillis: number
    /** The failed and interrupted jobs' causes, by job id. */
    readonly causes?: ReadonlyMap<string, Cause.Cause<unknown>> | undefined
  },
  context: {
    readonly dag: string
    readonly key: string | undefined
    readonly trigger: string
    readonly resumed: boolean
    readonly finishedAt: number
  }
): Summary => ({
  runId: result.runId,
  dag: context.dag,
  key: context.key,
  trigger: context.trigger,
  status: result.status,
  resumed: context.resumed,
  startedAt: context.finishedAt - result.durationMillis,
  finishedAt: context.finishedAt,
  durationMillis: result.durationMillis,
  jobs: result.jobs,
  failed: RunEvent.failures(result.jobs, result.causes)
})
