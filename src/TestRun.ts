/**
 * Runs a DAG inside a test (`effect-runner/test`): in-process, on a TestClock that advances by itself, with an
 * in-memory journal and faults injected into named jobs; `resume` continues a crashed or failed run. The assertion
 * helpers throw plain `Error`s that describe the run, so they read the same in vitest, `bun test` and `deno test`.
 */
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"
import type * as Dag from "./Dag.ts"
import type { JobResult, Result, RunStatus } from "./internal/testkit/TestRun.ts"

export {
  type JobIds,
  type JobResult,
  type JobResults,
  type JobStatus,
  type Options,
  resume,
  type Result,
  run,
  type RunStatus,
  type SetupError
} from "./internal/testkit/TestRun.ts"

/** The run as a few lines of text: its status, then each job's status, attempts, duration and last error. */
export const describe = (result: Result<any>): string => {
  const jobs = Object.values(result.jobs as Record<string, JobResult>)
  const lines = jobs.map((job) => {
    const error = job.attemptErrors.at(-1)
    return `  ${job.id}: ${job.status}, ${job.attempts} attempt(s), ${job.durationMillis} ms${
      error === undefined ? "" : ` (last error: ${error.split("\n")[0]})`
    }`
  })
  return [`run ${result.runId} of "${result.dag}" ${result.status} in ${result.durationMillis} ms (test clock)`, ...lines].join("\n")
}

/** Throws, describing the run, unless it ended with `status`. */
export const assertStatus = (result: Result<any>, status: RunStatus): void => {
  if (result.status !== status) throw new Error(`expected the run to have ${status}, but it ${result.status}:\n${describe(result)}`)
}

/** Throws, describing the run, unless it succeeded. */
export const assertSucceeded = (result: Result<any>): void => assertStatus(result, "succeeded")

/** The ids of the jobs that started attempts in this run (not those restored, reused, skipped or not started). */
export const ran = (result: Result<any>): ReadonlyArray<string> =>
  Object.values(result.jobs as Record<string, JobResult>).filter((job) => job.attempts > 0).map((job) => job.id)

/** A failed job's typed error (the first failure of its Cause), if it failed with one (not a defect). */
export const errorOf = <E>(job: JobResult<unknown, E>): E | undefined =>
  job.error === undefined ? undefined : Option.getOrUndefined(Cause.findErrorOption(job.error))

/** The DAG type a result was made from, for helpers of the user's own. */
export type DagOf<R> = R extends Result<infer D> ? D extends Dag.Dag ? D : never : never
