/** Resources across jobs and attempts: one acquisition order, a permit and a rate slot per attempt, waits reported. */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/testing/TestClock"
import * as Dag from "../src/Dag.ts"
import * as stall from "../src/internal/stall.ts"
import * as Job from "../src/Job.ts"
import * as Resource from "../src/Resource.ts"
import { type Collected, eventsOf, jobOf, runDag } from "./support/run.ts"

describe("Resource", () => {
  it.live("jobs that use the same resources in opposite orders all run: permits are taken in one order, by name", () =>
    Effect.gen(function*() {
      const a = Resource.make("a", { concurrency: 1 })
      const b = Resource.make("b", { concurrency: 1 })
      const jobs = Array.from({ length: 20 }, (_, i) =>
        Job.make(`j${i}`, { uses: i % 2 === 0 ? [a, b] : [b, a], run: () => Effect.sleep(i % 3) }))
      const outcome = yield* runDag(Dag.make("crossed", jobs), { concurrency: 8 }).pipe(
        Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.succeed("stalled" as const) })
      )
      assert.notStrictEqual(outcome, "stalled", "the run deadlocked")
      if (outcome === "stalled") return
      assert.strictEqual(outcome.result.status, "succeeded")
      assert.deepStrictEqual(outcome.result.jobs.map((j) => j.status), jobs.map(() => "succeeded"))
    }))

  it.effect("each attempt takes its own rate-limit slot: retries do not bypass the limit", () =>
    Effect.gen(function*() {
      const api = Resource.make("api", { rate: { limit: 1, per: "10 seconds" } })
      let calls = 0
      const flaky = Job.make("flaky", {
        uses: [api],
        retry: { times: 3, delay: "1 second", factor: 1 },
        run: () => Effect.suspend(() => ++calls < 3 ? Effect.fail(`boom ${calls}`) : Effect.succeed(calls))
      })
      const fiber = yield* Effect.forkChild(runDag(Dag.make("d", [flaky])))
      yield* TestClock.adjust("1 minute")
      const { events, result } = yield* Fiber.join(fiber)
      assert.strictEqual(result.status, "succeeded")
      assert.deepStrictEqual(eventsOf(events, "AttemptStarted", "flaky").map((e) => e.at), [0, 10_000, 20_000])
      const waits = eventsOf(events, "JobWaiting", "flaky")
      assert.deepStrictEqual(waits.map((w) => [w.attempt, w.kind, w.resource, w.until, w.call]), [
        [2, "rate", "api", 10_000, false],
        [3, "rate", "api", 20_000, false]
      ])
      // 9 s of each 10 s gap was the rate limit (the other second the backoff).
      assert.strictEqual(jobOf(result, "flaky").waitedMillis, 18_000)
      assert.strictEqual(jobOf(result, "flaky").durationMillis, 20_000)
    }))

  it.effect("a job's permits are freed during its retry backoff: another job takes the permit meanwhile", () =>
    Effect.gen(function*() {
      const db = Resource.make("db", { concurrency: 1 })
      let calls = 0
      const flaky = Job.make("flaky", {
        uses: [db],
        retry: { times: 1, delay: "1 minute" },
        run: () => Effect.andThen(Effect.sleep("1 second"), Effect.suspend(() => ++calls < 2 ? Effect.fail("boom") : Effect.void))
      })
      const other = Job.make("other", { uses: [db], run: () => Effect.sleep("5 seconds") })
      const fiber = yield* Effect.forkChild(runDag(Dag.make("d", [flaky, other]), { concurrency: 2 }))
      yield* TestClock.adjust("5 minutes")
      const { events, result } = yield* Fiber.join(fiber)
      assert.strictEqual(result.status, "succeeded")
      assert.deepStrictEqual(eventsOf(events, "AttemptStarted", "flaky").map((e) => e.at), [0, 61_000])
      assert.deepStrictEqual(eventsOf(events, "AttemptStarted", "other").map((e) => e.at), [1_000], "during flaky's backoff")
      const waiting = eventsOf(events, "JobWaiting", "other")
      assert.deepStrictEqual(waiting.map((w) => [w.at, w.kind, w.resource, w.until]), [[0, "permit", "db", undefined]])
      assert.deepStrictEqual(eventsOf(events, "JobAdmitted", "other").map((w) => [w.at, w.waitedMillis]), [[1_000, 1_000]])
      assert.strictEqual(jobOf(result, "other").waitedMillis, 1_000)
      assert.strictEqual(jobOf(result, "flaky").waitedMillis, 0)
    }))

  it.effect("a job of a run that cannot make progress is described with what it waits for", () =>
    Effect.gen(function*() {
      const a = Resource.make("a", { concurrency: 1 })
      const b = Resource.make("b", { concurrency: 1 })
      // Each holds one resource and calls the other: no acquisition order prevents this one.
      const left = Job.make("left", { uses: [a], run: () => Effect.andThen(Effect.sleep("1 second"), b.use(Effect.void)) })
      const right = Job.make("right", { uses: [b], run: () => Effect.andThen(Effect.sleep("1 second"), a.use(Effect.void)) })
      const third = Job.make("third", { uses: [a], run: () => Effect.void })
      const after = Job.make("after", { needs: { left }, run: () => Effect.void })
      const collected: Collected = { events: [], logs: [] }
      const fiber = yield* Effect.forkChild(runDag(Dag.make("stuck", [left, right, third, after]), { concurrency: 4 }, collected))
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(stall.describe(), [
        "run test-run of stuck:",
        `  left: attempt 1 runs, a call inside waits for a permit of "b"`,
        `  right: attempt 1 runs, a call inside waits for a permit of "a"`,
        `  third: waits to start attempt 1 for a permit of "a"`,
        "  1 more job not started"
      ])
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(stall.describe(), [], "a finished run is no longer described")
    }))
})
