/**
 * The `cache` option as task files write it: validated when the file loads (each bad value names the job and the
 * option), normalised, and a DAG's default applied to the jobs that set none.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { Dag, Job } from "../src/index.ts"
import * as CachePolicy from "../src/internal/cache/Policy.ts"

const message = (f: () => unknown): string => {
  try {
    f()
  } catch (error) {
    return (error as Error).message
  }
  return "(no error)"
}

const run = () => Effect.void

describe("cache option", () => {
  it("true and objects are normalised; env names sorted and deduplicated; ttl parsed", () => {
    const plain = Job.make("a", { cache: true, run })
    assert.deepStrictEqual(plain.cache, { files: [], env: [], outputs: [], version: "", ttl: undefined, root: undefined })
    const full = Job.command("b", ["true"], {
      cache: { files: ["src/**/*.ts"], env: ["NODE_ENV", "CI", "CI"], outputs: ["dist/**"], version: "2", ttl: "7 days" }
    })
    assert.ok(full.cache !== false && full.cache !== undefined)
    assert.deepStrictEqual(full.cache.env, ["CI", "NODE_ENV"])
    assert.deepStrictEqual(full.cache.files, ["src/**/*.ts"])
    assert.strictEqual(Duration.toMillis(full.cache.ttl!), 7 * 24 * 3600 * 1000)
    assert.strictEqual(Job.make("c", { cache: { ttl: "12h" }, run }).cache && Duration.toHours((Job.make("c", { cache: { ttl: "12h" }, run }).cache as CachePolicy.Policy).ttl!), 12)
    assert.strictEqual(Job.make("d", { cache: false, run }).cache, false)
    assert.strictEqual(Job.make("e", { run }).cache, undefined)
  })

  it("bad values fail when the file loads, naming the job and the option", () => {
    assert.match(message(() => Job.make("build", { cache: { env: ["NODE-ENV", "1X", "OK"] }, run })), /job "build" cache\.env.*"NODE-ENV", "1X" are not valid environment variable names/)
    assert.match(message(() => Job.make("build", { cache: { env: ["A B"] }, run })), /job "build" cache\.env.*"A B" is not a valid/)
    assert.match(message(() => Job.make("report", { cache: { ttl: "a week" as never }, run })), /job "report" cache\.ttl.*invalid duration "a week"/)
    assert.match(message(() => Job.make("report", { cache: { ttl: -5 }, run })), /job "report" cache\.ttl/)
    assert.match(message(() => Job.make("x", { cache: { files: "src/*.ts" } as never, run })), /job "x" cache\.files.*array of non-empty globs/)
    assert.match(message(() => Job.make("x", { cache: { files: [""] }, run })), /job "x" cache\.files/)
    assert.match(message(() => Job.make("x", { cache: { version: 2 } as never, run })), /job "x" cache\.version.*string/)
    assert.match(message(() => Job.make("x", { cache: { file: ["a"] } as never, run })), /job "x" cache.*unknown option "file"/)
    assert.match(message(() => Job.make("x", { cache: "yes" as never, run })), /job "x" cache.*must be true, false or/)
    assert.match(message(() => Dag.make("nightly", [], { cache: { ttl: "soon" as never } })), /dag "nightly" cache\.ttl/)
  })

  it("a DAG's cache is the default of its jobs; a job's own wins; false opts out", () => {
    const dag = Dag.make("d", [], { cache: { version: "dag" } })
    const own = Job.make("own", { cache: { version: "job" }, run })
    const none = Job.make("none", { run })
    const out = Job.make("out", { cache: false, run })
    assert.strictEqual(CachePolicy.effective(own.cache, dag.cache)?.version, "job")
    assert.strictEqual(CachePolicy.effective(none.cache, dag.cache)?.version, "dag")
    assert.strictEqual(CachePolicy.effective(out.cache, dag.cache), undefined)
    assert.strictEqual(CachePolicy.effective(none.cache, undefined), undefined)
  })
})
