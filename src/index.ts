/**
 * effect-runner's public surface: define jobs, compose them into DAGs, share limited resources, checkpoint steps,
 * and the errors and summaries hooks receive. Re-exports only; what the runner uses internally lives in src/internal/.
 */
export * as Checkpoint from "./Checkpoint.ts"
export * as Dag from "./Dag.ts"
export * as Errors from "./Errors.ts"
export * as Job from "./Job.ts"
export * as Partition from "./Partition.ts"
export * as Resource from "./Resource.ts"
export * as Retry from "./Retry.ts"
export * as Workspace from "./Workspace.ts"
/** How a run ended, as `onSuccess`/`onFailure` hooks and notifications receive it. */
export type { Summary as RunSummary } from "./internal/Observer.ts"
/** One job's line of a `RunSummary`, and the statuses of runs and jobs. */
export type { JobStatus, JobSummary, RunStatus } from "./internal/RunEvent.ts"
