/**
 * Where the test kit (`effect-runner/test`) reaches into a run: each attempt of a job passes through the current
 * hook, which may replace or wrap the job's work (a fault). Outside the test kit there is none and attempts run the
 * job's own `run`. A Reference, not a service, so the executor's types do not change for it.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Job from "../../Job.ts"

/**
 * Given the job and its work for one attempt (`work()` builds the job's own effect: call it to run the job), returns
 * what the attempt runs instead. Applied inside the job's timeout and breakers, so a delay meets the timeout.
 */
export type AttemptHook = (
  job: Job.Any,
  work: () => Effect.Effect<unknown, unknown, Job.Services>
) => Effect.Effect<unknown, unknown, Job.Services>

/** The test kit's hook of the current run; undefined outside it. */
export const CurrentAttemptHook = Context.Reference<AttemptHook | undefined>("effect-runner/testkit/CurrentAttemptHook", {
  defaultValue: () => undefined
})
