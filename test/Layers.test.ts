/** The user's layers: `Dag.make(..., { layer })` and a job's own `layer`, built once per run and released after it. */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Checkpoint from "../src/Checkpoint.ts"
import * as Dag from "../src/Dag.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/internal/Journal.ts"
import { type Collected, eventsOf, executeRun } from "./support/run.ts"
import { runner, type RuntimeName } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

class Counter extends Context.Service<Counter, { readonly next: () => number }>()("test/Layers/Counter") {}

/** A layer that counts its acquisitions and releases, and lets its users count through it. */
const tracked = () => {
  const stats = { acquired: 0, released: 0 }
  const layer = Layer.effect(Counter)(Effect.acquireRelease(
    Effect.sync(() => {
      stats.acquired++
      let n = 0
      return Counter.of({ next: () => ++n })
    }),
    () => Effect.sync(() => void stats.released++)
  ))
  return { stats, layer }
}

const fresh: Journal.Target = { _tag: "New" }
const resume: Journal.Target = { _tag: "Resume", runId: undefined }
const retry = { times: 2, delay: "1 millis" } as const

/** A job that uses the counter and fails its first attempt. */
const flaky = (id: string, attempts: Map<string, number>, drawn: Array<number> = []) =>
  Job.make(id, {
    retry,
    run: () =>
      Effect.gen(function*() {
        const counter = yield* Counter
        const attempt = (attempts.get(id) ?? 0) + 1
        attempts.set(id, attempt)
        if (attempt === 1) return yield* Effect.fail(`${id}: first attempt fails`)
        const n = counter.next()
        drawn.push(n)
        return n
      })
  })

describe("layers", () => {
  it.live("the DAG's layer is built once for 5 jobs with retries, shared, and released after the run", () =>
    Effect.gen(function*() {
      const { stats, layer } = tracked()
      const attempts = new Map<string, number>()
      const drawn: Array<number> = []
      const jobs = ["a", "b", "c", "d", "e"].map((id) => flaky(id, attempts, drawn))
      const seen = { released: -1 }
      const last = Job.make("last", {
        needs: { a: jobs[0]!, b: jobs[1]!, c: jobs[2]!, d: jobs[3]!, e: jobs[4]! },
        run: (inputs) => Effect.sync(() => {
          seen.released = stats.released
          return [inputs.a, inputs.b, inputs.c, inputs.d, inputs.e].sort()
        })
      })
      const { result } = yield* executeRun(Dag.make("layered", [last], { layer }), fresh)
      assert.strictEqual(result.status, "succeeded")
      assert.deepStrictEqual([...attempts.values()], [2, 2, 2, 2, 2])
      assert.deepStrictEqual(stats, { acquired: 1, released: 1 })
      // One shared instance: the five jobs drew 1..5 from the same counter; it was still there for the last job.
      assert.deepStrictEqual([...drawn].sort(), [1, 2, 3, 4, 5])
      assert.strictEqual(seen.released, 0)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.live("a job's own layer is built once for all its attempts, and released after the run", () =>
    Effect.gen(function*() {
      const { stats, layer } = tracked()
      const attempts = new Map<string, number>()
      const job = Job.make("own", {
        layer,
        retry,
        run: () =>
          Effect.gen(function*() {
            const counter = yield* Counter
            const attempt = (attempts.get("own") ?? 0) + 1
            attempts.set("own", attempt)
            return attempt < 3 ? yield* Effect.fail("not yet") : counter.next()
          })
      })
      const { result } = yield* executeRun(Dag.make("own", [job]), fresh)
      assert.strictEqual(result.status, "succeeded")
      assert.strictEqual(attempts.get("own"), 3)
      assert.deepStrictEqual(stats, { acquired: 1, released: 1 })
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.live("a DAG included in another brings its layer: built once, for its jobs, in the outer DAG's run", () =>
    Effect.gen(function*() {
      const { stats, layer } = tracked()
      const drawn: Array<number> = []
      const uses = Job.make("uses", { run: () => Effect.map(Effect.service(Counter), (c) => void drawn.push(c.next())) })
      const inner = Dag.make("inner", [uses], { layer })
      const other = Job.make("other", { run: () => Effect.void })
      const { result } = yield* executeRun(Dag.make("outer", [inner, other]), fresh)
      assert.strictEqual(result.status, "succeeded")
      assert.deepStrictEqual(drawn, [1])
      assert.deepStrictEqual(stats, { acquired: 1, released: 1 })
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.live("the layer is released when the run fails", () =>
    Effect.gen(function*() {
      const { stats, layer } = tracked()
      const broken = Job.make("broken", { run: () => Effect.flatMap(Effect.service(Counter), () => Effect.fail("broken")) })
      const { result } = yield* executeRun(Dag.make("failing", [broken], { layer }), fresh)
      assert.strictEqual(result.status, "failed")
      assert.deepStrictEqual(stats, { acquired: 1, released: 1 })
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.live("the layer is released when the run is interrupted", () =>
    Effect.gen(function*() {
      const { stats, layer } = tracked()
      const started = { n: 0 }
      const hang = Job.make("hang", {
        run: () => Effect.flatMap(Effect.service(Counter), () => Effect.andThen(Effect.sync(() => void started.n++), Effect.never))
      })
      const fiber = yield* Effect.forkChild(executeRun(Dag.make("hanging", [hang], { layer }), fresh))
      for (let i = 0; started.n === 0 && i < 2000; i++) yield* Effect.sleep("5 millis")
      assert.strictEqual(started.n, 1)
      assert.deepStrictEqual(stats, { acquired: 1, released: 0 })
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(stats, { acquired: 1, released: 1 })
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.live("a layer that fails to build fails the run with its error before any job starts", () =>
    Effect.gen(function*() {
      const ran = { n: 0 }
      const layer = Layer.effect(Counter)(Effect.fail(new Error("cannot connect to the counter")))
      const job = Job.make("uses", { run: () => Effect.flatMap(Effect.service(Counter), () => Effect.sync(() => void ran.n++)) })
      const collected: Collected = { events: [], logs: [] }
      const error = yield* Effect.flip(executeRun(Dag.make("broken-layer", [job], { layer }), fresh, collected))
      assert.strictEqual(error._tag, "LayerFailed")
      assert.include(error.message, "cannot connect to the counter")
      assert.strictEqual(ran.n, 0)
      assert.lengthOf(eventsOf(collected.events, "AttemptStarted"), 0)
      assert.lengthOf(eventsOf(collected.events, "RunStarted"), 0)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.live("resume with a layered DAG: the layer is built again for the resumed run, restored jobs do not run", () =>
    Effect.gen(function*() {
      const { stats, layer } = tracked()
      const fail = { now: true }
      const ran: Array<string> = []
      const first = Job.make("first", { run: () => Effect.map(Effect.service(Counter), (c) => (ran.push("first"), c.next())) })
      const second = Job.make("second", {
        needs: { first },
        run: ({ first }) => Effect.flatMap(Effect.service(Counter), () => fail.now ? Effect.fail("not yet") : Effect.sync(() => (ran.push("second"), first)))
      })
      const dag = Dag.make("resumable", [second], { layer })
      assert.strictEqual((yield* executeRun(dag, fresh)).result.status, "failed")
      fail.now = false
      const resumed = yield* executeRun(dag, resume)
      assert.strictEqual(resumed.result.status, "succeeded")
      assert.deepStrictEqual(ran, ["first", "second"])
      assert.deepStrictEqual(stats, { acquired: 2, released: 2 })
    }).pipe(Effect.provide(Journal.layerMemory)))
})

describe("layers with checkpoints", () => {
  it.live("a layered job's checkpoints are kept across a resume; the job's own layer is built again for the new run", () =>
    Effect.gen(function*() {
      const { stats, layer } = tracked()
      const failAt = { step: 3 }
      const ran: Array<number> = []
      const items = Job.make("items", {
        layer,
        run: () =>
          Effect.forEach([1, 2, 3, 4], (i) =>
            Checkpoint.step(`item-${i}`, Effect.gen(function*() {
              const counter = yield* Counter
              if (i === failAt.step) return yield* Effect.fail(`item ${i} failed`)
              ran.push(i)
              return counter.next()
            })))
      })
      const dag = Dag.make("checkpointed", [items])
      assert.strictEqual((yield* executeRun(dag, fresh)).result.status, "failed")
      failAt.step = 0
      const resumed = yield* executeRun(dag, resume)
      assert.strictEqual(resumed.result.status, "succeeded")
      assert.deepStrictEqual(ran, [1, 2, 3, 4])
      assert.deepStrictEqual(stats, { acquired: 2, released: 2 })
    }).pipe(Effect.provide(Journal.layerMemory)))
})

const tempDir = tempDirs("layers-")
const runtimes: ReadonlyArray<RuntimeName> = ["node", "bun", "deno"]

const taskFile = (log: string, fail: boolean) => `
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import { Dag, Job } from "effect-runner"

class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("user/Greeter") {}

const note = (line: string) => Effect.sync(() => fs.appendFileSync(${JSON.stringify(log)}, line + "\\n"))

const GreeterLive = Layer.effect(Greeter)(Effect.acquireRelease(
  ${fail ? `Effect.andThen(note("acquire"), Effect.fail(new Error("greeter unavailable: no greetings today")))` : `Effect.as(note("acquire"), Greeter.of({ greet: (name) => "hello " + name }))`},
  () => note("release")
))

const greet = (name: string) => Job.make("greet-" + name, {
  retry: { times: 1, delay: "1 millis" },
  run: () => Effect.gen(function*() {
    const greeter = yield* Greeter
    yield* note("job " + greeter.greet(name))
  })
})

export default Dag.make("greetings", [greet("a"), greet("b"), greet("c")], { layer: GreeterLive })
`

describe.each(runtimes)("layers through the CLI on %s", (runtime) => {
  it("a task file's layer is acquired once, shared by its jobs, released once", () => {
    const dir = tempDir()
    const log = path.join(dir, "log")
    const file = path.join(dir, "tasks.ts")
    fs.writeFileSync(file, taskFile(log, false))
    const result = runner([file, "--journal", path.join(dir, "j.db"), "--log-format", "plain"], { runtime })
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    const lines = fs.readFileSync(log, "utf8").trim().split("\n")
    assert.strictEqual(lines[0], "acquire")
    assert.strictEqual(lines.at(-1), "release")
    assert.deepStrictEqual(lines.slice(1, -1).sort(), ["job hello a", "job hello b", "job hello c"])
  })

  it("a layer that fails to build: exit 1 with its error, no job started", () => {
    const dir = tempDir()
    const log = path.join(dir, "log")
    const file = path.join(dir, "tasks.ts")
    fs.writeFileSync(file, taskFile(log, true))
    const result = runner([file, "--journal", path.join(dir, "j.db"), "--log-format", "plain"], { runtime })
    assert.strictEqual(result.status, 1, result.stdout + result.stderr)
    assert.include(result.stderr, "greeter unavailable: no greetings today")
    assert.deepStrictEqual(fs.readFileSync(log, "utf8").trim().split("\n"), ["acquire"])
    assert.notMatch(result.stdout, /greet-a/)
  })
})
