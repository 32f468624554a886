/**
 * One run of a plan as the CLI and the scheduler start it: pick or create the run in the journal (new, resume, or a
 * run key) holding its lock, restore what already succeeded, execute the rest, and say how it ended.
 */
import * as Effect from "effect/Effect"
import type * as Audit from "./Audit.ts"
import type * as Dag from "./Dag.ts"
import * as Executor from "./Executor.ts"
import type * as Job from "./Job.ts"
import * as Journal from "./Journal.ts"
import type { Reporter } from "./Reporter.ts"
import * as Resume from "./Resume.ts"
import type * as RunEvent from "./RunEvent.ts"

export interface Request {
  readonly plan: Dag.Plan
  readonly target: Journal.Target
  readonly concurrency: number
  readonly failureMode: RunEvent.FailureMode
  /** Who started the run: "cli", "schedule", ... (shown by `runner history`/`show`). */
  readonly trigger: string
  readonly runnerVersion: string
  /** Wait for another process's lock instead of failing with RunLocked. */
  readonly wait: boolean
  /** Who and what executes the run, recorded in the journal. */
  readonly audit?: Audit.Audit
}

export type Outcome =
  | { readonly _tag: "Finished"; readonly result: Executor.Result }
  | { readonly _tag: "AlreadySucceeded"; readonly runId: string; readonly key: string }
  | { readonly _tag: "NothingToResume"; readonly runId: string | undefined }

/** Runs the plan under the journal's lock for the run; the lock is released when this returns. */
export const execute = (
  request: Request
): Effect.Effect<Outcome, Journal.JournalError | Journal.RunLocked, Journal.Journal | Reporter | Job.Services> =>
  Effect.scoped(Effect.gen(function*() {
    const { plan } = request
    const journal = yield* Journal.Journal
    const begun = yield* journal.begin({
      dag: plan.dag.name,
      target: request.target,
      definitionHash: plan.definitionHash,
      trigger: request.trigger,
      runnerVersion: request.runnerVersion,
      wait: request.wait,
      audit: request.audit
    })
    if (begun._tag !== "Run") return begun
    const decision = begun.resumed
      ? yield* Effect.flatMap(journal.succeeded(begun.runId), (rows) => Resume.decide(plan, rows))
      : { restored: new Map<string, unknown>(), notes: [] }
    for (const note of decision.notes) yield* Effect.logWarning(note)
    const result = yield* Executor.run(plan, {
      runId: begun.runId,
      concurrency: request.concurrency,
      failureMode: request.failureMode,
      restored: decision.restored,
      resumed: begun.resumed
    })
    return { _tag: "Finished", result } as const
  }))
