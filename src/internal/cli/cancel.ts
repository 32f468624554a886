/**
 * `runner cancel <runId>`: stops a cluster run. The run's RunWorkflow is interrupted; its coordinator interrupts the
 * jobs where they run and journals the run as interrupted. Waits (up to `--timeout`) for the journal to say so.
 * Exit 0 once the run ended interrupted (or was asked to and `--timeout` passed: it says so); 2 for an unknown run or
 * one no cluster executes (it ended, or it is a local run: stop that process with SIGTERM).
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as SqlClient from "effect/sql/SqlClient"
import { InvalidOption } from "../../Errors.ts"
import * as duration from "../duration.ts"
import { RunNotFound } from "../SetupErrors.ts"
import * as Dialect from "../sql/Dialect.ts"
import { journalFlag, print } from "./common.ts"
import { InFile, NotCancellable } from "./exit.ts"
import { requirePostgres } from "./worker.ts"

const flags = {
  runId: Argument.String("runId").pipe(Argument.withDescription("the run to stop (runner history lists them)")),
  journal: journalFlag,
  timeout: Flag.String("timeout").pipe(
    Flag.withDescription("how long to wait for the run to end interrupted (default 60s)"),
    Flag.withDefault("60 seconds")
  )
}

/** The run's status and the RunWorkflow execution that last began it (from its journaled executions). */
const lookup = (runId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ status: string; executions: string }>`SELECT status, executions FROM runs WHERE id = ${runId}`
    const row = rows[0]
    if (row === undefined) return undefined
    let execution: string | undefined
    try {
      for (const entry of JSON.parse(row.executions) as Array<{ cluster?: { execution?: unknown } }>) {
        if (typeof entry?.cluster?.execution === "string") execution = entry.cluster.execution
      }
    } catch {
      // not JSON: no cluster execution known
    }
    return { status: row.status, execution }
  })

const handler = (input: { readonly runId: string; readonly journal: Option.Option<string>; readonly timeout: string }) =>
  Effect.gen(function*() {
    const url = yield* requirePostgres(input.journal, "runner cancel")
    const timeout = yield* Effect.try({
      try: () => duration.parse(input.timeout as Duration.Input, "--timeout"),
      catch: (error) => error as InvalidOption
    })
    const [Settings, Engine, Workflows] = yield* Effect.promise(() =>
      Promise.all([import("../cluster/Settings.ts"), import("../cluster/Engine.ts"), import("../cluster/Workflows.ts")])
    )
    const settings = yield* Settings.resolve({ lease: Option.none(), grace: Option.none() })
    yield* Effect.gen(function*() {
      const run = yield* lookup(input.runId)
      if (run === undefined) return yield* new RunNotFound({ runId: input.runId, journal: Dialect.redact(url) })
      if (run.status !== "running" && run.status !== "created") {
        return yield* new NotCancellable({ runId: input.runId, reason: `it already ended (${run.status})` })
      }
      if (run.execution === undefined) {
        return yield* new NotCancellable({ runId: input.runId, reason: "no cluster executes it (a local run: stop its process with SIGTERM)" })
      }
      yield* Workflows.RunWorkflow.interrupt(run.execution)
      const ended = yield* lookup(input.runId).pipe(
        Effect.repeat({
          schedule: Schedule.spaced(Duration.millis(250)),
          until: (now) => now !== undefined && now.status !== "running" && now.status !== "created"
        }),
        Effect.timeoutOption(timeout)
      )
      yield* print(
        Option.isSome(ended)
          ? `run ${input.runId} cancelled: it ended ${ended.value?.status}`
          : `run ${input.runId}: cancel requested; it has not ended after ${Duration.format(timeout)} (runner show ${input.runId})`
      )
    }).pipe(
      Effect.provide(Engine.layerClient(url, settings).pipe(Layer.orDie)),
      Effect.catchTag("SqlError", (error) =>
        Effect.fail(new InFile({ file: Dialect.redact(url), error: new InvalidOption({ where: "journal", reason: error.message }) })))
    )
  })

export const command = Command.make("cancel", flags, handler).pipe(
  Command.withDescription("Stop a cluster run (--cluster): its jobs are interrupted where they run; it ends interrupted")
)
