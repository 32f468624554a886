/**
 * The test kit (`effect-runner/test`): faults injected into named jobs, the self-advancing TestClock, crash and
 * resume on the same journal (memory and SQLite), typed results, and its errors for faults that name no job.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { Checkpoint, Dag, Job, Partition, Resource } from "effect-runner"
import type { JobTimeout } from "../src/Errors.ts"
import { Fault, TestRun } from "effect-runner/test"

class Unavailable extends Data.TaggedError("Unavailable")<{ readonly why: string }> {}

const makeEtl = () => {
  const runs = { extract: 0, transform: 0, load: 0 }
  const extract = Job.make("extract", {
    output: Schema.Struct({ rows: Schema.Number }),
    retry: { times: 3, delay: "10 minutes" },
    run: () => Effect.sync(() => (runs.extract++, { rows: 42 }))
  })
  const transform = Job.make("transform", {
    needs: { extract },
    run: ({ extract }) => Effect.sync(() => (runs.transform++, extract.rows * 2))
  })
  const load = Job.make("load", {
    needs: { transform },
    timeout: "1 minute",
    run: ({ transform }) => Effect.sync(() => (runs.load++, `loaded ${transform}`))
  })
  return { runs, extract, transform, load, dag: Dag.make("etl", [extract, transform, load]) }
}

describe("TestRun.run", () => {
  it.effect("a fault that fails twice is retried on the test clock: three attempts, the run succeeds, no real wait", () =>
    Effect.gen(function*() {
      const { dag, runs } = makeEtl()
      const started = Date.now()
      const result = yield* TestRun.run(dag, { faults: { extract: Fault.failTimes(2) }, now: 0 })
      TestRun.assertSucceeded(result)
      assert.strictEqual(result.jobs.extract.attempts, 3)
      assert.strictEqual(runs.extract, 1, "the failed attempts did not run the job's work")
      assert.deepStrictEqual(result.jobs.extract.output, { rows: 42 })
      const output: string | undefined = result.jobs.load.output
      assert.strictEqual(output, "loaded 84")
      // Two backoffs of 10 minutes in test-clock time, well under a second of real time.
      assert.isAtLeast(result.durationMillis, 20 * 60_000)
      assert.isAtLeast(result.jobs.extract.durationMillis, 20 * 60_000)
      assert.isBelow(Date.now() - started, 5_000)
      assert.lengthOf(result.jobs.extract.attemptErrors, 2)
      assert.include(result.jobs.extract.attemptErrors[0], "injected failure of job \"extract\" (attempt 1)")
      const tags = result.events.map((e) => e._tag)
      assert.strictEqual(tags[0], "RunStarted")
      assert.strictEqual(tags.at(-1), "RunFinished")
      assert.strictEqual(tags.filter((t) => t === "AttemptFailed").length, 2)
    }))

  it.effect("more failures than retries fail the job with the typed error, and skip its dependents", () =>
    Effect.gen(function*() {
      const { dag } = makeEtl()
      const result = yield* TestRun.run(dag, { faults: { extract: Fault.fail(new Unavailable({ why: "down" })) } })
      TestRun.assertStatus(result, "failed")
      assert.strictEqual(result.jobs.extract.status, "failed")
      assert.strictEqual(result.jobs.extract.attempts, 4)
      const error = TestRun.errorOf(result.jobs.extract)
      assert.instanceOf(error, Unavailable)
      assert.strictEqual(result.jobs.transform.status, "skipped")
      assert.strictEqual(result.jobs.load.status, "skipped")
      assert.throws(() => TestRun.assertSucceeded(result), /extract: failed, 4 attempt\(s\)/)
    }))

  it.effect("a delay meets the job's timeout: each attempt fails with JobTimeout after one test-clock minute", () =>
    Effect.gen(function*() {
      const { dag } = makeEtl()
      const result = yield* TestRun.run(dag, { faults: { load: Fault.delay("2 minutes") } })
      TestRun.assertStatus(result, "failed")
      const error = TestRun.errorOf(result.jobs.load)
      assert.strictEqual(error?._tag, "JobTimeout")
      assert.strictEqual(result.jobs.load.durationMillis, 60_000)
    }))

  it.effect("die is a defect, not retried; output replaces the work and reaches the dependents", () =>
    Effect.gen(function*() {
      const { dag, runs } = makeEtl()
      const died = yield* TestRun.run(dag, { faults: { extract: Fault.die(new Error("bug")) } })
      assert.strictEqual(died.jobs.extract.attempts, 1)
      assert.isTrue(Cause.hasDies(died.jobs.extract.error!))
      const replaced = yield* TestRun.run(dag, { faults: { extract: Fault.output({ rows: 1 }) } })
      TestRun.assertSucceeded(replaced)
      assert.strictEqual(replaced.jobs.load.output, "loaded 2")
      assert.strictEqual(runs.extract, 0)
    }))

  it.effect("sequence: one failure, then a crash on the second attempt", () =>
    Effect.gen(function*() {
      const { dag } = makeEtl()
      const result = yield* TestRun.run(dag, { faults: { extract: Fault.sequence(Fault.failTimes(1), Fault.crash) } })
      assert.strictEqual(result.status, "crashed")
      assert.strictEqual(result.jobs.extract.attempts, 2)
      assert.strictEqual(result.jobs.extract.status, "crashed")
      assert.strictEqual(result.jobs.load.status, "not started")
    }))

  it.effect("a command job's exit fault fails it with ShellExitError without running the program", () =>
    Effect.gen(function*() {
      const build = Job.command("build", ["definitely-not-a-program-xyz"], {})
      const result = yield* TestRun.run(Dag.make("b", [build]), { faults: { build: Fault.exit(3, "disk full") } })
      const error = TestRun.errorOf(result.jobs.build)
      assert.strictEqual(error?._tag, "ShellExitError")
      if (error?._tag === "ShellExitError") {
        assert.strictEqual(error.exitCode, 3)
        assert.deepStrictEqual(error.stderrTail, ["disk full"])
      }
      const ok = yield* TestRun.run(Dag.make("b", [build]), { faults: { build: Fault.exit(0) } })
      TestRun.assertSucceeded(ok)
    }))

  it.effect("a fault naming no job of the DAG fails with the job's name and the DAG's jobs", () =>
    Effect.gen(function*() {
      const { dag } = makeEtl()
      const untyped: Dag.Dag = dag
      const error = yield* Effect.flip(TestRun.run(untyped, { faults: { extrct: Fault.crash } }))
      assert.strictEqual(error._tag, "InvalidOption")
      assert.include(error.message, `dag "etl" has no job "extrct" (its jobs: extract, transform, load)`)
      // @ts-expect-error: a typed DAG's fault ids are checked by the compiler
      yield* Effect.flip(TestRun.run(dag, { faults: { extrct: Fault.crash } }))
      const shell = yield* Effect.flip(TestRun.run(dag, { faults: { load: Fault.exit(1) } }))
      assert.include(shell.message, "Fault.exit is for command jobs")
    }))

  it.effect("jobs, concurrency, config (secrets masked), now, partition and layer", () =>
    Effect.gen(function*() {
      class Greeter extends Data.Class<{ readonly greet: (name: string) => string }> {}
      const seen: Array<string> = []
      const job = Job.make("job", {
        config: { url: Config.String("DB_URL"), password: Config.Redacted("DB_PASSWORD") },
        run: ({ config }) =>
          Effect.gen(function*() {
            const slot = yield* Partition.current
            seen.push(slot.key, new Date(yield* Effect.clockWith((c) => c.currentTimeMillis)).toISOString())
            yield* Effect.log(`connecting to ${config.url} with ${Redacted.value(config.password)}`)
            return config.url
          })
      })
      const other = Job.make("other", { run: () => Effect.void })
      const dag = Dag.make("nightly", [job, other], { schedule: "0 2 * * *", timezone: "UTC" })
      const result = yield* TestRun.run(dag, {
        jobs: ["job"],
        concurrency: 1,
        config: { DB_URL: "postgres://db", DB_PASSWORD: Redacted.make("hunter2") },
        now: new Date("2026-01-02T02:00:00Z"),
        partition: "2026-01-02T02:00"
      })
      TestRun.assertSucceeded(result)
      assert.strictEqual(result.jobs.job.output, "postgres://db")
      assert.notProperty(result.jobs, "other")
      assert.deepStrictEqual(seen, ["2026-01-02T02:00", "2026-01-02T02:00:00.000Z"])
      const line = result.logs.find((l) => l.message.startsWith("connecting"))
      assert.strictEqual(line?.message, "connecting to postgres://db with ***")
      const missing = yield* Effect.flip(TestRun.run(dag, { jobs: ["job"], partition: "2026-01-02T02:00" }))
      assert.include(missing.message, "DB_URL")
      const notASlot = yield* Effect.flip(TestRun.run(dag, { jobs: ["other"], partition: "2026-01-02T03:00" }))
      assert.include(notASlot.message, `"2026-01-02T03:00" is not a slot of dag "nightly"'s schedule`)
      void Greeter
    }))

  it.effect("a layer option replaces the runner's HttpClient with a fake", () =>
    Effect.gen(function*() {
      const asked: Array<string> = []
      const fake = Layer.succeed(HttpClient.HttpClient)(HttpClient.make((request) =>
        Effect.sync(() => {
          asked.push(request.url)
          return HttpClientResponse.fromWeb(request, new Response(JSON.stringify({ names: ["ada"] })))
        })
      ))
      const job = Job.make("call", {
        run: () => HttpClient.get("https://api.invalid/names").pipe(Effect.flatMap((response) => response.json), Effect.orDie)
      })
      const result = yield* TestRun.run(Dag.make("x", [job]), { layer: fake })
      TestRun.assertSucceeded(result)
      assert.deepStrictEqual(result.jobs.call.output, { names: ["ada"] })
      assert.deepStrictEqual(asked, ["https://api.invalid/names"])
    }))

  it.effect("a rate limit's window and a breaker's cooldown pass on the test clock", () =>
    Effect.gen(function*() {
      const api = Resource.make("api", { rate: { limit: 1, per: "1 hour" } })
      const calls = Job.make("calls", { run: () => Effect.forEach([1, 2, 3], (i) => api.use(Effect.succeed(i))) })
      const started = Date.now()
      const result = yield* TestRun.run(Dag.make("rate", [calls]), { now: 0 })
      TestRun.assertSucceeded(result)
      assert.deepStrictEqual(result.jobs.calls.output, [1, 2, 3])
      assert.isAtLeast(result.jobs.calls.durationMillis, 2 * 3_600_000)
      assert.isBelow(Date.now() - started, 5_000)

      // Two injected failures (at 0 and 5 minutes) open the breaker; the third attempt waits out its 10-minute cooldown.
      const guarded = Resource.make("guarded", { breaker: { failures: 2, window: "1 hour", cooldown: "10 minutes" } })
      const job = Job.make("job", { uses: [guarded], retry: { times: 5, delay: "5 minutes" }, run: () => Effect.succeed("ok") })
      const broken = yield* TestRun.run(Dag.make("breaker", [job]), { faults: { job: Fault.failTimes(2) } })
      TestRun.assertSucceeded(broken)
      assert.strictEqual(broken.jobs.job.attempts, 3, TestRun.describe(broken))
      assert.strictEqual(broken.jobs.job.durationMillis, 15 * 60_000)
    }))

  it.live("a run that never ends stops when the test interrupts it (its clock driver with it)", () =>
    Effect.gen(function*() {
      // The driver always holds a timer or an immediate while it lives.
      const timers = () => process.getActiveResourcesInfo().filter((name) => name === "Timeout" || name === "Immediate").length
      const before = timers()
      const stuck = Job.make("stuck", { run: () => Effect.never })
      const outcome = yield* TestRun.run(Dag.make("stuck", [stuck])).pipe(Effect.timeoutOption("300 millis"))
      assert.isTrue(outcome._tag === "None")
      yield* Effect.sleep("50 millis")
      assert.strictEqual(timers(), before)
    }))

  it.effect("the clock waits for a command job's process; a process of the test's own does not stop it", () =>
    Effect.gen(function*() {
      // A real 300 ms command under a 1-minute timeout: the clock must not jump to the timeout while it runs.
      const nap = Job.command("nap", ["sleep", "0.3"], { timeout: "1 minute" })
      const napped = yield* TestRun.run(Dag.make("nap", [nap]))
      TestRun.assertSucceeded(napped)
      // The test's own long process (a database it started, say) is not the run's: retries still take no real time.
      const own = yield* Effect.acquireRelease(
        Effect.sync(() => spawn("sleep", ["30"], { stdio: "ignore" })),
        (child) => Effect.sync(() => child.kill())
      )
      assert.isDefined(own.pid)
      const { dag } = makeEtl()
      const started = Date.now()
      const retried = yield* TestRun.run(dag, { faults: { extract: Fault.failTimes(3) } })
      TestRun.assertSucceeded(retried)
      assert.isBelow(Date.now() - started, 5_000)
    }).pipe(Effect.scoped))

  it("types: a typed DAG's job ids (with the jobs they need) and outputs; an untyped DAG takes any id", () => {
    const { dag, load } = makeEtl()
    type Jobs = TestRun.Result<typeof dag>["jobs"]
    expectTypeOf<keyof Jobs>().toEqualTypeOf<"extract" | "transform" | "load">()
    expectTypeOf<Jobs["extract"]["output"]>().toEqualTypeOf<{ readonly rows: number } | undefined>()
    expectTypeOf<Jobs["load"]["output"]>().toEqualTypeOf<string | undefined>()
    const onlyLoad = Dag.make("only", [load])
    expectTypeOf<keyof TestRun.Result<typeof onlyLoad>["jobs"]>().toEqualTypeOf<"extract" | "transform" | "load">()
    const nested = Dag.make("nested", [onlyLoad, Job.make("extra", { run: () => Effect.succeed(true) })])
    expectTypeOf<TestRun.Result<typeof nested>["jobs"]["extra"]["output"]>().toEqualTypeOf<boolean | undefined>()
    expectTypeOf<TestRun.JobIds<typeof nested>>().toEqualTypeOf<"extract" | "transform" | "load" | "extra">()
    expectTypeOf<TestRun.JobIds<Dag.Dag>>().toEqualTypeOf<string>()
    // Job's and Dag's phantom parameters change no existing type: a job is still a `Job<A, E>`, a DAG a `Dag`.
    expectTypeOf(load).toEqualTypeOf<Job.Job<string, JobTimeout>>()
    expectTypeOf(dag).toEqualTypeOf<Dag.Dag>()
  })
})

describe("crash and resume", () => {
  const makeSteps = () => {
    const done: Array<string> = []
    const first = Job.make("first", { run: () => Effect.sync(() => (done.push("first"), 1)) })
    const steps = Job.make("steps", {
      needs: { first },
      run: ({ first }) =>
        Effect.forEach([1, 2, 3], (i) =>
          Effect.sync(() => (done.push(`step-${i}`), i * first)).pipe(Checkpoint.step(`item-${i}`)))
    })
    const last = Job.make("last", { needs: { steps }, run: ({ steps }) => Effect.sync(() => (done.push("last"), steps.length)) })
    return { done, dag: Dag.make("steps", [first, steps, last]) }
  }

  for (const journal of ["memory", "sqlite"] as const) {
    it.effect(`${journal}: a crash after a checkpoint keeps what was committed; resume skips it and finishes`, () =>
      Effect.gen(function*() {
        const { done, dag } = makeSteps()
        const crashed = yield* TestRun.run(dag, { journal, faults: { steps: Fault.crashAfterStep("item-2") } })
        assert.strictEqual(crashed.status, "crashed")
        assert.deepStrictEqual(done, ["first", "step-1", "step-2"])
        assert.strictEqual(crashed.jobs.first.status, "succeeded")
        assert.strictEqual(crashed.jobs.steps.status, "crashed")
        assert.strictEqual(crashed.jobs.last.status, "not started")
        assert.notInclude(crashed.events.map((e) => e._tag), "RunFinished")

        const resumed = yield* TestRun.resume(crashed)
        TestRun.assertSucceeded(resumed)
        assert.strictEqual(resumed.runId, crashed.runId)
        assert.deepStrictEqual(done, ["first", "step-1", "step-2", "step-3", "last"])
        assert.strictEqual(resumed.jobs.first.status, "restored")
        assert.strictEqual(resumed.jobs.first.output, 1)
        assert.deepStrictEqual(TestRun.ran(resumed), ["steps", "last"])
        assert.strictEqual(resumed.jobs.last.output, 3)
        assert.isTrue(resumed.events.some((e) => e._tag === "RunStarted" && e.resumed))
      }))
  }

  it.effect("Fault.crash: the process dies as the job starts; the failed run resumes with other faults", () =>
    Effect.gen(function*() {
      const { done, dag } = makeSteps()
      const crashed = yield* TestRun.run(dag, { faults: { last: Fault.crash } })
      assert.strictEqual(crashed.status, "crashed")
      assert.deepStrictEqual(done, ["first", "step-1", "step-2", "step-3"])
      const failed = yield* TestRun.resume(crashed, { faults: { last: Fault.fail("nope") } })
      TestRun.assertStatus(failed, "failed")
      assert.deepStrictEqual(TestRun.ran(failed), ["last"])
      const resumed = yield* TestRun.resume(failed)
      TestRun.assertSucceeded(resumed)
      assert.deepStrictEqual(done, ["first", "step-1", "step-2", "step-3", "last"])
      const finished = yield* Effect.flip(TestRun.resume(resumed))
      assert.include(finished.message, "has nothing to resume: it succeeded")
    }))

  it.effect("a restored job's output is the one the journal gives back, decoded by its schema (a Date stays a Date)", () =>
    Effect.gen(function*() {
      const stamp = Job.make("stamp", {
        output: Schema.Struct({ at: Schema.Date }),
        run: () => Effect.succeed({ at: new Date(86_400_000) })
      })
      const use = Job.make("use", { needs: { stamp }, run: ({ stamp }) => Effect.succeed(stamp.at.getTime()) })
      const crashed = yield* TestRun.run(Dag.make("dates", [use]), { faults: { use: Fault.crash } })
      const resumed = yield* TestRun.resume(crashed)
      assert.strictEqual(resumed.jobs.stamp.status, "restored")
      assert.notStrictEqual(resumed.jobs.stamp.output, crashed.jobs.stamp.output, "decoded again, not the first run's object")
      assert.deepStrictEqual(resumed.jobs.stamp.output, { at: new Date(86_400_000) })
      assert.strictEqual(resumed.jobs.use.output, 86_400_000)
    }))

  it.effect("a crash runs no DAG hook; a failure does", () =>
    Effect.gen(function*() {
      const heard: Array<string> = []
      const job = Job.make("job", { run: () => Effect.void })
      const dag = Dag.make("hooks", [job], { onFailure: (summary) => Effect.sync(() => void heard.push(summary.status)) })
      yield* TestRun.run(dag, { faults: { job: Fault.crash } })
      assert.deepStrictEqual(heard, [])
      yield* TestRun.run(dag, { faults: { job: Fault.fail("x") } })
      assert.deepStrictEqual(heard, ["failed"])
    }))
})

describe("Fault.sequence", () => {
  it.effect("each fault takes its attempts in turn; the last one's action repeats; a checkpoint crash takes none", () =>
    Effect.gen(function*() {
      let ran = 0
      const job = Job.make("job", {
        retry: { times: 5, delay: "1 second" },
        run: () => Effect.sync(() => ++ran).pipe(Checkpoint.step("once"))
      })
      const dag = Dag.make("seq", [job])
      const failing = yield* TestRun.run(dag, { faults: { job: Fault.sequence(Fault.fail("a"), Fault.die("b")) } })
      assert.strictEqual(failing.jobs.job.attempts, 2)
      assert.isTrue(Cause.hasDies(failing.jobs.job.error!))
      const passing = yield* TestRun.run(dag, { faults: { job: Fault.sequence(Fault.failTimes(2), Fault.none) } })
      assert.strictEqual(passing.jobs.job.attempts, 3)
      const crashing = yield* TestRun.run(dag, {
        faults: { job: Fault.sequence(Fault.crashAfterStep("once"), Fault.failTimes(1)) }
      })
      assert.strictEqual(crashing.status, "crashed")
      assert.strictEqual(crashing.jobs.job.attempts, 2, "attempt 1 failed, attempt 2 committed its step and died")
    }))
})
