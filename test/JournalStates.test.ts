/**
 * What the journal says about each job when a run is interrupted at an awkward moment must match what happened, and
 * what the run reports: a retry delay, a success being committed, a job that finished just before the interrupt.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as Dag from "../src/Dag.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Reporter from "../src/internal/reporter/Reporter.ts"
import type * as RunEvent from "../src/internal/RunEvent.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { withDb } from "./support/db.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-states-")

interface Rows {
  readonly jobs: ReadonlyArray<{ job_id: string; status: string; error: string | null }>
  readonly attempts: ReadonlyArray<{ job_id: string; attempt: number; status: string; error: string | null }>
  readonly run: string
}

const rowsOf = (file: string): Rows =>
  withDb(file, (db) => ({
    jobs: db.prepare("SELECT job_id, status, error FROM jobs ORDER BY job_id").all() as unknown as Rows["jobs"],
    attempts: db.prepare("SELECT job_id, attempt, status, error FROM attempts ORDER BY id").all() as unknown as Rows["attempts"],
    run: (db.prepare("SELECT status FROM runs").get() as { status: string }).status
  }))

/**
 * Runs `dag` on a SQLite journal in a fiber; `interruptWhen` decides (from each event) when to interrupt it, or the
 * jobs interrupt it themselves through `self`.
 */
const runInterrupted = (
  file: string,
  makeDag: (self: { fiber: Fiber.Fiber<unknown, unknown> | undefined }) => Dag.Dag,
  interruptWhen: (event: RunEvent.RunEvent) => boolean = () => false,
  delayMillis = 0
) =>
  Effect.scoped(Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const begun = yield* journal.begin({
      dag: "states", target: { _tag: "New" }, definitionHash: "h", trigger: "test", runnerVersion: "test", wait: false
    })
    if (begun._tag !== "Run") return assert.fail("not begun")
    const self: { fiber: Fiber.Fiber<unknown, unknown> | undefined } = { fiber: undefined }
    const plan = yield* Plan.plan(makeDag(self))
    const signal = yield* Deferred.make<void>()
    const reporter = Layer.succeed(Reporter.Reporter)(Reporter.Reporter.of({
      event: (event) => interruptWhen(event) ? Deferred.succeed(signal, undefined) : Effect.void,
      log: () => {}
    }))
    const fiber = yield* Effect.forkChild(
      Executor.run(plan, { runId: begun.runId, concurrency: 4, failureMode: "no-new" }).pipe(
        Effect.provide(Layer.mergeAll(NodeServices.layer, FetchHttpClient.layer, reporter))
      )
    )
    self.fiber = fiber
    const interrupter = yield* Effect.forkChild(
      Effect.andThen(Deferred.await(signal), Effect.andThen(Effect.sleep(delayMillis), Fiber.interrupt(fiber)))
    )
    yield* Fiber.await(fiber)
    yield* Fiber.interrupt(interrupter)
    // The executor's summary as the RunFinished event reported it is what the run said; compare with the journal.
  })).pipe(Effect.provide(SqlJournal.layerSqlite({ filename: file, durability: "normal", busyTimeoutMillis: 50 })))

describe("journal states on interruption", () => {
  it.live("interrupted during a retry delay: the failed attempt keeps its error; the job is interrupted", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "j.db")
      yield* runInterrupted(
        file,
        () =>
          Dag.make("states", [Job.make("flaky", {
            retry: { times: 3, delay: "10 seconds" },
            run: () => Effect.fail("boom")
          })]),
        (event) => event._tag === "AttemptFailed"
      )
      const rows = rowsOf(file)
      assert.deepStrictEqual(rows.attempts.map((a) => [a.status, a.error]), [["failed", "boom"]])
      assert.deepStrictEqual(rows.jobs.map((j) => j.status), ["interrupted"])
      assert.strictEqual(rows.run, "interrupted")
    }))

  it.live("interrupted while a success is being committed: the run waits for it; journal and summary say succeeded", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "j.db")
      let released: Promise<void> | undefined
      let finished: RunEvent.RunFinished | undefined
      yield* runInterrupted(
        file,
        () =>
          Dag.make("states", [Job.make("slowCommit", {
            // Another connection takes SQLite's write lock for 600 ms: this job's success waits to be committed.
            run: () =>
              Effect.sync(() => {
                const db = new DatabaseSync(file)
                db.exec("BEGIN IMMEDIATE")
                released = new Promise((resolve) =>
                  setTimeout(() => {
                    db.exec("COMMIT")
                    db.close()
                    resolve()
                  }, 600)
                )
                return 1
              })
          })]),
        (event) => {
          if (event._tag === "RunFinished") finished = event
          return event._tag === "AttemptStarted"
        },
        200
      )
      yield* Effect.promise(() => released ?? Promise.resolve())
      const rows = rowsOf(file)
      assert.deepStrictEqual(rows.jobs.map((j) => j.status), ["succeeded"])
      assert.deepStrictEqual(rows.attempts.map((a) => a.status), ["succeeded"])
      assert.strictEqual(rows.run, "interrupted")
      assert.deepStrictEqual(finished?.jobs.map((j) => j.status), ["succeeded"])
    }))

  it.live("a job that succeeded just before the interrupt: no row is left running; its success is committed", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "j.db")
      let finished: RunEvent.RunFinished | undefined
      yield* runInterrupted(
        file,
        // Interrupts the run and returns in the same step: the run is interrupted before it takes this result.
        (self) => Dag.make("states", [Job.make("last", { run: () => Effect.sync(() => (self.fiber?.interruptUnsafe(), 7)) })]),
        (event) => {
          if (event._tag === "RunFinished") finished = event
          return false
        }
      )
      const rows = rowsOf(file)
      assert.deepStrictEqual(rows.jobs.map((j) => [j.job_id, j.status]), [["last", "succeeded"]])
      assert.deepStrictEqual(rows.attempts.map((a) => [a.job_id, a.status]), [["last", "succeeded"]])
      assert.strictEqual(rows.run, "interrupted")
      assert.deepStrictEqual(finished?.jobs.map((j) => [j.jobId, j.status]), [["last", "succeeded"]])
    }))

  it.live("a job that failed just before the interrupt: journaled and reported as failed, not interrupted", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "j.db")
      let finished: RunEvent.RunFinished | undefined
      yield* runInterrupted(
        file,
        (self) =>
          Dag.make("states", [
            Job.make("failing", { run: () => Effect.sync(() => self.fiber?.interruptUnsafe()).pipe(Effect.andThen(Effect.fail("no"))) })
          ]),
        (event) => {
          if (event._tag === "RunFinished") finished = event
          return false
        }
      )
      const rows = rowsOf(file)
      assert.deepStrictEqual(rows.jobs.map((j) => [j.job_id, j.status, j.error]), [["failing", "failed", "no"]])
      assert.deepStrictEqual(rows.attempts.map((a) => [a.job_id, a.status, a.error]), [["failing", "failed", "no"]])
      assert.strictEqual(rows.run, "interrupted")
      assert.deepStrictEqual(finished?.jobs.map((j) => [j.jobId, j.status]), [["failing", "failed"]])
    }))
})
