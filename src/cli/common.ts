/** What every command shares: exit codes, loading and planning a task file, and printing setup errors. */
import * as Effect from "effect/Effect"
import * as Dag from "../Dag.ts"
import type { SetupError } from "../Errors.ts"
import * as Loader from "../Loader.ts"

/** The documented exit codes. */
export const ExitCode = {
  /** Every critical job succeeded (or the command did what it was asked). */
  ok: 0,
  /** A critical job failed or was interrupted by the failure mode. */
  failed: 1,
  /** Bad usage or an invalid task file; nothing ran. */
  usage: 2,
  /** Interrupted by SIGINT or SIGTERM. */
  interrupted: 130
} as const

/** The command's result, set by its handler and read by main. */
export interface Outcome {
  code: number
}

/** Loads a task file and plans its DAG (or the named jobs and what they need). */
export const loadPlan = (file: string, jobs: ReadonlyArray<string> = []): Effect.Effect<Dag.Plan, SetupError> =>
  Effect.flatMap(Loader.load(file), (loaded) => Dag.plan(loaded.dag, jobs))

/** Prints a setup error to stderr and sets exit code 2. */
export const reportSetupError = (outcome: Outcome) => (error: SetupError) =>
  Effect.sync(() => {
    process.stderr.write(`runner: ${error.message}\n`)
    outcome.code = ExitCode.usage
  })

/** Writes to stdout. */
export const print = (text: string) => Effect.sync(() => process.stdout.write(text.endsWith("\n") ? text : text + "\n"))
