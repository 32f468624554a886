/** effect-runner's public surface: define jobs, compose them into DAGs, share limited resources. */
export * as Checkpoint from "./Checkpoint.ts"
export * as Dag from "./Dag.ts"
export * as Errors from "./Errors.ts"
export * as Job from "./Job.ts"
export * as Resource from "./Resource.ts"
export * as Retry from "./Retry.ts"
export * as Workspace from "./Workspace.ts"
