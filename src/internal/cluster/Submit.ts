/**
 * Submitting a run to the cluster and following it (`runner <file> --cluster`): the run becomes a RunWorkflow whose
 * execution id is made from the DAG, the run key and a generation, then the submitter shows it from the journal
 * (Follow.ts) until the workflow's result arrives. The generation makes a key whose run ended unfinished (failed,
 * interrupted) run again when submitted again, while submissions of a key whose run is going join it (re-attach),
 * as do two submissions at once. The run belongs to the cluster: the submitter dying does not stop it.
 */
import * as crypto from "node:crypto"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as SqlClient from "effect/sql/SqlClient"
import * as WorkflowEngine from "effect/workflow/WorkflowEngine"
import type * as RunEvent from "../RunEvent.ts"
import { JournalError } from "../Journal.ts"
import type { Reporter } from "../reporter/Reporter.ts"
import * as Follow from "./Follow.ts"
import * as Workflows from "./Workflows.ts"

export interface Request {
  readonly dag: string
  /** Only these jobs and what they need (empty: all). */
  readonly jobs: ReadonlyArray<string>
  /** The run key; none: a new run (under a key made here, `cluster-<random>`). */
  readonly key: string | undefined
  readonly force: boolean
  readonly concurrency: number
  readonly failureMode: RunEvent.FailureMode
  readonly trigger: string
  /** Who submits, journaled with the run's executions. */
  readonly audit: unknown
  /** The jobs that are not critical (the journal does not say; the summary does). Default: none. */
  readonly nonCritical?: ReadonlyArray<string>
  /** Show the run as it goes (the Reporter gets its events and logs). Default: true; false only waits for its end. */
  readonly follow?: boolean
}

export type Outcome =
  | Workflows.RunOutcome
  /** The key's run succeeded already (and no --force): nothing was submitted. */
  | { readonly _tag: "AlreadyDone"; readonly runId: string; readonly key: string }

/** What the journal says of a key's latest run: its id and status, and the generation of its last cluster execution. */
const latestRun = (dag: string, key: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ id: string; status: string; executions: string }>`
      SELECT id, status, executions FROM runs WHERE dag = ${dag} AND run_key = ${key} ORDER BY started_at DESC LIMIT 1`
    const row = rows[0]
    if (row === undefined) return undefined
    let generation: number | undefined
    try {
      for (const execution of JSON.parse(row.executions) as Array<{ cluster?: { generation?: unknown } }>) {
        if (typeof execution?.cluster?.generation === "number") generation = execution.cluster.generation
      }
    } catch {
      // executions not JSON: no cluster execution known
    }
    return { id: row.id, status: row.status, generation }
  })

/**
 * The generation to submit: 0 for a key never run; the last one while the key's run is going (join it); the next one
 * once it ended unfinished, or succeeded and `--force` runs it again.
 */
export const generationOf = (
  latest: { readonly status: string; readonly generation: number | undefined } | undefined
): number => {
  if (latest === undefined) return 0
  const last = latest.generation
  if (latest.status === "running" || latest.status === "created") return last ?? 0
  return last === undefined ? 1 : last + 1
}

/** The run id of the execution, once its coordinator has begun it (the journal's executions name it). */
const runIdOf = (dag: string, key: string, executionId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ id: string }>`SELECT id FROM runs WHERE dag = ${dag} AND run_key = ${key}
      AND executions LIKE ${`%${executionId}%`} ORDER BY started_at DESC LIMIT 1`
    return Option.fromNullishOr(rows[0]?.id)
  })

/** The workflow's result, polled: a run the engine interrupted (`runner cancel`) reads as interrupted. */
const awaitResult = (executionId: string, runId: () => string) =>
  Workflows.RunWorkflow.poll(executionId).pipe(
    Effect.repeat({
      schedule: Schedule.spaced(Duration.millis(500)),
      until: (result) => Option.isSome(result) && result.value._tag === "Complete"
    }),
    Effect.map((result): Workflows.RunOutcome => {
      const complete = Option.getOrUndefined(result)
      if (complete?._tag === "Complete" && complete.exit._tag === "Success") return complete.exit.value
      return { _tag: "Finished", runId: runId(), status: "interrupted" }
    })
  )

/**
 * Submits the run (or joins the execution of its key already going) and follows it to its end, reporting it as a
 * local run is reported. Returns how it ended.
 */
export const submit = (
  request: Request
): Effect.Effect<Outcome, JournalError, WorkflowEngine.WorkflowEngine | SqlClient.SqlClient | Reporter> =>
  Effect.gen(function*() {
    const key = request.key ?? `cluster-${crypto.randomBytes(6).toString("hex")}`
    const latest = yield* latestRun(request.dag, key)
    if (latest?.status === "succeeded" && !request.force) return { _tag: "AlreadyDone", runId: latest.id, key } as const
    const payload = {
      dag: request.dag,
      key,
      generation: generationOf(latest),
      force: request.force,
      jobs: request.jobs,
      concurrency: request.concurrency,
      failureMode: request.failureMode,
      trigger: request.trigger,
      audit: JSON.stringify(request.audit ?? {}, (_k, v) => typeof v === "bigint" ? v.toString() : v)
    }
    const executionId = yield* Workflows.RunWorkflow.execute(payload, { discard: true })
    let runId = ""
    const result = yield* Effect.cached(awaitResult(executionId, () => runId))
    // The run's id is the coordinator's to make: wait until it has begun the run (or the execution ended without).
    const found = yield* Effect.raceFirst(
      runIdOf(request.dag, key, executionId).pipe(
        Effect.repeat({ schedule: Schedule.spaced(Duration.millis(250)), until: Option.isSome }),
        Effect.map((id) => ({ _tag: "Run", id: Option.getOrThrow(id) }) as const)
      ),
      Effect.map(result, (outcome) => ({ _tag: "Ended", outcome }) as const)
    )
    if (found._tag === "Ended") {
      const late = yield* runIdOf(request.dag, key, executionId)
      if (Option.isNone(late)) return found.outcome
      runId = late.value
    } else runId = found.id
    if (request.follow === false) return yield* result
    const engine = yield* WorkflowEngine.WorkflowEngine
    const finished = yield* Follow.follow(runId, {
      until: Effect.provideService(Effect.asVoid(result), WorkflowEngine.WorkflowEngine, engine),
      nonCritical: request.nonCritical ?? []
    })
    const outcome = yield* result
    // How the run ended is the journal's to say (the workflow's own result may be an engine's interruption).
    return outcome._tag === "Finished" && finished !== undefined ? { ...outcome, runId, status: finished.status } : outcome
  }).pipe(
    Effect.catchTag("SqlError", (error) => Effect.fail(new JournalError({ operation: "submit", reason: error.message })))
  )
