import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/testing/TestClock"
import * as Dag from "../src/Dag.ts"
import { CircuitOpen, InvalidOption } from "../src/Errors.ts"
import * as Job from "../src/Job.ts"
import * as Resource from "../src/Resource.ts"
import * as resources from "../src/internal/resources.ts"
import { eventsOf, jobOf, runDag } from "./support/run.ts"

const breaker = { failures: 3, window: "1 minute", cooldown: "30 seconds" } as const

/** A service whose calls are counted and fail while `healthy` is false. */
const service = () => {
  const state = { calls: 0, healthy: false }
  const call = Effect.suspend(() => {
    state.calls++
    return state.healthy ? Effect.succeed("ok") : Effect.fail("503 Service Unavailable")
  })
  return { state, call }
}

/** Runs `effect` with a fresh registry, as the executor does for each run. */
const fresh = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, resources.CurrentRegistry, new resources.Registry())

/** How a call ended: "success", its typed error, or "other" (a defect or an interruption). */
const outcome = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) =>
    Exit.isSuccess(exit) ? "success" as const : Option.getOrElse(Exit.findErrorOption(exit), () => "other" as const))

const circuitOpen = (result: unknown): CircuitOpen => {
  assert.instanceOf(result, CircuitOpen)
  return result as CircuitOpen
}

/** The call reached the service, which failed it. */
const isPlainFailure = (result: unknown) => result === "503 Service Unavailable"

describe("Resource breaker", () => {
  it.effect("opens after `failures` failures within the window and then fails fast without running the call", () =>
    fresh(Effect.gen(function*() {
      const api = Resource.make("payments-api", { breaker })
      const svc = service()
      for (let i = 0; i < 3; i++) {
        assert.isTrue(isPlainFailure(yield* outcome(api.use(svc.call))), `call ${i + 1} reaches the service`)
        yield* TestClock.adjust("10 seconds")
      }
      assert.strictEqual(svc.state.calls, 3)
      // Opened at t=20s, so it may close at t=50s; now is t=30s.
      const refused = circuitOpen(yield* outcome(api.use(svc.call)))
      assert.strictEqual(refused.resource, "payments-api")
      assert.strictEqual(refused.retryInMillis, 20_000)
      assert.match(refused.message, /payments-api.*circuit breaker is open.*20s/)
      svc.state.healthy = true
      circuitOpen(yield* outcome(api.use(svc.call)))
      assert.strictEqual(svc.state.calls, 3, "an open breaker does not run the call")
    })))

  it.effect("stays closed when the failures are spread wider than the window", () =>
    fresh(Effect.gen(function*() {
      // A cooldown longer than the spacing, so that a wrongly opened breaker would refuse the next call.
      const api = Resource.make("payments-api", { breaker: { ...breaker, cooldown: "5 minutes" } })
      const svc = service()
      for (let i = 0; i < 6; i++) {
        assert.isTrue(isPlainFailure(yield* outcome(api.use(svc.call))), `call ${i + 1} reaches the service`)
        yield* TestClock.adjust("31 seconds") // at most 2 failures in any minute
      }
      assert.strictEqual(svc.state.calls, 6)
    })))

  it.effect("after the cooldown one probe runs; its success closes the breaker and resets the count", () =>
    fresh(Effect.gen(function*() {
      const api = Resource.make("payments-api", { breaker })
      const svc = service()
      for (let i = 0; i < 3; i++) yield* outcome(api.use(svc.call))
      circuitOpen(yield* outcome(api.use(svc.call)))
      yield* TestClock.adjust("29 seconds")
      circuitOpen(yield* outcome(api.use(svc.call)))
      yield* TestClock.adjust("1 second")
      svc.state.healthy = true
      assert.strictEqual(yield* outcome(api.use(svc.call)), "success")
      assert.strictEqual(svc.state.calls, 4)
      // Closed with the earlier failures forgotten: two new failures (below 3) leave it closed.
      svc.state.healthy = false
      yield* outcome(api.use(svc.call))
      yield* outcome(api.use(svc.call))
      assert.isTrue(isPlainFailure(yield* outcome(api.use(svc.call))))
      assert.strictEqual(svc.state.calls, 7)
      circuitOpen(yield* outcome(api.use(svc.call)))
      assert.strictEqual(svc.state.calls, 7)
    })))

  it.effect("a failed probe re-opens the breaker for another cooldown", () =>
    fresh(Effect.gen(function*() {
      const api = Resource.make("payments-api", { breaker })
      const svc = service()
      for (let i = 0; i < 3; i++) yield* outcome(api.use(svc.call))
      yield* TestClock.adjust("30 seconds")
      assert.isTrue(isPlainFailure(yield* outcome(api.use(svc.call))), "the probe runs")
      assert.strictEqual(svc.state.calls, 4)
      const refused = circuitOpen(yield* outcome(api.use(svc.call)))
      assert.strictEqual(refused.retryInMillis, 30_000)
      yield* TestClock.adjust("30 seconds")
      svc.state.healthy = true
      assert.strictEqual(yield* outcome(api.use(svc.call)), "success")
      assert.strictEqual(svc.state.calls, 5)
    })))

  it.effect("only one probe runs at a time; other calls fail fast meanwhile", () =>
    fresh(Effect.gen(function*() {
      const api = Resource.make("payments-api", { breaker })
      const svc = service()
      for (let i = 0; i < 3; i++) yield* outcome(api.use(svc.call))
      yield* TestClock.adjust("30 seconds")
      svc.state.healthy = true
      const probe = yield* Effect.forkChild(api.use(Effect.andThen(Effect.sleep("10 seconds"), svc.call)))
      yield* Effect.yieldNow
      const during = yield* Effect.all([outcome(api.use(svc.call)), outcome(api.use(svc.call))], { concurrency: 2 })
      for (const exit of during) assert.strictEqual(circuitOpen(exit).retryInMillis, 0)
      assert.strictEqual(svc.state.calls, 3, "only the probe has started")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* Fiber.join(probe), "ok")
      assert.strictEqual(yield* outcome(api.use(svc.call)), "success")
      assert.strictEqual(svc.state.calls, 5)
    })))

  it.effect("interruptions do not count as failures, and an interrupted probe lets the next call probe", () =>
    fresh(Effect.gen(function*() {
      const api = Resource.make("payments-api", { breaker })
      const svc = service()
      for (let i = 0; i < 5; i++) {
        const fiber = yield* Effect.forkChild(api.use(Effect.never))
        yield* Effect.yieldNow
        yield* Fiber.interrupt(fiber)
      }
      assert.isTrue(isPlainFailure(yield* outcome(api.use(svc.call))), "still closed after 5 interruptions")
      yield* outcome(api.use(svc.call))
      yield* outcome(api.use(svc.call))
      yield* TestClock.adjust("30 seconds")
      const probe = yield* Effect.forkChild(api.use(Effect.never))
      yield* Effect.yieldNow
      circuitOpen(yield* outcome(api.use(svc.call)))
      yield* Fiber.interrupt(probe)
      svc.state.healthy = true
      assert.strictEqual(yield* outcome(api.use(svc.call)), "success", "the next call is the probe")
    })))

  it.effect("a job using the resource fails fast with CircuitOpen and succeeds on a retry after the cooldown", () =>
    Effect.gen(function*() {
      const api = Resource.make("payments-api", { breaker })
      const svc = service()
      // Three failing calls open the breaker (the job swallows them so that `charge` may start).
      const probe = Job.make("probe", { run: () => Effect.forEach([1, 2, 3], () => Effect.ignore(api.use(svc.call)), { discard: true }) })
      const charge = Job.make("charge", {
        needs: { probe },
        uses: [api],
        retry: { times: 2, delay: "45 seconds" },
        run: () => Effect.andThen(Effect.sync(() => { svc.state.healthy = true }), api.use(svc.call))
      })
      const fiber = yield* Effect.forkChild(runDag(Dag.make("d", [charge])))
      yield* TestClock.adjust("2 minutes")
      const { events, logs, result } = yield* Fiber.join(fiber)
      assert.strictEqual(result.status, "succeeded")
      assert.strictEqual(jobOf(result, "charge").attempts, 2)
      const failures = eventsOf(events, "AttemptFailed", "charge")
      assert.strictEqual(failures.length, 1)
      assert.match(failures[0]!.error, /^CircuitOpen: resource "payments-api" is failing/)
      assert.strictEqual(failures[0]!.retryInMillis, 45_000)
      // The first attempt did not run (it would have marked the service healthy and called it).
      assert.strictEqual(svc.state.calls, 4)
      const messages = logs.map((l) => l.message)
      assert.include(messages, "circuit payments-api opened after 3 failures in 1m; calls fail fast for 30s")
      assert.include(messages, "circuit payments-api half-open: letting one probe call through")
      assert.include(messages, "circuit payments-api closed: the probe call succeeded")
      assert.strictEqual(logs.find((l) => l.message.includes("opened after"))!.level, "warn")
    }))

  it.effect("failed attempts of jobs holding the resource open the breaker; later attempts do not run", () =>
    Effect.gen(function*() {
      const api = Resource.make("payments-api", { breaker })
      const svc = service()
      const sync = Job.make("sync", { uses: [api], retry: { times: 4, delay: "1 second", factor: 1 }, run: () => svc.call })
      const fiber = yield* Effect.forkChild(runDag(Dag.make("d", [sync])))
      yield* TestClock.adjust("1 minute")
      const { events, result } = yield* Fiber.join(fiber)
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(jobOf(result, "sync").attempts, 5)
      assert.strictEqual(svc.state.calls, 3)
      const errors = eventsOf(events, "AttemptFailed", "sync").map((f) => f.error.split(":")[0])
      assert.deepStrictEqual(errors, ["503 Service Unavailable", "503 Service Unavailable", "503 Service Unavailable", "CircuitOpen", "CircuitOpen"])
    }))

  it.effect("timed-out attempts count as failures and open the breaker", () =>
    Effect.gen(function*() {
      const api = Resource.make("slow-api", { breaker })
      let calls = 0
      const hang = Job.make("hang", {
        uses: [api],
        timeout: "1 second",
        retry: { times: 4, delay: "1 second", factor: 1 },
        run: () => Effect.suspend(() => (calls++, Effect.never))
      })
      const fiber = yield* Effect.forkChild(runDag(Dag.make("d", [hang])))
      yield* TestClock.adjust("1 minute")
      const { events, result } = yield* Fiber.join(fiber)
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(calls, 3, "after 3 timeouts the breaker is open: no 4th call")
      const errors = eventsOf(events, "AttemptFailed", "hang").map((f) => f.error.split(":")[0])
      assert.deepStrictEqual(errors, ["JobTimeout", "JobTimeout", "JobTimeout", "CircuitOpen", "CircuitOpen"])
    }))

  it("rejects invalid breaker options with InvalidOption", () => {
    const bad = [
      { failures: 0, window: "1 minute", cooldown: "30 seconds" },
      { failures: 2.5, window: "1 minute", cooldown: "30 seconds" },
      { failures: 3, window: "soon", cooldown: "30 seconds" },
      { failures: 3, window: "1 minute", cooldown: "-5 seconds" },
      { failures: 3, window: "0 seconds", cooldown: "30 seconds" }
    ]
    for (const options of bad) {
      assert.throws(() => Resource.make("payments-api", { breaker: options as never }), InvalidOption)
      try {
        Resource.make("payments-api", { breaker: options as never })
      } catch (e) {
        assert.match((e as InvalidOption).message, /^resource "payments-api" breaker\.(failures|window|cooldown): /)
      }
    }
    assert.strictEqual(Resource.make("ok", { breaker: { failures: 1, window: "1 minute", cooldown: 500 } }).breaker?.failures, 1)
  })
})
