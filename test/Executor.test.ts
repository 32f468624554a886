import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/testing/TestClock"
import * as Dag from "../src/Dag.ts"
import * as Job from "../src/Job.ts"
import * as Resource from "../src/Resource.ts"
import { type Collected, eventsOf, jobOf, runDag } from "./support/run.ts"

/** A job that records when it ran, for ordering assertions. */
const tracker = () => {
  const spans = new Map<string, { start: number; end: number }>()
  let inFlight = 0
  let maxInFlight = 0
  let seq = 0
  const track = <A, E, R>(id: string, effect: Effect.Effect<A, E, R>) =>
    Effect.suspend(() => {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      const start = seq++
      return effect.pipe(Effect.ensuring(Effect.sync(() => {
        inFlight--
        spans.set(id, { start, end: seq++ })
      })))
    })
  return { spans, track, max: () => maxInFlight }
}

/** A random layered DAG: `levels` levels of `width` jobs, each needing up to 3 jobs of the previous level. */
const layeredDag = (levels: number, width: number, work: (id: string) => Effect.Effect<unknown>) => {
  const all: Array<Job.Any> = []
  let previous: Array<Job.Any> = []
  let seed = 7
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647
  for (let l = 0; l < levels; l++) {
    const current: Array<Job.Any> = []
    for (let w = 0; w < width; w++) {
      const id = `j${l}-${w}`
      const needs: Record<string, Job.Any> = {}
      for (let k = 0; k < Math.min(3, previous.length); k++) {
        const dep = previous[Math.floor(random() * previous.length)]!
        needs[dep.id] = dep
      }
      current.push(Job.make(id, { needs, run: () => work(id) }))
    }
    all.push(...current)
    previous = current
  }
  return Dag.make("layered", all)
}

describe("Executor", () => {
  it.live("runs every job after all the jobs it needs, never exceeding --concurrency (300 jobs)", () =>
    Effect.gen(function*() {
      const t = tracker()
      const dag = layeredDag(10, 30, (id) => t.track(id, Effect.sleep(Math.random() < 0.5 ? 1 : 0)))
      const { result } = yield* runDag(dag, { concurrency: 5 })
      assert.strictEqual(result.status, "succeeded")
      assert.strictEqual(result.jobs.length, 300)
      assert.isAtMost(t.max(), 5)
      assert.isAtLeast(t.max(), 2)
      for (const job of dag.jobs) {
        for (const need of Object.values(job.needs)) {
          assert.isBelow(t.spans.get(need.id)!.end, t.spans.get(job.id)!.start, `${need.id} before ${job.id}`)
        }
      }
    }))

  it.effect("passes each needed job's output to its dependents under the name it was needed by", () =>
    Effect.gen(function*() {
      const numbers = Job.make("numbers", { run: () => Effect.succeed([1, 2, 3]) })
      const label = Job.make("label", { run: () => Effect.succeed("sum") })
      const sum = Job.make("sum", {
        needs: { xs: numbers, label },
        run: ({ label, xs }) => Effect.succeed(`${label}=${xs.reduce((a, b) => a + b, 0)}`)
      })
      const { events, result } = yield* runDag(Dag.make("d", [sum]))
      assert.strictEqual(result.status, "succeeded")
      const done = eventsOf(events, "AttemptSucceeded", "sum")
      assert.strictEqual(done[0]?.output, "sum=6")
    }))

  // The executor's short paths for a job that returns nothing (no encoding, one context change for its services and
  // log annotations, its commit in its own fiber) record what the general path records.
  it.effect("a job that returns nothing journals its attempt and a success without output; its logs name it and its attempt", () =>
    Effect.gen(function*() {
      let seen: { keys: Array<string>; config: unknown; quiet: unknown } | undefined
      const quiet = Job.make("quiet", { run: () => Effect.log("hello") })
      const after = Job.make("after", {
        needs: { quiet },
        run: (inputs) => Effect.sync(() => void (seen = { keys: Object.keys(inputs), config: inputs.config, quiet: inputs.quiet }))
      })
      const { events, logs, result } = yield* runDag(Dag.make("d", [after]))
      assert.strictEqual(result.status, "succeeded")
      const mine = events.filter((e) => "jobId" in e && e.jobId === "quiet").map((e) => e._tag)
      assert.deepStrictEqual(mine, ["AttemptStarted", "AttemptSucceeded"])
      const done = eventsOf(events, "AttemptSucceeded", "quiet")[0]!
      assert.strictEqual(done.attempt, 1)
      assert.strictEqual(done.output, undefined)
      assert.strictEqual(done.json, undefined)
      assert.isTrue("json" in done)
      const hello = logs.find((entry) => entry.message === "hello")
      assert.strictEqual(hello?.jobId, "quiet")
      assert.strictEqual(hello?.attempt, 1)
      // Its dependent sees its needs as own properties, and its config (none) from the prototype.
      assert.deepStrictEqual(seen, { keys: ["quiet"], config: {}, quiet: undefined })
      assert.deepStrictEqual(result.jobs.map((job) => [job.jobId, job.status, job.attempts]), [["quiet", "succeeded", 1], ["after", "succeeded", 1]])
    }))

  it.effect("encodes outputs with the job's output schema for the journal", () =>
    Effect.gen(function*() {
      const when = Job.make("when", {
        output: Schema.Struct({ at: Schema.DateTimeUtcFromMillis }),
        run: () => Effect.map(Clock.currentTimeMillis, () => ({ at: (Schema.decodeSync(Schema.DateTimeUtcFromMillis))(86_400_000) }))
      })
      const { events } = yield* runDag(Dag.make("d", [when]))
      assert.strictEqual(eventsOf(events, "AttemptSucceeded", "when")[0]?.json, `{"at":86400000}`)
    }))

  it.effect("an output that does not match its schema fails the job without retrying", () =>
    Effect.gen(function*() {
      const bad = Job.make("bad", {
        output: Schema.Struct({ n: Schema.Number }),
        retry: { times: 3 },
        run: () => Effect.succeed({ n: "not a number" } as unknown as { n: number })
      })
      const { result } = yield* runDag(Dag.make("d", [bad]))
      assert.strictEqual(jobOf(result, "bad").status, "failed")
      assert.strictEqual(jobOf(result, "bad").attempts, 1)
      assert.match(jobOf(result, "bad").detail!, /OutputInvalid/)
    }))

  it.effect("retries typed failures with exponential backoff and logs every attempt with the next delay", () =>
    Effect.gen(function*() {
      let calls = 0
      const flaky = Job.make("flaky", {
        retry: { times: 4, delay: "200 millis", factor: 2 },
        run: () => Effect.suspend(() => ++calls < 4 ? Effect.fail(`boom ${calls}`) : Effect.succeed(calls))
      })
      const fiber = yield* Effect.forkChild(runDag(Dag.make("d", [flaky])))
      yield* TestClock.adjust("10 seconds")
      const { events, result } = yield* Fiber.join(fiber)
      assert.strictEqual(result.status, "succeeded")
      assert.strictEqual(jobOf(result, "flaky").attempts, 4)
      const failures = eventsOf(events, "AttemptFailed", "flaky")
      assert.deepStrictEqual(failures.map((f) => f.attempt), [1, 2, 3])
      assert.deepStrictEqual(failures.map((f) => f.retryInMillis), [200, 400, 800])
      assert.deepStrictEqual(failures.map((f) => f.error), ["boom 1", "boom 2", "boom 3"])
      const starts = eventsOf(events, "AttemptStarted", "flaky").map((e) => e.at)
      assert.deepStrictEqual(starts.slice(1).map((at, i) => at - starts[i]!), [200, 400, 800])
    }))

  it.effect("stops after the last retry and reports the final failure", () =>
    Effect.gen(function*() {
      const doomed = Job.make("doomed", { retry: { times: 2, delay: "1 second" }, run: () => Effect.fail("always") })
      const fiber = yield* Effect.forkChild(runDag(Dag.make("d", [doomed])))
      yield* TestClock.adjust("1 minute")
      const { events, result } = yield* Fiber.join(fiber)
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(jobOf(result, "doomed").attempts, 3)
      assert.deepStrictEqual(eventsOf(events, "AttemptFailed").map((f) => f.retryInMillis), [1000, 2000, undefined])
    }))

  it.effect("keeps jittered delays within 0.8-1.2x of the backoff and under maxDelay", () =>
    Effect.gen(function*() {
      const doomed = Job.make("doomed", {
        retry: { times: 8, delay: "100 millis", factor: 2, jitter: true, maxDelay: "3 seconds" },
        run: () => Effect.fail("always")
      })
      const delays: Array<number> = []
      for (let run = 0; run < 5; run++) {
        const fiber = yield* Effect.forkChild(runDag(Dag.make("d", [doomed])))
        yield* TestClock.adjust("10 minutes")
        const { events } = yield* Fiber.join(fiber)
        delays.push(...eventsOf(events, "AttemptFailed").flatMap((f) => f.retryInMillis === undefined ? [] : [f.retryInMillis]))
      }
      assert.strictEqual(delays.length, 40)
      delays.forEach((delay, i) => {
        const nominal = 100 * 2 ** (i % 8)
        assert.isAtLeast(delay, Math.min(nominal * 0.8, 3000) - 1)
        assert.isAtMost(delay, Math.min(nominal * 1.2, 3000) + 1)
      })
      assert.isTrue(new Set(delays.slice(0, 8)).size > 1, "jitter varies the delays")
    }))

  it.effect("does not retry defects: a thrown exception is reported with its stack", () =>
    Effect.gen(function*() {
      const buggy = Job.make("buggy", {
        retry: { times: 5 },
        run: () =>
          Effect.sync(() => {
            throw new Error("kaboom in user code")
          })
      })
      const { result } = yield* runDag(Dag.make("d", [buggy]))
      const job = jobOf(result, "buggy")
      assert.strictEqual(job.status, "failed")
      assert.strictEqual(job.attempts, 1)
      assert.match(job.detail!, /kaboom in user code/)
      assert.match(job.detail!, /Executor\.test\.ts/)
    }))

  it.effect("times out each attempt; a timeout is a typed failure and is retried", () =>
    Effect.gen(function*() {
      let calls = 0
      const slow = Job.make("slow", {
        timeout: "1 second",
        retry: { times: 1, delay: "100 millis" },
        run: () => Effect.suspend(() => ++calls === 1 ? Effect.sleep("10 seconds") : Effect.succeed("fast"))
      })
      const fiber = yield* Effect.forkChild(runDag(Dag.make("d", [slow])))
      yield* TestClock.adjust("30 seconds")
      const { events, result } = yield* Fiber.join(fiber)
      assert.strictEqual(result.status, "succeeded")
      const failure = eventsOf(events, "AttemptFailed", "slow")[0]!
      assert.match(failure.error, /JobTimeout: attempt timed out after 1s/)
      assert.strictEqual(failure.at - eventsOf(events, "AttemptStarted", "slow")[0]!.at, 1000)
    }))

  describe("failure modes", () => {
    // `a` fails at t=1s; `slow` runs until t=5s; `later` only starts when a slot frees (concurrency 2).
    const scenario = () => {
      const a = Job.make("a", { run: () => Effect.andThen(Effect.sleep("1 second"), Effect.fail("a broke")) })
      const slow = Job.make("slow", { run: () => Effect.as(Effect.sleep("5 seconds"), "slow done") })
      const later = Job.make("later", { run: () => Effect.succeed("later done") })
      const afterA = Job.make("after-a", { needs: { a }, run: () => Effect.void })
      return Dag.make("modes", [a, slow, later, afterA])
    }
    const runMode = (failureMode: "no-new" | "kill" | "continue") =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(runDag(scenario(), { concurrency: 2, failureMode }))
        yield* TestClock.adjust("1 minute")
        return yield* Fiber.join(fiber)
      })

    it.effect("no-new: running jobs finish, no new job starts, the rest are skipped with the reason", () =>
      Effect.gen(function*() {
        const { result } = yield* runMode("no-new")
        assert.strictEqual(result.status, "failed")
        assert.strictEqual(jobOf(result, "slow").status, "succeeded")
        assert.strictEqual(jobOf(result, "later").status, "skipped")
        assert.match(jobOf(result, "later").detail!, /critical job "a" failed/)
        assert.strictEqual(jobOf(result, "after-a").status, "skipped")
        assert.match(jobOf(result, "after-a").detail!, /needs "a", which failed/)
      }))

    it.effect("kill: running jobs are interrupted at once", () =>
      Effect.gen(function*() {
        const { result } = yield* runMode("kill")
        assert.strictEqual(result.status, "failed")
        assert.strictEqual(jobOf(result, "slow").status, "interrupted")
        assert.strictEqual(jobOf(result, "later").status, "skipped")
        assert.isBelow(result.durationMillis, 5000)
      }))

    it.effect("continue: every job whose needs succeeded runs; the run still fails", () =>
      Effect.gen(function*() {
        const { result } = yield* runMode("continue")
        assert.strictEqual(result.status, "failed")
        assert.strictEqual(jobOf(result, "slow").status, "succeeded")
        assert.strictEqual(jobOf(result, "later").status, "succeeded")
        assert.strictEqual(jobOf(result, "after-a").status, "skipped")
      }))
  })

  it.effect("a failed non-critical job skips its dependents and the run continues and succeeds", () =>
    Effect.gen(function*() {
      const optional = Job.make("optional", { critical: false, run: () => Effect.fail("meh") })
      const child = Job.make("child", { needs: { optional }, run: () => Effect.void })
      const grandchild = Job.make("grandchild", { needs: { child }, run: () => Effect.void })
      const other = Job.make("other", { run: () => Effect.succeed(1) })
      const { events, result } = yield* runDag(Dag.make("d", [grandchild, other]))
      assert.strictEqual(result.status, "succeeded")
      assert.strictEqual(jobOf(result, "optional").status, "failed")
      assert.strictEqual(jobOf(result, "other").status, "succeeded")
      assert.deepStrictEqual(eventsOf(events, "JobSkipped").map((e) => [e.jobId, e.reason]), [
        ["child", `needs "optional", which failed`],
        ["grandchild", `needs "child", which was skipped ("optional" failed)`]
      ])
    }))

  it.effect("interrupting the run interrupts running jobs and records the run as interrupted", () =>
    Effect.gen(function*() {
      let finalized = false
      const forever = Job.make("forever", { run: () => Effect.onInterrupt(Effect.never, () => Effect.sync(() => (finalized = true))) })
      const after = Job.make("after", { needs: { forever }, run: () => Effect.void })
      const collected: Collected = { events: [], logs: [] }
      const fiber = yield* Effect.forkChild(runDag(Dag.make("d", [after]), {}, collected))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      assert.isTrue(finalized, "the job's finalizer ran")
      assert.deepStrictEqual(eventsOf(collected.events, "JobInterrupted").map((e) => e.jobId), ["forever"])
      const finished = eventsOf(collected.events, "RunFinished")
      assert.strictEqual(finished.length, 1)
      assert.strictEqual(finished[0]!.status, "interrupted")
      assert.deepStrictEqual(finished[0]!.jobs.map((j) => [j.jobId, j.status]), [["forever", "interrupted"], ["after", "skipped"]])
    }))

  it.live("holds one permit of each used resource for the whole job; never more than its concurrency", () =>
    Effect.gen(function*() {
      const db = Resource.make("db", { concurrency: 3 })
      let inDb = 0
      let maxInDb = 0
      const jobs = Array.from({ length: 200 }, (_, i) =>
        Job.make(`q${i}`, {
          uses: [db],
          run: () =>
            Effect.acquireUseRelease(
              Effect.sync(() => (maxInDb = Math.max(maxInDb, ++inDb))),
              () => Effect.sleep(Math.random() < 0.3 ? 1 : 0),
              () => Effect.sync(() => inDb--)
            )
        }))
      const { result } = yield* runDag(Dag.make("d", jobs), { concurrency: 16 })
      assert.strictEqual(result.status, "succeeded")
      assert.strictEqual(maxInDb, 3)
    }))

  it.live("r.use gates calls inside jobs across the whole run and releases permits on failure", () =>
    Effect.gen(function*() {
      const api = Resource.make("api", { concurrency: 2 })
      let inApi = 0
      let maxInApi = 0
      const call = (fail: boolean) =>
        api.use(Effect.acquireUseRelease(
          Effect.sync(() => (maxInApi = Math.max(maxInApi, ++inApi))),
          () => fail ? Effect.andThen(Effect.sleep(1), Effect.fail("api error")) : Effect.sleep(1),
          () => Effect.sync(() => inApi--)
        ))
      const jobs = Array.from({ length: 20 }, (_, i) =>
        Job.make(`c${i}`, {
          critical: false,
          run: () => Effect.forEach([0, 1, 2, 3, 4], (k) => call(i % 5 === 0 && k === 2), { concurrency: 5 })
        }))
      const { result } = yield* runDag(Dag.make("d", jobs), { concurrency: 8 })
      assert.strictEqual(maxInApi, 2)
      assert.strictEqual(result.jobs.filter((j) => j.status === "failed").length, 4)
      assert.strictEqual(result.jobs.filter((j) => j.status === "succeeded").length, 16)
    }))

  it.live("a job that uses a resource can call r.use inside without waiting for a second permit", () =>
    Effect.gen(function*() {
      const api = Resource.make("api", { concurrency: 1 })
      let inside = 0
      let maxInside = 0
      const jobs = [1, 2, 3].map((i) =>
        Job.make(`j${i}`, {
          uses: [api],
          timeout: "5 seconds",
          run: () =>
            Effect.acquireUseRelease(
              Effect.sync(() => (maxInside = Math.max(maxInside, ++inside))),
              () => Effect.forEach([1, 2, 3], () => api.use(Effect.sleep(1)), { concurrency: 3 }),
              () => Effect.sync(() => inside--)
            )
        }))
      const { result } = yield* runDag(Dag.make("d", jobs), { concurrency: 3 })
      assert.strictEqual(result.status, "succeeded")
      assert.strictEqual(maxInside, 1, "jobs holding the resource never overlap")
    }))

  it.effect("rate limits: never more than `limit` starts in any window of `per`", () =>
    Effect.gen(function*() {
      const api = Resource.make("api", { rate: { limit: 10, per: "1 second" } })
      const starts: Array<number> = []
      const jobs = Array.from({ length: 5 }, (_, i) =>
        Job.make(`r${i}`, {
          run: () =>
            Effect.forEach(
              Array.from({ length: 9 }, (_, k) => k),
              () => api.use(Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => starts.push(now)))),
              { concurrency: 3 }
            )
        }))
      const fiber = yield* Effect.forkChild(runDag(Dag.make("d", jobs), { concurrency: 5 }))
      yield* TestClock.adjust("1 minute")
      const { result } = yield* Fiber.join(fiber)
      assert.strictEqual(result.status, "succeeded")
      assert.strictEqual(starts.length, 45)
      starts.sort((a, b) => a - b)
      for (let i = 10; i < starts.length; i++) assert.isAtLeast(starts[i]! - starts[i - 10]!, 1000)
      assert.strictEqual(starts.at(-1)! - starts[0]!, 4000)
    }))

  it.effect("a job selection runs the named jobs and what they need, nothing else", () =>
    Effect.gen(function*() {
      const a = Job.make("a", { run: () => Effect.succeed(1) })
      const b = Job.make("b", { needs: { a }, run: () => Effect.succeed(2) })
      const c = Job.make("c", { run: () => Effect.succeed(3) })
      const { result } = yield* runDag(Dag.make("d", [b, c]), { selection: ["b"] })
      assert.deepStrictEqual(result.jobs.map((j) => j.jobId), ["a", "b"])
    }))
})
