/**
 * Observers follow runs besides the Reporter and the Journal: metrics, traces, notifications. They see the same
 * events (already masked) and, once a run has ended, its summary. An observer never changes how a run ends: its
 * failures are logged and dropped.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as RunEvent from "./RunEvent.ts"

/** How a run that executed ended, as observers and notifications receive it (also the `--notify-url` JSON body). */
export interface Summary {
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
  /** The failed (or interrupted) jobs with their errors, secrets masked. */
  readonly failed: ReadonlyArray<{ readonly jobId: string; readonly critical: boolean; readonly error: string }>
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
  failed: result.jobs
    .filter((job) => job.status === "failed" || job.status === "interrupted")
    .map((job) => ({ jobId: job.jobId, critical: job.critical, error: job.detail ?? job.status }))
})
