import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Deferred from "effect/Deferred"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Tracer from "effect/Tracer"
import * as Dag from "../src/Dag.ts"
import * as Job from "../src/Job.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as RunLogger from "../src/internal/RunLogger.ts"
import { collectingReporter, eventsOf, jobOf, runDag, services } from "./support/run.ts"
import { memoryTracer } from "./support/tracer.ts"

// A plain job (no cache, no spans, no retry, no resources) takes the executor's short path: its fiber starts with its
// services, its attempt's log annotation is put on the fiber and taken off by hand, its inputs are made a dictionary
// by two placeholder properties. These check what the general path did.
describe("Executor, plain jobs", () => {
  it.effect("the attempt's annotation covers the job's own logs only: a warning after its attempt has no attempt", () =>
    Effect.gen(function*() {
      // A Date is journaled as unrestorable: the executor warns after the attempt, outside it.
      const dated = Job.make("dated", { run: () => Effect.as(Effect.log("inside"), new Date(0)) })
      const { logs, result } = yield* runDag(Dag.make("d", [dated]))
      assert.strictEqual(result.status, "succeeded")
      const inside = logs.find((entry) => entry.message === "inside")
      assert.strictEqual(inside?.jobId, "dated")
      assert.strictEqual(inside?.attempt, 1)
      const warning = logs.find((entry) => entry.message.includes("will not be restored"))
      assert.strictEqual(warning?.jobId, "dated")
      assert.isUndefined(warning?.attempt)
    }))

  it.effect("a job whose run throws fails with the defect; its dependents are skipped", () =>
    Effect.gen(function*() {
      const throws = Job.make("throws", {
        run: (): Effect.Effect<void> => {
          throw new Error("boom")
        }
      })
      const after = Job.make("after", { needs: { throws }, run: () => Effect.void })
      const { events, result } = yield* runDag(Dag.make("d", [after]))
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(jobOf(result, "throws").status, "failed")
      assert.match(jobOf(result, "throws").detail ?? "", /boom/)
      assert.strictEqual(jobOf(result, "after").status, "skipped")
      assert.deepStrictEqual(eventsOf(events, "AttemptFailed", "throws").map((e) => e.attempt), [1])
    }))

  it.effect("inputs: the needs' outputs as own properties in order (a need may be named like a placeholder), config and Object's methods from the prototype chain", () =>
    Effect.gen(function*() {
      let seen: { keys: Array<string>; values: Array<unknown>; config: unknown; own: boolean; text: string } | undefined
      const one = Job.make("one", { run: () => Effect.succeed(1) })
      const two = Job.make("two", { run: () => Effect.succeed(2) })
      const three = Job.make("three", { run: () => Effect.succeed(3) })
      const all = Job.make("all", {
        needs: { __b: two, __a: one, c: three },
        run: (inputs) =>
          Effect.sync(() => {
            seen = {
              keys: Object.keys(inputs),
              values: Object.values(inputs),
              config: inputs.config,
              own: Object.prototype.hasOwnProperty.call(inputs, "config"),
              text: String(inputs)
            }
          })
      })
      const { result } = yield* runDag(Dag.make("d", [all]))
      assert.strictEqual(result.status, "succeeded")
      assert.deepStrictEqual(seen, { keys: ["__b", "__a", "c"], values: [2, 1, 3], config: {}, own: false, text: "[object Object]" })
    }))

  it.effect("a run of no-op jobs lets other fibers run while it goes (the loop yields every thousand jobs or so)", () =>
    Effect.gen(function*() {
      let ticks = 0
      const ticker = yield* Effect.forkChild(Effect.forever(Effect.andThen(Effect.sync(() => void ticks++), Effect.yieldNow)))
      let seen = -1
      const jobs = Array.from({ length: 5000 }, (_, i) =>
        Job.make(`n${i}`, { run: () => i === 4999 ? Effect.sync(() => void (seen = ticks)) : Effect.void }))
      const { result } = yield* runDag(Dag.make("d", jobs), { concurrency: 8 })
      yield* Fiber.interrupt(ticker)
      assert.strictEqual(result.status, "succeeded")
      assert.isAbove(seen, 0)
    }))

  it.effect("restored jobs: a JobRestored each, and a job span each (status restored) only while spans are exported", () =>
    Effect.gen(function*() {
      const a = Job.make("a", { run: () => Effect.succeed(1) })
      const b = Job.make("b", { needs: { a }, run: ({ a }) => Effect.succeed(a + 1) })
      const plan = yield* Plan.plan(Dag.make("d", [b]))
      const resume = (tracer: Tracer.Tracer | undefined) =>
        Effect.gen(function*() {
          const collected = { events: [], logs: [] }
          const run = Executor.run(plan, {
            runId: "resumed",
            concurrency: 2,
            failureMode: "no-new",
            restored: new Map([["a", { output: 1, json: "1" }]])
          }).pipe(
            Effect.provide(Layer.mergeAll(
              services,
              RunLogger.layer.pipe(Layer.provideMerge(Layer.mergeAll(Journal.layerMemory, collectingReporter(collected))))
            ))
          )
          const result = yield* (tracer === undefined ? run : Effect.withTracer(run, tracer))
          return { result, events: collected.events }
        })
      const { spans, tracer } = memoryTracer()
      const traced = yield* resume(tracer)
      assert.strictEqual(jobOf(traced.result, "b").status, "succeeded")
      assert.strictEqual(eventsOf(traced.events, "JobRestored", "a").length, 1)
      const restoredSpan = spans.find((span) => span.name === "job a")
      assert.strictEqual(restoredSpan?.attributes.get("runner.job.status"), "restored")
      assert.strictEqual(restoredSpan?.status._tag, "Ended")
      assert.isDefined(spans.find((span) => span.name === "job b"))

      const plain = yield* resume(undefined)
      assert.strictEqual(jobOf(plain.result, "b").status, "succeeded")
      assert.strictEqual(eventsOf(plain.events, "JobRestored", "a").length, 1)
    }))

  it.live("jobs that end faster than the journal commits run at most 64 ahead of it: the loop waits for commits", () =>
    Effect.gen(function*() {
      let bodies = 0
      const jobs = Array.from({ length: 300 }, (_, i) => Job.make(`j${i}`, { run: () => Effect.sync(() => void bodies++) }))
      const plan = yield* Plan.plan(Dag.make("d", jobs))
      const gate = yield* Deferred.make<void>()
      // A journal whose commits of successes wait for the gate: nothing becomes durable until it opens.
      const gated = Layer.effect(Journal.Journal)(Effect.map(Effect.service(Journal.Journal), (memory): Journal.Journal["Service"] => ({
        ...memory,
        record: (event, hash) =>
          event._tag === "AttemptSucceeded"
            ? Effect.andThen(Deferred.await(gate), memory.record(event, hash))
            : memory.record(event, hash)
      }))).pipe(Layer.provide(Journal.layerMemory))
      const collected = { events: [], logs: [] }
      const fiber = yield* Executor.run(plan, { runId: "gated", concurrency: 8, failureMode: "no-new" }).pipe(
        Effect.provide(Layer.mergeAll(
          services,
          RunLogger.layer.pipe(Layer.provideMerge(Layer.mergeAll(gated, collectingReporter(collected))))
        )),
        Effect.forkChild
      )
      yield* Effect.sleep("100 millis")
      // 64 waiting for their commit, and the 8 running (their bodies ran) that cannot end until one commits.
      assert.isAtMost(bodies, 64 + 8)
      assert.isAtLeast(bodies, 64)
      yield* Deferred.succeed(gate, undefined)
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.status, "succeeded")
      assert.strictEqual(bodies, 300)
    }))
})
