/**
 * What a resumed run restores and what it runs again: typed outputs and checkpoints come back as their types, values
 * JSON cannot hold are never restored as something else, edited jobs and checkpoints made for other inputs are not
 * reused, and an output that cannot be journaled fails its job only.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as Checkpoint from "../src/Checkpoint.ts"
import * as Dag from "../src/Dag.ts"
import * as Encoding from "../src/internal/Encoding.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Resume from "../src/internal/Resume.ts"
import { type Collected, eventsOf, executeRun } from "./support/run.ts"
import { runner, type RuntimeName } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-resume-")

const execute = executeRun
const resume: Journal.Target = { _tag: "Resume", runId: undefined }
const fresh: Journal.Target = { _tag: "New" }
const warnings = (collected: Collected) => collected.logs.filter((l) => l.level === "warn").map((l) => l.message)

describe("resume restores typed outputs", () => {
  const cases: ReadonlyArray<RuntimeName> = ["node", "bun", "deno"]
  it.each(cases)("on %s: Date, BigInt, Option, Map and class outputs and Date checkpoints come back as themselves", (runtime) => {
    const dir = tempDir()
    const env = { COUNTS: path.join(dir, "counts"), FAIL: path.join(dir, "fail"), SEEN: path.join(dir, "seen.json") }
    const args = ["test/fixtures/typed-resume.ts", "--journal", path.join(dir, "j.db"), "--log-format", "plain"]
    fs.writeFileSync(env.FAIL, "")
    const failed = runner(args, { runtime, env })
    assert.strictEqual(failed.status, 1, failed.stdout + failed.stderr)
    fs.rmSync(env.FAIL)
    const resumed = runner([...args, "--resume"], { runtime, env })
    assert.strictEqual(resumed.status, 0, resumed.stdout + resumed.stderr)

    // The typed jobs and steps ran once; the job without a schema returned a Map, which JSON cannot hold: it ran again.
    const ran = fs.readFileSync(env.COUNTS, "utf8").trim().split("\n")
    assert.deepStrictEqual(ran.filter((r) => r === "stamp").length, 1, ran.join(","))
    assert.deepStrictEqual(ran.filter((r) => r.startsWith("day-")), ["day-1", "day-2", "day-3"])
    assert.deepStrictEqual(ran.filter((r) => r === "untyped").length, 2)
    assert.match(resumed.stdout, /"untyped" runs again: its output was not journaled exactly \(it is a Map, which JSON cannot hold exactly; declare `output` with a Schema to restore it\)/)
    assert.match(resumed.stdout, /extract: users\/☃ \(v2\).*output restored from the journal/)
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(env.SEEN, "utf8")), {
      when: "2026-12-01T02:00:00.123Z",
      rows: "9007199254740993",
      note: "nightly",
      sizes: ["a.csv=12", `b.csv=${1n << 70n}`],
      batch: "december@2026-12-31T00:00:00.000Z",
      days: ["2026-12-02", "2026-12-03", "2026-12-04"],
      untyped: ["k"]
    })
  })
})

describe("outputs without a schema", () => {
  it.effect("plain JSON is restored; a Map, a Date, NaN or an array hole is journaled unrestorable with the reason", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [unknown, string | undefined]> = [
        [{ a: [1, "x", null, { b: true }], c: undefined }, undefined],
        [undefined, undefined],
        [new Map([["k", 1]]), "it is a Map, which JSON cannot hold exactly; declare `output` with a Schema to restore it"],
        [{ at: new Date(0) }, "it holds a Date at $.at, which JSON cannot hold exactly; declare `output` with a Schema to restore it"],
        [[1, undefined], "it holds undefined at $[1], which JSON cannot hold exactly; declare `output` with a Schema to restore it"],
        [{ n: NaN }, "it holds NaN at $.n, which JSON cannot hold exactly; declare `output` with a Schema to restore it"],
        [{ n: 1n }, "it holds a bigint at $.n, which JSON cannot hold exactly; declare `output` with a Schema to restore it"],
        [new (class Point { x = 1 })(), "it is a Point, which JSON cannot hold exactly; declare `output` with a Schema to restore it"]
      ]
      for (const [value, reason] of cases) {
        const encoded = yield* Encoding.encode(undefined, value)
        if (reason === undefined) {
          assert.strictEqual(encoded._tag, "Restorable")
          assert.deepStrictEqual(yield* Encoding.decode(undefined, encoded.json), JSON.parse(JSON.stringify(value ?? null)) ?? undefined)
        } else {
          assert.deepStrictEqual(Encoding.unrestorableReason(encoded.json), reason)
        }
      }
    }))

  it.effect("a void job is restored as undefined, and a Map output makes its job run again with the reason", () =>
    Effect.gen(function*() {
      const ran: Array<string> = []
      const received: Array<unknown> = []
      let fail = true
      const quiet = Job.make("quiet", { run: () => Effect.sync(() => void ran.push("quiet")) })
      const index = Job.make("index", { run: () => Effect.sync(() => (ran.push("index"), new Map([["a", 1]]))) })
      const last = Job.make("last", {
        needs: { quiet, index },
        run: ({ index, quiet }) => fail ? Effect.fail("not yet") : Effect.sync(() => void received.push(quiet, index))
      })
      const dag = Dag.make("void", [last])
      yield* execute(dag, fresh)
      fail = false
      const second = yield* execute(dag, resume)
      assert.strictEqual(second.result.status, "succeeded")
      assert.deepStrictEqual(ran, ["quiet", "index", "index"])
      assert.strictEqual(received[0], undefined)
      assert.instanceOf(received[1], Map)
      assert.include(
        warnings(second).join("\n"),
        `"index" runs again: its output was not journaled exactly (it is a Map, which JSON cannot hold exactly; declare \`output\` with a Schema to restore it)`
      )
    }).pipe(Effect.provide(Journal.layerMemory)))
})

describe("a resumed run's log", () => {
  it("through the CLI, a resume's log names ten restored jobs and counts the rest on one line; json keeps one each", () => {
    const dir = tempDir()
    const file = path.join(dir, "many.ts")
    fs.writeFileSync(file, `
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { Dag, Job } from "effect-runner"
const parts = Array.from({ length: 40 }, (_, i) => Job.make(\`part \${i} — ☃\`, { run: () => Effect.succeed(i) }))
const total = Job.make("total", {
  needs: Object.fromEntries(parts.map((part, i) => [\`p\${i}\`, part])),
  run: (inputs) => fs.existsSync(${JSON.stringify(path.join(dir, "fail"))}) ? Effect.fail("not yet") : Effect.succeed(Object.keys(inputs).length)
})
export default Dag.make("many", [total])
`)
    const args = [file, "--journal", path.join(dir, "j.db")]
    fs.writeFileSync(path.join(dir, "fail"), "")
    assert.strictEqual(runner([...args, "--log-format", "plain"]).status, 1)
    fs.rmSync(path.join(dir, "fail"))
    const resumed = runner([...args, "--log-format", "plain", "--resume"])
    assert.strictEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
    const lines = resumed.stdout.split("\n")
    const restored = lines.filter((line) => line.includes("restored from the journal"))
    assert.strictEqual(restored.length, 11, restored.join("\n"))
    assert.match(restored[0]!, /^\d\d:\d\d:\d\d part 0 — ☃ ↺ succeeded in an earlier attempt of this run: output restored from the journal$/)
    assert.match(restored[10]!, /^\d\d:\d\d:\d\d ↺ and 30 more jobs succeeded in an earlier attempt of this run: outputs restored from the journal$/)
    const counted = lines.findIndex((line) => line.includes("and 30 more jobs"))
    assert.isBelow(counted, lines.findIndex((line) => /^\S+ total started$/.test(line)))
    // A keyed run that failed, run again with --log-format json: a line for each restored job.
    fs.writeFileSync(path.join(dir, "fail"), "")
    const key = [...args, "--key", "k"]
    assert.strictEqual(runner([...key, "--log-format", "json"]).status, 1)
    fs.rmSync(path.join(dir, "fail"))
    const json = runner([...key, "--log-format", "json"])
    assert.strictEqual(json.status, 0, json.stdout + json.stderr)
    const events = json.stdout.trim().split("\n").map((line) => JSON.parse(line) as { event: string; jobId?: string })
    assert.strictEqual(events.filter((e) => e.event === "JobRestored").length, 40)
  })
})

describe("nothing stale is restored", () => {
  const shell = (argv: Job.Argv | ((inputs: any) => Job.Argv), options: Job.ShellOptions<{}> = {}) =>
    Job.shell("s", argv, options)
  const hash = (job: Job.Any) => Resume.definitionHash(job).split("|")
  const same = (a: Job.Any, b: Job.Any) => assert.deepStrictEqual(hash(a), hash(b))
  const differs = (a: Job.Any, b: Job.Any) => {
    const [stableA, , codeA] = hash(a)
    const [stableB, , codeB] = hash(b)
    assert.isTrue(stableA !== stableB || codeA !== codeB, "the definition hash should differ")
  }

  it("a shell job's argv (also as a function), env (also as a function) and cwd are part of its definition", () => {
    same(shell(["echo", "a"]), shell(["echo", "a"]))
    differs(shell(["echo", "a"]), shell(["echo", "b"]))
    differs(shell(() => ["echo", "a"]), shell(() => ["echo", "b"]))
    same(shell(() => ["echo", "a"]), shell(() => ["echo", "a"]))
    differs(shell(["echo"], { env: { A: "1" } }), shell(["echo"], { env: { A: "2" } }))
    differs(shell(["echo"], { env: () => ({ A: "1" }) }), shell(["echo"], { env: () => ({ A: "2" }) }))
    differs(shell(["echo"], { cwd: "a" }), shell(["echo"], { cwd: "b" }))
    differs(shell(["echo"]), shell(["echo"], { cwd: "." }))
  })

  it("the whole output schema is part of a job's definition, not only its kind", () => {
    const job = (output: Schema.Codec<any, any, never, never>) => Job.make("j", { output, run: () => Effect.succeed(undefined as any) })
    same(job(Schema.Struct({ a: Schema.Number })), job(Schema.Struct({ a: Schema.Number })))
    differs(job(Schema.Struct({ a: Schema.Number })), job(Schema.Struct({ a: Schema.String })))
    differs(job(Schema.Struct({ a: Schema.Number })), job(Schema.Struct({ a: Schema.Number, b: Schema.Number })))
    differs(job(Schema.Struct({ a: Schema.Date })), job(Schema.Struct({ a: Schema.DateTimeUtcFromMillis })))
    differs(job(Schema.Number.check(Schema.isGreaterThan(1))), job(Schema.Number.check(Schema.isGreaterThan(2))))
  })

  it("editing a shell job's argv function re-runs it on resume, through the CLI", () => {
    const dir = tempDir()
    const file = path.join(dir, "tasks.ts")
    const counts = path.join(dir, "counts")
    const write = (version: string) =>
      fs.writeFileSync(file, `
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { Dag, Job } from "effect-runner"
export const version = Job.make("version", { run: () => Effect.succeed("${version.length}") })
export const stamp = Job.shell("stamp", ({ version }) => ["sh", "-c", "echo ${version}-" + version + " >> ${counts}"], { needs: { version } })
export const last = Job.make("last", {
  needs: { stamp },
  run: () => fs.existsSync(${JSON.stringify(path.join(dir, "fail"))}) ? Effect.fail("not yet") : Effect.void
})
export default Dag.make("edit", [last])
`)
    const args = [file, "--journal", path.join(dir, "j.db"), "--log-format", "plain"]
    write("v1")
    fs.writeFileSync(path.join(dir, "fail"), "")
    assert.strictEqual(runner(args).status, 1)
    write("v2")
    fs.rmSync(path.join(dir, "fail"))
    const resumed = runner([...args, "--resume"])
    assert.strictEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
    assert.deepStrictEqual(fs.readFileSync(counts, "utf8").trim().split("\n"), ["v1-2", "v2-2"])
    assert.match(resumed.stdout, /"stamp" runs again: its definition changed since it succeeded/)
    assert.match(resumed.stdout, /version .*output restored from the journal/)
  })

  const itemsDag = (upstream: Job.Job<unknown>, ran: Array<string>, failAfter: { n: number }) => {
    const items = Job.make("items", {
      needs: { upstream },
      run: ({ upstream }) =>
        Effect.forEach([1, 2, 3, 4], (i) =>
          Checkpoint.step(`item-${i}`, Effect.suspend(() => {
            if (i > failAfter.n) return Effect.fail(`item ${i} failed`)
            ran.push(`item-${i}:${JSON.stringify(upstream)}`)
            return Effect.succeed(i)
          })))
    })
    return Dag.make("items", [items])
  }

  it.effect("checkpoints made for other inputs are not reused: when a need re-ran with a new output, steps start afresh", () =>
    Effect.gen(function*() {
      const ran: Array<string> = []
      const failAfter = { n: 2 }
      const v1 = Job.make("upstream", { run: () => Effect.succeed({ n: 0 }) })
      yield* execute(itemsDag(v1, ran, failAfter), fresh)
      assert.deepStrictEqual(ran, [`item-1:{"n":0}`, `item-2:{"n":0}`])
      failAfter.n = 99
      // The upstream job was edited: it runs again with a new output, and the steps made for {n: 0} are not reused.
      const v2 = Job.make("upstream", { run: () => Effect.succeed({ n: 42 + 0 }) })
      const second = yield* execute(itemsDag(v2, ran, failAfter), resume)
      assert.strictEqual(second.result.status, "succeeded")
      assert.deepStrictEqual(ran.slice(2), [1, 2, 3, 4].map((i) => `item-${i}:{"n":42}`))
      assert.include(warnings(second), "its steps start afresh: its inputs changed since its checkpoints were made (a job it needs ran again)")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("checkpoints made for the same inputs are reused, also when the need ran again with the same output", () =>
    Effect.gen(function*() {
      const ran: Array<string> = []
      const failAfter = { n: 2 }
      const v1 = Job.make("upstream", { run: () => Effect.succeed({ n: 7 }) })
      yield* execute(itemsDag(v1, ran, failAfter), fresh)
      failAfter.n = 99
      const edited = Job.make("upstream", { run: () => Effect.succeed({ n: 3 + 4 }) })
      const second = yield* execute(itemsDag(edited, ran, failAfter), resume)
      assert.strictEqual(second.result.status, "succeeded")
      assert.deepStrictEqual(ran, [1, 2, 3, 4].map((i) => `item-${i}:{"n":7}`))
      assert.notInclude(warnings(second).join("\n"), "start afresh")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a need whose output JSON cannot hold re-runs, and the steps of the job needing it start afresh", () =>
    Effect.gen(function*() {
      const ran: Array<string> = []
      const failAfter = { n: 2 }
      const upstream = Job.make("upstream", { run: () => Effect.succeed(new Set([1])) })
      yield* execute(itemsDag(upstream, ran, failAfter), fresh)
      failAfter.n = 99
      const second = yield* execute(itemsDag(upstream, ran, failAfter), resume)
      assert.strictEqual(second.result.status, "succeeded")
      assert.strictEqual(ran.length, 6, ran.join(", "))
      assert.include(warnings(second), "its steps start afresh: its inputs changed since its checkpoints were made (a job it needs ran again)")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a step whose output a changed schema no longer decodes runs again, and says so once", () =>
    Effect.gen(function*() {
      const ran: Array<string> = []
      let fail = true
      const job = (output: Schema.Codec<any, any, never, never>) =>
        Job.make("steps", {
          run: () =>
            Effect.forEach([1, 2], (i) =>
              Checkpoint.step(`s${i}`, Effect.sync(() => (ran.push(`s${i}`), { a: i, b: "x" })), { output })).pipe(
                Effect.andThen(() => fail ? Effect.fail("not yet") : Effect.void)
              )
        })
      yield* execute(Dag.make("schema", [job(Schema.Struct({ a: Schema.Number }))]), fresh)
      fail = false
      const second = yield* execute(Dag.make("schema", [job(Schema.Struct({ a: Schema.Number, b: Schema.String }))]), resume)
      assert.deepStrictEqual(ran, ["s1", "s2", "s1", "s2"])
      const notes = warnings(second).filter((w) => w.includes("no longer matches"))
      assert.deepStrictEqual(notes, [`step "s1" runs again: its journaled output no longer matches its output schema (Missing key at ["b"])`])
    }).pipe(Effect.provide(Journal.layerMemory)))
})

describe("outputs that cannot be journaled", () => {
  it.effect("a circular output fails its (non-critical) job once, with a clear message; the run goes on and finishes", () =>
    Effect.gen(function*() {
      let attempts = 0
      const loop = Job.make("loop", {
        critical: false,
        retry: { times: 3, delay: "1 millis" },
        run: () =>
          Effect.sync(() => {
            attempts++
            const node: Record<string, unknown> = { name: "root" }
            node["self"] = { parent: node }
            return node
          })
      })
      const other = Job.make("other", { run: () => Effect.succeed(1) })
      const collected: Collected = { events: [], logs: [] }
      const { result } = yield* execute(Dag.make("circular", [loop, other]), fresh, collected)
      assert.strictEqual(result.status, "succeeded")
      assert.strictEqual(attempts, 1, "not retried")
      const failed = eventsOf(collected.events, "AttemptFailed", "loop")
      assert.strictEqual(failed.length, 1)
      assert.strictEqual(
        failed[0]!.error,
        `OutputNotJournalable: output of job "loop" cannot be journaled: it is circular ($.self.parent refers back to an enclosing value); ` +
          "return plain data, or declare `output` with a Schema"
      )
      assert.strictEqual(result.jobs.find((j) => j.jobId === "other")?.status, "succeeded")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it("through the CLI: the run finishes (not left running), the job's error is journaled, the exit code is the run's", () => {
    const dir = tempDir()
    const file = path.join(dir, "circular.ts")
    fs.writeFileSync(file, `
import * as Effect from "effect/Effect"
import { Dag, Job } from "effect-runner"
const loop = Job.make("loop", { critical: false, run: () => Effect.sync(() => { const a: any = {}; a.a = [a]; return a }) })
const after = Job.make("after", { run: () => Effect.succeed("done") })
export default Dag.make("circular", [loop, after])
`)
    const journal = path.join(dir, "j.db")
    const result = runner([file, "--journal", journal, "--log-format", "plain"])
    assert.notInclude(result.stderr, "internal error")
    const db = new DatabaseSync(journal, { readOnly: true })
    try {
      assert.deepStrictEqual({ ...db.prepare("SELECT status FROM runs").get() }, { status: "succeeded" })
      const jobs = db.prepare("SELECT job_id, status, error FROM jobs ORDER BY job_id").all().map((r) => ({ ...r }))
      assert.deepStrictEqual(jobs.map((j) => `${j["job_id"]} ${j["status"]}`), ["after succeeded", "loop failed"])
      assert.match(String(jobs[1]!["error"]), /cannot be journaled: it is circular \(\$\.a\[0\] refers back/)
    } finally {
      db.close()
    }
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
  })

  it.effect("an output that does not fit its schema shows the schema's whole message", () =>
    Effect.gen(function*() {
      const bad = Job.make("bad", {
        output: Schema.Struct({ when: Schema.Date, tags: Schema.Array(Schema.String) }),
        run: () => Effect.succeed({ when: "yesterday", tags: ["a"] } as any)
      })
      const collected: Collected = { events: [], logs: [] }
      yield* execute(Dag.make("bad", [bad]), fresh, collected)
      const error = eventsOf(collected.events, "AttemptFailed", "bad")[0]!.error
      assert.strictEqual(error, `OutputInvalid: output of job "bad" does not match its output schema: Expected a valid Date at ["when"]`)
    }).pipe(Effect.provide(Journal.layerMemory)))
})

describe("restored values are the real types", () => {
  it.effect("an Option, a class instance and a Map inside a checkpoint come back as themselves", () =>
    Effect.gen(function*() {
      class Part extends Schema.Class<Part>("Part")({ id: Schema.BigInt }) {
        twice() {
          return this.id * 2n
        }
      }
      const Out = Schema.Struct({ part: Part, seen: Schema.ReadonlyMap(Schema.String, Schema.Option(Schema.Date)) })
      const got: Array<unknown> = []
      let fail = true
      const job = Job.make("typed-steps", {
        run: () =>
          Effect.gen(function*() {
            const value = yield* Checkpoint.step("one", Effect.succeed({
              part: new Part({ id: 21n }),
              seen: new Map([["x", Option.some(new Date(5))], ["y", Option.none()]])
            }), { output: Out })
            got.push(value)
            if (fail) return yield* Effect.fail("not yet")
          })
      })
      yield* execute(Dag.make("typed-steps", [job]), fresh)
      fail = false
      yield* execute(Dag.make("typed-steps", [job]), resume)
      const restored = got[1] as typeof Out.Type
      assert.instanceOf(restored.part, Part)
      assert.strictEqual(restored.part.twice(), 42n)
      assert.instanceOf(restored.seen, Map)
      assert.deepStrictEqual(restored.seen.get("x"), Option.some(new Date(5)))
      assert.isTrue(Option.isNone(restored.seen.get("y")!))
    }).pipe(Effect.provide(Journal.layerMemory)))
})
