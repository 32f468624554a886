import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Dag from "../src/Dag.ts"
import * as Job from "../src/Job.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Reporter from "../src/internal/reporter/Reporter.ts"
import * as Resume from "../src/internal/Resume.ts"
import type * as RunEvent from "../src/internal/RunEvent.ts"
import { services } from "./support/run.ts"

const a = Job.make("a", { run: () => Effect.succeed(1) })
const b = Job.make("b", { needs: { a }, run: ({ a }) => Effect.succeed(a + 1) })
const c = Job.make("c", { needs: { a, b }, run: () => Effect.void })
const dag = Dag.make("memory", [c])
const silent = Layer.succeed(Reporter.Reporter)(Reporter.Reporter.of({ event: () => Effect.void, log: () => {} }))

/** A fresh memory journal (its layer built on its own: nothing to release). */
const memoryJournal = Effect.provide(Effect.gen(function*() {
  return yield* Journal.Journal
}), Journal.layerMemory)

/** Runs `dag` on `journal` as a new run; returns its id. */
const runOn = (journal: Journal.Journal["Service"]) =>
  Effect.scoped(Effect.gen(function*() {
    const plan = yield* Plan.plan(dag)
    const begun = yield* journal.begin({ dag: "memory", target: { _tag: "New" }, definitionHash: "x", trigger: "test", runnerVersion: "test", wait: false })
    if (begun._tag !== "Run") throw new Error("no run")
    const result = yield* Executor.run(plan, { runId: begun.runId, concurrency: 2, failureMode: "no-new" }).pipe(
      Effect.provideService(Journal.Journal, journal),
      Effect.provide(Layer.merge(silent, services))
    )
    assert.strictEqual(result.status, "succeeded")
    return { runId: begun.runId, plan }
  }))

describe("Executor on the memory journal", () => {
  it.effect("journals each success's definition hash, made when succeeded() reads it, as the hash of its definition", () =>
    Effect.gen(function*() {
      const journal = yield* memoryJournal
      assert.isDefined(Journal.recordInMemory(journal))
      const { plan, runId } = yield* runOn(journal)
      const rows = yield* journal.succeeded(runId)
      assert.deepStrictEqual(rows.map((row) => row.jobId).sort(), ["a", "b", "c"])
      const hashes = Resume.definitionHashes(plan)
      for (const row of rows) {
        const index = plan.jobs.findIndex((p) => p.job.id === row.jobId)
        assert.strictEqual(row.definitionHash, hashes.of(index))
        assert.strictEqual(row.definitionHash, Resume.definitionHash(plan.jobs[index]!.job))
      }
      // Read again: the same (made once, kept).
      assert.deepStrictEqual(yield* journal.succeeded(runId), rows)
      assert.deepStrictEqual(rows.find((row) => row.jobId === "b")!.json, "2")
    }))

  it.effect("a journal that is not the memory one gets every success's hash as text with its record", () =>
    Effect.gen(function*() {
      const memory = yield* memoryJournal
      const recorded: Array<{ readonly event: RunEvent.RunEvent; readonly definitionHash: unknown }> = []
      // A wrapper: the recorder cannot take the memory journal's plain record through it.
      const wrapped = Journal.Journal.of({
        ...memory,
        record: (event, definitionHash) => {
          recorded.push({ event, definitionHash })
          return memory.record(event, definitionHash)
        }
      })
      assert.isUndefined(Journal.recordInMemory(wrapped))
      const { plan, runId } = yield* runOn(wrapped)
      const successes = recorded.filter((r) => r.event._tag === "AttemptSucceeded")
      assert.strictEqual(successes.length, 3)
      for (const { definitionHash, event } of successes) {
        const index = plan.jobs.findIndex((p) => p.job.id === (event as RunEvent.AttemptSucceeded).jobId)
        assert.strictEqual(definitionHash, Resume.definitionHash(plan.jobs[index]!.job))
      }
      for (const r of recorded) if (r.event._tag !== "AttemptSucceeded") assert.isUndefined(r.definitionHash)
      // The same records reach the journal either way.
      const rows = yield* memory.succeeded(runId)
      assert.deepStrictEqual(rows.map((row) => row.jobId).sort(), ["a", "b", "c"])
    }))
})
