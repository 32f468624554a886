/**
 * Logging never kills a job: whatever a job logs or fails with (BigInt, cycles, symbols, functions, Maps, throwing
 * toJSON or getters, proxies) is rendered to readable text by one renderer (src/internal/render.ts), in-process and
 * through the real CLI in json and plain formats.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Dag from "../src/Dag.ts"
import * as render from "../src/internal/render.ts"
import * as Job from "../src/Job.ts"
import * as Reporter from "../src/internal/reporter/Reporter.ts"
import { eventsOf, jobOf, runDag } from "./support/run.ts"
import { runnerAsync, type RuntimeName } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-logger-")

/** Values that JSON.stringify throws on or renders as nothing useful. */
const awkward = () => {
  const circular: Record<string, unknown> = { name: "loop" }
  circular["self"] = circular
  const badJson = { id: 7, toJSON: () => { throw new Error("no JSON for you") } }
  const badGetter = Object.defineProperty({ ok: 1 }, "broken", { enumerable: true, get: () => { throw new Error("getter") } })
  const hostile = new Proxy({}, {
    get: () => { throw new Error("trap") },
    has: () => { throw new Error("trap") },
    ownKeys: () => { throw new Error("trap") },
    getPrototypeOf: () => { throw new Error("trap") }
  })
  return { circular, badJson, badGetter, hostile }
}

describe("render", () => {
  it("renders plain data exactly as JSON.stringify does", () => {
    for (const value of [{ a: 1, b: [true, null, "x"], c: { d: "e\"f" } }, [1, "two", { three: 3 }], "text", 42, null]) {
      assert.strictEqual(render.value(value), JSON.stringify(value))
    }
    assert.strictEqual(render.value({ at: new Date(0) }), `{"at":"1970-01-01T00:00:00.000Z"}`)
  })

  it("renders what JSON cannot, and never throws", () => {
    const { badGetter, badJson, circular, hostile } = awkward()
    assert.strictEqual(render.value({ n: 1n }), `{"n":1n}`)
    assert.strictEqual(render.value(circular), `{"name":"loop","self":[Circular]}`)
    assert.strictEqual(render.value({ kind: Symbol("tag") }), `{"kind":Symbol(tag)}`)
    assert.strictEqual(render.value({ f: function named() {} }), `{"f":[Function named]}`)
    assert.strictEqual(render.value(new Map<unknown, unknown>([["a", 1n], [2, new Set([1, 2])]])), `Map {"a" => 1n, 2 => Set [1,2]}`)
    assert.strictEqual(render.value({ error: new TypeError("bad") }), `{"error":[TypeError: bad]}`)
    assert.strictEqual(render.value(badJson), `{"id":7,"toJSON":[Function toJSON]}`)
    assert.strictEqual(render.value(badGetter), `{"ok":1,"broken":[getter threw: getter]}`)
    assert.strictEqual(render.value(hostile), "[unrenderable]")
    assert.strictEqual(render.value([undefined, NaN, -Infinity]), "[null,NaN,-Infinity]")
    assert.strictEqual(render.value(Object.assign(Object.create(null), { n: 2n })), `{"n":2n}`)
    assert.strictEqual(render.value(new Date(Number.NaN)), "null")
    // Deep enough to overflow the stack: rendered, cut where the stack ran out.
    let deep: unknown = "bottom"
    for (let i = 0; i < 100_000; i++) deep = [deep]
    assert.isString(render.value(deep))
  })

  it("message: strings as they are, errors by their message, anything else as value", () => {
    assert.strictEqual(render.message("as is"), "as is")
    assert.strictEqual(render.message(new Error("boom")), "boom")
    assert.strictEqual(render.message(new Error("")), "Error")
    assert.strictEqual(render.message(undefined), "undefined")
    assert.strictEqual(render.message(1n), "1n")
    assert.strictEqual(render.message(awkward().hostile), "[unrenderable]")
  })

  it("json: always valid JSON, whatever the value", () => {
    const { badGetter, badJson, circular, hostile } = awkward()
    const value = { n: 1n, circular, badJson, badGetter, hostile, s: Symbol("s"), f: () => 1, m: new Map([["k", 1]]) }
    const parsed = JSON.parse(render.json(value))
    assert.strictEqual(parsed.n, "1n")
    assert.deepStrictEqual(parsed.circular, { name: "loop", self: "[Circular]" })
    assert.strictEqual(parsed.hostile, "[unrenderable]")
    assert.strictEqual(parsed.s, "Symbol(s)")
    assert.deepStrictEqual(parsed.m, `Map {"k" => 1}`)
    assert.deepStrictEqual(JSON.parse(render.json({ a: 1, b: ["x", null] })), { a: 1, b: ["x", null] })
  })
})

describe("RunLogger", () => {
  it.effect("a job that logs BigInts, cycles, symbols and throwing toJSON succeeds, and its log lines read sensibly", () =>
    Effect.gen(function*() {
      // (A Proxy whose traps throw is left out: Effect.log itself checks its arguments for a Cause, before any logger.)
      const { badGetter, badJson, circular } = awkward()
      const logs = Job.make("logs", {
        run: () =>
          Effect.gen(function*() {
            yield* Effect.log({ n: 1n })
            yield* Effect.log(circular)
            yield* Effect.log(Symbol("tag"))
            yield* Effect.logWarning("bad", badJson, badGetter)
            yield* Effect.log(new Map([["m", 1n]]), [function named() {}])
            yield* Effect.logError(new Error("as a message"))
            return "done"
          })
      })
      const { logs: lines, result } = yield* runDag(Dag.make("d", [logs]))
      assert.strictEqual(jobOf(result, "logs").status, "succeeded")
      assert.deepStrictEqual(lines.filter((l) => l.jobId === "logs").map((l) => [l.level, l.message]), [
        ["info", `{"n":1n}`],
        ["info", `{"name":"loop","self":[Circular]}`],
        ["info", "Symbol(tag)"],
        ["warn", `bad {"id":7,"toJSON":[Function toJSON]} {"ok":1,"broken":[getter threw: getter]}`],
        ["info", `Map {"m" => 1n} [[Function named]]`],
        ["error", "as a message"]
      ])
    }))

  it.effect("a job failing with a BigInt or a null-prototype object fails as itself, rendered", () =>
    Effect.gen(function*() {
      const big = Job.make("big", { critical: false, run: () => Effect.fail({ n: 1n }) })
      const bare = Job.make("bare", { critical: false, run: () => Effect.fail(Object.assign(Object.create(null), { n: 2n })) })
      const { events, result } = yield* runDag(Dag.make("d", [big, bare]))
      assert.strictEqual(jobOf(result, "big").status, "failed")
      assert.strictEqual(jobOf(result, "bare").status, "failed")
      assert.strictEqual(eventsOf(events, "AttemptFailed", "big")[0]?.error, `{"n":1n}`)
      assert.strictEqual(eventsOf(events, "AttemptFailed", "bare")[0]?.error, `{"n":2n}`)
    }))
})

describe("Reporter json", () => {
  it.effect("writes a line that parses even for an event holding what JSON cannot", () =>
    Effect.gen(function*() {
      const chunks: Array<string> = []
      const { circular } = awkward()
      yield* Effect.gen(function*() {
        const reporter = yield* Reporter.Reporter
        yield* reporter.event({
          _tag: "RunFinished",
          runId: "r1",
          dag: "d",
          at: 0,
          status: "succeeded",
          durationMillis: 1,
          jobs: [{ jobId: "a", status: "succeeded", critical: true, attempts: 1, durationMillis: 1, detail: { n: 1n, circular } as never }]
        })
      }).pipe(Effect.provide(Layer.fresh(Reporter.layer({ format: "json", output: { write: (text) => void chunks.push(text) } }))))
      const line = JSON.parse(chunks.join(""))
      assert.strictEqual(line.event, "RunFinished")
      assert.deepStrictEqual(line.jobs[0].detail, { n: "1n", circular: { name: "loop", self: "[Circular]" } })
    }))
})

const taskFile = `import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Dag, Job } from "effect-runner"

const circular = { name: "loop" }
circular.self = circular
export const logs = Job.make("logs", {
  run: () =>
    Effect.gen(function*() {
      yield* Effect.log({ n: 1n })
      yield* Effect.log("cycle", circular)
      yield* Effect.log(Symbol("tag"))
      yield* Effect.logWarning({ id: 7, toJSON: () => { throw new Error("no") } })
      yield* Effect.log("multi\\nline")
    })
})
export const after = Job.make("after", { needs: { logs }, run: () => Effect.log("after ran") })
export default Dag.make("awkward-logs", [after], { onSuccess: () => Effect.fail({ n: 1n, circular }) })
`

interface JsonLine {
  readonly event: string
  readonly jobId?: string
  readonly level: string
  readonly message: string
}

const writeTaskFile = () => {
  const dir = tempDir()
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }))
  fs.writeFileSync(path.join(dir, "logs.ts"), taskFile)
  return path.join(dir, "logs.ts")
}

describe.each<RuntimeName>(["node", "bun", "deno"])("runner <file> with awkward log values on %s", (runtime) => {
  it("--log-format json: every line parses, the run succeeds, the values are rendered", async () => {
    const result = await runnerAsync([writeTaskFile(), "--journal", "none", "--log-format", "json"], {}, runtime).done
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    const lines = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as JsonLine)
    const logs = lines.filter((l) => l.event === "Log" && l.jobId === "logs").map((l) => [l.level, l.message])
    assert.deepStrictEqual(logs, [
      ["info", `{"n":1n}`],
      ["info", `cycle {"name":"loop","self":[Circular]}`],
      ["info", "Symbol(tag)"],
      ["warn", `{"id":7,"toJSON":[Function toJSON]}`],
      ["info", "multi\nline"]
    ])
    assert.isTrue(lines.some((l) => l.event === "Log" && l.jobId === "after" && l.message === "after ran"))
    assert.isTrue(lines.some((l) =>
      l.event === "Log" && l.level === "warn" &&
      l.message === `dag "awkward-logs" onSuccess/onFailure failed (the run's outcome is unchanged): {"n":1n,"circular":{"name":"loop","self":[Circular]}}`
    ), "the hook's failure is rendered")
    assert.strictEqual(lines.filter((l) => l.event === "RunFinished").length, 1)
  })
})

describe("runner <file> with awkward log values, plain", () => {
  it("prints the rendered values, one log line each", async () => {
    const journal = path.join(tempDir(), "j.db")
    const result = await runnerAsync([writeTaskFile(), "--journal", journal, "--log-format", "plain"]).done
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    assert.match(result.stdout, /\[logs\] \{"n":1n\}\n/)
    assert.match(result.stdout, /\[logs\] cycle \{"name":"loop","self":\[Circular\]\}\n/)
    assert.match(result.stdout, /\[logs\] Symbol\(tag\)\n/)
    const runId = /run (\S+) succeeded/.exec(result.stdout)?.[1]
    assert.isDefined(runId)
    // The journal keeps the same text.
    const logs = await runnerAsync(["logs", runId!, "logs", "--journal", journal]).done
    assert.strictEqual(logs.status, 0, logs.stderr)
    assert.include(logs.stdout, `{"n":1n}`)
    assert.include(logs.stdout, `cycle {"name":"loop","self":[Circular]}`)
  })
})
