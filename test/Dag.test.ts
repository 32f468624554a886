import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Dag from "../src/Dag.ts"
import * as define from "../src/internal/define.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Job from "../src/Job.ts"
import * as Resource from "../src/Resource.ts"

const noop = () => Effect.void

describe("Dag", () => {
  it.effect("includes what the named jobs need, transitively, in dependency order with levels", () =>
    Effect.gen(function*() {
      const a = Job.make("a", { run: noop })
      const b = Job.make("b", { needs: { a }, run: noop })
      const c = Job.make("c", { needs: { a }, run: noop })
      const d = Job.make("d", { needs: { b, c }, run: noop })
      const plan = yield* Plan.plan(Dag.make("x", [d]))
      assert.deepStrictEqual(plan.jobs.map((p) => p.job.id), ["a", "b", "c", "d"])
      assert.deepStrictEqual(plan.levels.map((l) => l.map((i) => plan.jobs[i]!.job.id)), [["a"], ["b", "c"], ["d"]])
      assert.deepStrictEqual(plan.jobs[3]!.deps, [{ name: "b", index: 1 }, { name: "c", index: 2 }])
    }))

  it.effect("composes DAGs: a Dag's jobs can be listed inside another", () =>
    Effect.gen(function*() {
      const a = Job.make("a", { run: noop })
      const inner = Dag.make("inner", [a])
      const b = Job.make("b", { needs: { a }, run: noop })
      const plan = yield* Plan.plan(Dag.make("outer", [inner, b]))
      assert.deepStrictEqual(plan.jobs.map((p) => p.job.id), ["a", "b"])
    }))

  it.effect("reports two different jobs with the same id, with both places", () =>
    Effect.gen(function*() {
      const one = Job.make("same", { run: noop })
      const two = Job.make("same", { run: noop })
      const error = yield* Effect.flip(Plan.plan(Dag.make("x", [one, two])))
      assert.strictEqual(error._tag, "DuplicateJobId")
      assert.match(error.message, /job id "same" is defined twice: at test\/Dag\.test\.ts:\d+:\d+ and at test\/Dag\.test\.ts:\d+:\d+/)
    }))

  it("records where its first 1,000 jobs defined at once were made; past that, none, until the next stretch", async () => {
    const jobs = Array.from({ length: 1_002 }, (_, i) => Job.make(`j${i}`, { run: noop }))
    const dag = Dag.make("many", jobs)
    assert.match(jobs[0]!.definedAt ?? "", /^test\/Dag\.test\.ts:\d+:\d+$/)
    assert.match(jobs[999]!.definedAt ?? "", /^test\/Dag\.test\.ts:\d+:\d+$/)
    assert.strictEqual(jobs[1_000]!.definedAt, undefined)
    assert.deepStrictEqual(jobs[1_001]!.definedVia, [])
    // The DAG's own place is always recorded (a cached job without its own counts the DAG's modules).
    assert.match(dag.definedVia[0] ?? "", /^test\/Dag\.test\.ts:\d+:\d+$/)
    // A duplicate past the first 1,000 says its place was not recorded.
    const twin = Job.make("j0", { run: noop })
    const error = await Effect.runPromise(Effect.flip(Plan.plan(Dag.make("x", [jobs[0]!, twin]))))
    assert.match(error.message, /job id "j0" is defined twice: at test\/Dag\.test\.ts:\d+:\d+ and at a place not recorded \(only the first 1000 jobs defined at once record theirs\)/)
    // After an await, a new stretch: recorded again.
    await Promise.resolve()
    assert.match(Job.make("later", { run: noop }).definedAt ?? "", /^test\/Dag\.test\.ts:\d+:\d+$/)
  })

  it("records every job's place while recordAllSites is on (a workspace run), and stops after", () => {
    const was = define.recordAllSites(true)
    try {
      const jobs = Array.from({ length: 1_001 }, (_, i) => Job.make(`w${i}`, { run: noop }))
      assert.match(jobs[1_000]!.definedAt ?? "", /^test\/Dag\.test\.ts:\d+:\d+$/)
    } finally {
      define.recordAllSites(was)
    }
    assert.strictEqual(Job.make("after", { run: noop }).definedAt, undefined)
  })

  it.effect("reports a cycle with its path", () =>
    Effect.gen(function*() {
      const a = Job.make("a", { run: noop })
      const b = Job.make("b", { needs: { a }, run: noop })
      const c = Job.make("c", { needs: { b }, run: noop })
      ;(a.needs as Record<string, Job.Any>)["c"] = c
      const error = yield* Effect.flip(Plan.plan(Dag.make("x", [c])))
      assert.strictEqual(error._tag, "CycleDetected")
      assert.strictEqual(error.message, "jobs depend on each other in a cycle: c -> b -> a -> c")
    }))

  it.effect("reports a need that is not a job (an import cycle leaves it undefined)", () =>
    Effect.gen(function*() {
      const b = Job.make("b", { needs: { a: undefined as unknown as Job.Any }, run: noop })
      const error = yield* Effect.flip(Plan.plan(Dag.make("x", [b])))
      assert.strictEqual(error._tag, "MissingDependency")
      assert.match(error.message, /job "b" needs "a", which is not a job \(found undefined\)/)
    }))

  it.effect("reports unknown jobs in a selection, listing the available ones", () =>
    Effect.gen(function*() {
      const a = Job.make("a", { run: noop })
      const error = yield* Effect.flip(Plan.plan(Dag.make("x", [a]), ["nope"]))
      assert.strictEqual(error.message, `unknown job "nope"; the DAG has: a`)
    }))

  it.effect("rejects one resource name defined twice with different limits", () =>
    Effect.gen(function*() {
      const r1 = Resource.make("db", { concurrency: 1 })
      const r2 = Resource.make("db", { concurrency: 2 })
      const a = Job.make("a", { uses: [r1], run: noop })
      const b = Job.make("b", { uses: [r2], run: noop })
      const error = yield* Effect.flip(Plan.plan(Dag.make("x", [a, b])))
      assert.match(error.message, /resource "db": is defined twice with different limits/)
    }))

  it("validates options when the task file loads", () => {
    assert.throws(() => Dag.make("x", [], { concurrency: 0 }), /dag "x" concurrency: must be a whole number >= 1, got 0/)
    assert.throws(() => Job.make("t", { timeout: "5 bananas" as never, run: noop }), /job "t" timeout: invalid duration "5 bananas"/)
    assert.throws(() => Job.make("t", { timeout: -5, run: noop }), /invalid duration/)
    assert.throws(() => Job.make("t", { retry: { times: -1 }, run: noop }), /job "t" retry.times: must be a whole number >= 0/)
    assert.throws(() => Resource.make("r", { concurrency: 0 }), /resource "r" concurrency: must be a whole number >= 1/)
    assert.throws(() => Resource.make("r", { rate: { limit: 5, per: "soon" as never } }), /resource "r" rate.per: invalid duration/)
    assert.throws(() => Job.shell("s", []), /argv must be a non-empty array/)
    assert.throws(() => Dag.make("x", [undefined as unknown as Job.Any]), /dag "x" jobs\[0\]: is not a job or DAG \(found undefined\)/)
  })

  it("Job.cmd keeps every interpolated value one argument and rejects shell syntax", () => {
    const file = `it's a "file"; rm -rf /`
    assert.deepStrictEqual(Job.cmd`tar -czf ${file} -C ${"/data dir"} .`, ["tar", "-czf", file, "-C", "/data dir", "."])
    assert.throws(() => Job.cmd`ls | wc -l`, /Job.cmd/)
  })
})
