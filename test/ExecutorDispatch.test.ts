import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Dag from "../src/Dag.ts"
import * as Job from "../src/Job.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as RunLogger from "../src/internal/RunLogger.ts"
import type * as RunEvent from "../src/internal/RunEvent.ts"
import { collectingReporter, type Collected, eventsOf, jobOf, services } from "./support/run.ts"

const a = Job.make("a", { output: Schema.DateTimeUtcFromString, run: () => Effect.die("runs elsewhere") })
const b = Job.make("b", { needs: { a }, run: () => Effect.die("runs elsewhere") })
const c = Job.make("c", { needs: { b }, run: () => Effect.die("runs elsewhere") })
const dag = Dag.make("dispatched", [a, b, c])

const runWith = (dispatch: Executor.Dispatch, collected: Collected) =>
  Effect.flatMap(Plan.plan(dag), (plan) =>
    Executor.run(plan, { runId: "r", concurrency: 2, failureMode: "no-new", dispatch }).pipe(
      Effect.provide(Layer.mergeAll(
        services,
        RunLogger.layer.pipe(Layer.provideMerge(Layer.mergeAll(Journal.layerMemory, collectingReporter(collected))))
      ))
    ))

describe("Executor dispatch", () => {
  it.effect("takes a dispatched success as committed (never journaled again) and a failure as RemoteJobFailed", () =>
    Effect.gen(function*() {
      const collected: Collected = { events: [], logs: [] }
      const asked: Array<string> = []
      const result = yield* runWith((job) =>
        Effect.sync((): Executor.Dispatched => {
          asked.push(job.jobId)
          return job.jobId === "a"
            ? { _tag: "Succeeded", json: JSON.stringify("2026-12-05T00:00:00.000Z"), attempt: 2, at: 1 }
            : { _tag: "Failed", error: "Error: boom on worker", attempt: 3 }
        }), collected)
      assert.deepStrictEqual(asked, ["a", "b"])
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(jobOf(result, "a").status, "succeeded")
      assert.strictEqual(jobOf(result, "a").attempts, 2)
      assert.strictEqual(jobOf(result, "b").status, "failed")
      assert.strictEqual(jobOf(result, "b").attempts, 3)
      assert.include(jobOf(result, "b").detail ?? "", "boom on worker")
      assert.strictEqual(jobOf(result, "c").status, "skipped")
      // The worker journals attempts and successes; the loop journals none of them again.
      assert.strictEqual(eventsOf(collected.events, "AttemptSucceeded").length, 0)
      assert.strictEqual(eventsOf(collected.events, "AttemptStarted").length, 0)
      const failure = result.failed.find((f: RunEvent.JobFailure) => f.jobId === "b")
      assert.strictEqual((failure?.cause as unknown as { reasons: ReadonlyArray<{ error?: { _tag?: string } }> }).reasons[0]?.error?._tag, "RemoteJobFailed")
    }))

  it.live("interrupting the run interrupts the dispatched jobs", () =>
    Effect.gen(function*() {
      const collected: Collected = { events: [], logs: [] }
      const interrupted: Array<string> = []
      const fiber = yield* Effect.forkChild(runWith((job) =>
        Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted.push(job.jobId)))), collected))
      yield* Effect.sleep(20)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(interrupted, ["a"])
      const finished = eventsOf(collected.events, "RunFinished")[0]!
      assert.strictEqual(finished.status, "interrupted")
    }))

  it.effect("a local run's jobs see Job.Current with fencing token 0", () =>
    Effect.gen(function*() {
      const seen = Job.make("seen", { run: () => Effect.all([Job.Current, Job.fencingToken]) })
      const collected: Collected = { events: [], logs: [] }
      const plan = yield* Plan.plan(Dag.make("local", [seen]))
      const result = yield* Executor.run(plan, { runId: "r2", concurrency: 1, failureMode: "no-new" }).pipe(
        Effect.provide(Layer.mergeAll(
          services,
          RunLogger.layer.pipe(Layer.provideMerge(Layer.mergeAll(Journal.layerMemory, collectingReporter(collected))))
        ))
      )
      assert.strictEqual(result.status, "succeeded")
      const success = eventsOf(collected.events, "AttemptSucceeded", "seen")[0]!
      assert.deepStrictEqual(success.output, [{ runId: "r2", jobId: "seen", fencingToken: 0 }, 0])
      assert.strictEqual(yield* Job.fencingToken, 0)
    }))
})
