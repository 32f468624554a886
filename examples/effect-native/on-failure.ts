// A DAG's onFailure hook receives each failed job's typed error, not only its text: here a command that exits with
// code 3, matched as a ShellExitError with its exitCode (as any Effect error is, with Effect.catchTag).
// Run: npx runner examples/effect-native/on-failure.ts   (prints "migrate: exit 3", exits 1)
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { Dag, Job } from "effect-runner"

export const migrate = Job.command("migrate", ["sh", "-c", "exit 3"])

export default Dag.make("on-failure", [migrate], {
  onFailure: (summary) =>
    Effect.forEach(summary.failed, (failed) =>
      Effect.failCause(failed.cause).pipe(
        Effect.catchTag("ShellExitError", (error) => Console.log(`${failed.jobId}: exit ${error.exitCode}`)),
        // Anything else: a timeout (JobTimeout), an open circuit (CircuitOpen), a defect, an interruption.
        Effect.catchCause(() => Console.log(`${failed.jobId}: ${failed.error}`))
      ), { discard: true })
})
