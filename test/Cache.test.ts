/**
 * Up-to-date skipping, in-process through `Run.execute` (as the CLI runs a plan): a hit and a miss for each part of a
 * job's cache key — its code and the local modules it imports (a helper two imports deep counts, an unrelated file
 * does not), the outputs it needs (with early cutoff), declared files and env, the lockfile, `version` — and for
 * each reason a kept success is not reused: ttl (with the TestClock), declared outputs missing, an output that no
 * longer decodes, a failure, a corrupt or deleted `cache_entries` row; `force` and `RUNNER_CACHE=off`; and the same
 * key from two processes (test/fixtures/cache-keys.ts).
 *
 * Each test runs with the temporary folder as the current directory (declared files are relative to it) and defines
 * its jobs there, as a task file's jobs are defined in the folder the runner runs in.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/testing/TestClock"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Dag from "../src/Dag.ts"
import * as Job from "../src/Job.ts"
import * as Partition from "../src/Partition.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Run from "../src/internal/Run.ts"
import type * as RunEvent from "../src/internal/RunEvent.ts"
import * as RunLogger from "../src/internal/RunLogger.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { withDb } from "./support/db.ts"
import { type Collected, collectingReporter, services } from "./support/run.ts"
import { bins, root } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-cache-run-")

/** Runs `effect` with `dir` as the current directory, restoring the previous one after. */
const inDir = <A, E, R>(dir: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const before = process.cwd()
      process.chdir(dir)
      return before
    }),
    () => effect,
    (before) => Effect.sync(() => process.chdir(before))
  )

const write = (dir: string, files: Record<string, string>) => {
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, text)
  }
}

interface Ran {
  readonly result: Run.Outcome & { readonly _tag: "Finished" }
  readonly collected: Collected
  /** Each job's final status. */
  readonly status: Record<string, RunEvent.JobStatus>
  /** The info/warn lines each job logged, by job. */
  readonly said: (jobId: string) => ReadonlyArray<string>
}

/** One run of `dag` through `Run.execute` on the journal in context, as the CLI starts it (a new run). */
const execute = (
  dag: Dag.Dag,
  options: {
    readonly force?: Run.Request["force"]
    readonly env?: Record<string, string>
    readonly partition?: Run.Request["partition"]
  } = {}
) =>
  Effect.gen(function*() {
    const collected: Collected = { events: [], logs: [] }
    const plan = yield* Plan.plan(dag)
    const outcome = yield* Run.execute({
      plan,
      target: { _tag: "New" },
      concurrency: 4,
      failureMode: "continue",
      trigger: "test",
      runnerVersion: "test",
      wait: false,
      ...(options.force === undefined ? {} : { force: options.force }),
      ...(options.partition === undefined ? {} : { partition: options.partition })
    }).pipe(
      Effect.provide(Layer.mergeAll(services, RunLogger.layer.pipe(Layer.provideMerge(collectingReporter(collected))))),
      Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: options.env ?? {} }))
    )
    if (outcome._tag !== "Finished") throw new Error(`expected a finished run, got ${outcome._tag}`)
    const status = Object.fromEntries(outcome.result.jobs.map((j) => [j.jobId, j.status]))
    const said = (jobId: string) =>
      collected.logs.filter((l) => l.jobId === jobId && (l.level === "info" || l.level === "warn")).map((l) => l.message)
    return { result: outcome, collected, status, said } satisfies Ran
  })

/** Counts how many times each job ran (its `run` was called), by name. */
const counter = () => {
  const counts: Record<string, number> = {}
  return {
    counts,
    hit: (name: string) => Effect.sync(() => void (counts[name] = (counts[name] ?? 0) + 1))
  }
}

const memory = Effect.provide(Journal.layerMemory)

const sqlite = (file: string) => Effect.provide(SqlJournal.layerSqlite({ filename: file, durability: "normal" }))

/** The runner, imported by absolute path (as task files in temporary folders do). */
const index = path.join(root, "src/index.ts")

/** A helper two imports deep and a file nothing imports, for a task file whose job calls `label()`. */
const helperModules = {
  "src/helpers.ts": `import { deep } from "./deep/index.ts"\nexport const label = () => "label:" + deep\n`,
  "src/deep/index.ts": `export const deep = 1\n`,
  "src/unrelated.ts": `export const unrelated = 1\n`
}

/**
 * Imports dir/tasks/build.ts and runs its DAG: job `id` succeeds, then is cached, stays cached when the file nothing
 * imports changes, and runs when the helper's module two imports deep changes (the code loaded is the same: nothing
 * re-imports it; the text changed, and that counts).
 */
const helperCounts = (dir: string, id: string) =>
  Effect.gen(function*() {
    const module = yield* Effect.promise(() => import(path.join(dir, "tasks/build.ts")))
    const dag = module.default as Dag.Dag
    assert.strictEqual((yield* execute(dag)).status[id], "succeeded")
    assert.strictEqual((yield* execute(dag)).status[id], "cached")
    fs.writeFileSync(path.join(dir, "src/unrelated.ts"), `export const unrelated = 2\n`)
    assert.strictEqual((yield* execute(dag)).status[id], "cached")
    fs.writeFileSync(path.join(dir, "src/deep/index.ts"), `export const deep = 2\n`)
    const changed = yield* execute(dag)
    assert.strictEqual(changed.status[id], "succeeded")
    assert.deepStrictEqual(changed.said(id), ["runs: code of src/deep/index.ts changed"])
    return dag
  })

describe("a hit and a miss for each part of the key", () => {
  it.effect("the job's own code: the same definition is reused (0 attempts, from the run that succeeded); an edited `run` runs", () =>
    inDir(tempDir(), Effect.gen(function*() {
      const { counts, hit } = counter()
      const first = Job.make("report", { cache: true, run: () => Effect.as(hit("v1"), 1) })
      const a = yield* execute(Dag.make("d", [first]))
      assert.strictEqual(a.status.report, "succeeded")
      const b = yield* execute(Dag.make("d", [first]))
      assert.strictEqual(b.status.report, "cached")
      assert.strictEqual(b.result.result.jobs[0]!.cachedFrom, a.result.result.runId)
      assert.strictEqual(b.result.result.jobs[0]!.attempts, 0)
      const edited = Job.make("report", { cache: true, run: () => Effect.as(hit("v2"), 2) })
      const c = yield* execute(Dag.make("d", [edited]))
      assert.strictEqual(c.status.report, "succeeded")
      assert.deepStrictEqual(counts, { v1: 1, v2: 1 })
      assert.deepStrictEqual(c.said("report"), ["runs: the job's definition (its code, command, schemas) changed"])
    }).pipe(memory)))

  it.effect("a helper module two imports deep counts; a file nothing imports does not", () => {
    const dir = tempDir()
    write(dir, {
      "tasks/build.ts": [
        `import { Dag, Job } from ${JSON.stringify(index)}`,
        `import * as Effect from "effect/Effect"`,
        `import { label } from "../src/helpers.ts"`,
        `export const build = Job.make("build", { cache: true, run: () => Effect.sync(() => label()) })`,
        `export default Dag.make("modules", [build])`
      ].join("\n"),
      ...helperModules
    })
    return inDir(dir, Effect.gen(function*() {
      const dag = yield* helperCounts(dir, "build")
      assert.strictEqual((yield* execute(dag)).status.build, "cached")
    }).pipe(memory))
  })

  it.effect("a job past the first 1,000 defined at once (no call sites recorded) counts the modules of where its DAG was made", () => {
    const dir = tempDir()
    write(dir, {
      "tasks/build.ts": [
        `import { Dag } from ${JSON.stringify(index)}`,
        `import { last } from "./many.ts"`,
        `export default Dag.make("generated", [last])`
      ].join("\n"),
      // A helper module makes 1,001 jobs in a loop; the last one, with cache, calls a helper two imports deep.
      "tasks/many.ts": [
        `import { Job } from ${JSON.stringify(index)}`,
        `import * as Effect from "effect/Effect"`,
        `import { label } from "../src/helpers.ts"`,
        `const jobs = Array.from({ length: 1001 }, (_, i) => Job.make(\`part \${i} — ☃\`, { cache: true, run: () => Effect.sync(() => label()) }))`,
        `export const last = jobs[1000]!`
      ].join("\n"),
      ...helperModules
    })
    return inDir(dir, Effect.gen(function*() {
      const id = "part 1000 — ☃"
      const dag = yield* helperCounts(dir, id)
      assert.strictEqual(dag.jobs[0]!.definedAt, undefined)
      fs.writeFileSync(path.join(dir, "tasks/many.ts"), fs.readFileSync(path.join(dir, "tasks/many.ts"), "utf8") + "\n// edited\n")
      assert.deepStrictEqual((yield* execute(dag)).said(id), ["runs: code of tasks/many.ts changed"])
    }).pipe(memory))
  })

  it.effect("needed outputs, with early cutoff: an upstream that runs again with the same output leaves its dependents cached", () => {
    const dir = tempDir()
    write(dir, { "in.txt": "1", "value.txt": "same" })
    return inDir(dir, Effect.gen(function*() {
      const { counts, hit } = counter()
      const received: Array<string> = []
      // `up` reads value.txt, which is not in its key: it runs when in.txt changes, with the same output or not.
      const up = Job.make("up", {
        cache: { files: ["in.txt"] },
        run: () => Effect.andThen(hit("up"), Effect.sync(() => fs.readFileSync("value.txt", "utf8")))
      })
      const down = Job.make("down", { needs: { up }, cache: true, run: ({ up }) => Effect.as(hit("down"), `${up}!`) })
      // Never cached: what it receives from `down`, cached or not.
      const sink = Job.make("sink", { needs: { down }, run: ({ down }) => Effect.sync(() => void received.push(down)) })
      const dag = Dag.make("cutoff", [up, down, sink])
      const first = yield* execute(dag)
      assert.deepStrictEqual(first.status, { up: "succeeded", down: "succeeded", sink: "succeeded" })
      fs.writeFileSync("in.txt", "2")
      const cutoff = yield* execute(dag)
      assert.deepStrictEqual(cutoff.status, { up: "succeeded", down: "cached", sink: "succeeded" })
      assert.deepStrictEqual(cutoff.said("up"), ["runs: file in.txt changed"])
      fs.writeFileSync("in.txt", "3")
      fs.writeFileSync("value.txt", "other")
      const changed = yield* execute(dag)
      assert.deepStrictEqual(changed.status, { up: "succeeded", down: "succeeded", sink: "succeeded" })
      assert.deepStrictEqual(changed.said("down"), ["runs: needed output of up changed"])
      const all = yield* execute(dag)
      assert.deepStrictEqual(all.status, { up: "cached", down: "cached", sink: "succeeded" })
      assert.deepStrictEqual(counts, { up: 3, down: 2 })
      assert.deepStrictEqual(received, ["same!", "same!", "other!", "other!"])
    }).pipe(memory))
  })

  it.effect("an upstream without cache runs every time; the same output each time leaves its dependent cached", () =>
    inDir(tempDir(), Effect.gen(function*() {
      let value = 1
      const up = Job.make("up", { output: Schema.Number, run: () => Effect.sync(() => value) })
      const down = Job.make("down", { needs: { up }, cache: true, run: ({ up }) => Effect.succeed(up * 10) })
      const dag = Dag.make("d", [up, down])
      assert.deepStrictEqual((yield* execute(dag)).status, { up: "succeeded", down: "succeeded" })
      assert.deepStrictEqual((yield* execute(dag)).status, { up: "succeeded", down: "cached" })
      value = 2
      assert.deepStrictEqual((yield* execute(dag)).status, { up: "succeeded", down: "succeeded" })
    }).pipe(memory)))

  it.effect("declared files: a changed content runs; a touch that changes nothing, or an undeclared file, does not", () => {
    const dir = tempDir()
    write(dir, { "src/a.txt": "one", "README.md": "not declared" })
    return inDir(dir, Effect.gen(function*() {
      const { counts, hit } = counter()
      const job = Job.make("files", { cache: { files: ["src/**/*.txt"] }, run: () => hit("files") })
      const dag = Dag.make("d", [job])
      assert.strictEqual((yield* execute(dag)).status.files, "succeeded")
      const later = new Date(Date.now() + 60_000)
      fs.utimesSync("src/a.txt", later, later)
      fs.writeFileSync("README.md", "changed, but not declared")
      assert.strictEqual((yield* execute(dag)).status.files, "cached")
      fs.writeFileSync("src/a.txt", "two")
      const changed = yield* execute(dag)
      assert.strictEqual(changed.status.files, "succeeded")
      assert.deepStrictEqual(changed.said("files"), ["runs: file src/a.txt changed"])
      fs.writeFileSync("src/b.txt", "new")
      const added = yield* execute(dag)
      assert.deepStrictEqual(added.said("files"), ["runs: file src/b.txt was added"])
      fs.rmSync("src/a.txt")
      const removed = yield* execute(dag)
      assert.deepStrictEqual(removed.said("files"), ["runs: file src/a.txt was removed"])
      assert.strictEqual((yield* execute(dag)).status.files, "cached")
      assert.strictEqual(counts.files, 4)
    }).pipe(memory))
  })

  it.effect("declared env: another value runs (the value never shown); an undeclared variable does not count", () =>
    inDir(tempDir(), Effect.gen(function*() {
      const { counts, hit } = counter()
      const job = Job.make("deploy", { cache: { env: ["TARGET"] }, run: () => hit("deploy") })
      const dag = Dag.make("d", [job])
      assert.strictEqual((yield* execute(dag, { env: { TARGET: "production-7f3a" } })).status.deploy, "succeeded")
      assert.strictEqual((yield* execute(dag, { env: { TARGET: "production-7f3a", OTHER: "x" } })).status.deploy, "cached")
      const other = yield* execute(dag, { env: { TARGET: "staging-91bc" } })
      assert.strictEqual(other.status.deploy, "succeeded")
      assert.deepStrictEqual(other.said("deploy"), ["runs: env TARGET differs"])
      const unset = yield* execute(dag)
      assert.deepStrictEqual(unset.said("deploy"), ["runs: env TARGET differs"])
      assert.strictEqual((yield* execute(dag, { env: { TARGET: "production-7f3a" } })).status.deploy, "cached")
      assert.strictEqual(counts.deploy, 3)
      const everything = JSON.stringify(other.collected)
      assert.notInclude(everything, "staging-91bc")
      assert.notInclude(everything, "production-7f3a")
    }).pipe(memory)))

  it.effect("a Redacted config declared in cache.env counts by its value's digest, never journaled in clear", () => {
    const dir = tempDir()
    const journal = path.join(dir, "journal.db")
    return inDir(dir, Effect.gen(function*() {
      const { counts, hit } = counter()
      const job = Job.make("upload", {
        cache: { env: ["API_TOKEN"] },
        config: { token: Config.Redacted("API_TOKEN") },
        run: ({ config }) => Effect.as(hit("upload"), Redacted.value(config.token).length)
      })
      const run = (token: string) => execute(Dag.make("d", [job]), { env: { API_TOKEN: token } }).pipe(sqlite(journal))
      assert.strictEqual((yield* run("tok-first-5b1e")).status.upload, "succeeded")
      assert.strictEqual((yield* run("tok-first-5b1e")).status.upload, "cached")
      const other = yield* run("tok-other-77c0")
      assert.strictEqual(other.status.upload, "succeeded")
      assert.deepStrictEqual(other.said("upload"), ["runs: env API_TOKEN differs"])
      assert.strictEqual(counts.upload, 2)
      const bytes = fs.readdirSync(dir).filter((f) => f.startsWith("journal.db"))
        .map((f) => fs.readFileSync(path.join(dir, f)).toString("latin1")).join("")
      assert.include(bytes, "API_TOKEN")
      assert.notInclude(bytes, "tok-first-5b1e")
      assert.notInclude(bytes, "tok-other-77c0")
    }))
  })

  it.effect("the lockfile: another lockfile runs; the same one does not", () => {
    const dir = tempDir()
    write(dir, { "package-lock.json": `{"lockfileVersion":3,"packages":{"node_modules/a":{"version":"1.0.0"}}}` })
    return inDir(dir, Effect.gen(function*() {
      const job = Job.make("build", { cache: true, run: () => Effect.void })
      const dag = Dag.make("d", [job])
      assert.strictEqual((yield* execute(dag)).status.build, "succeeded")
      assert.strictEqual((yield* execute(dag)).status.build, "cached")
      fs.writeFileSync("package-lock.json", `{"lockfileVersion":3,"packages":{"node_modules/a":{"version":"1.0.1"}}}`)
      const changed = yield* execute(dag)
      assert.strictEqual(changed.status.build, "succeeded")
      assert.deepStrictEqual(changed.said("build"), ["runs: the lockfile package-lock.json changed"])
    }).pipe(memory))
  })

  it.effect("`version`: bumped by hand, the job runs; the same version is reused", () =>
    inDir(tempDir(), Effect.gen(function*() {
      const run = () => Effect.succeed("built")
      const v1 = Dag.make("d", [Job.make("build", { cache: { version: "1" }, run })])
      const v2 = Dag.make("d", [Job.make("build", { cache: { version: "2" }, run })])
      assert.strictEqual((yield* execute(v1)).status.build, "succeeded")
      assert.strictEqual((yield* execute(v1)).status.build, "cached")
      const bumped = yield* execute(v2)
      assert.strictEqual(bumped.status.build, "succeeded")
      assert.deepStrictEqual(bumped.said("build"), ["runs: the cache version changed (1 → 2)"])
      // The success of version 1 is still kept under its key.
      assert.strictEqual((yield* execute(v1)).status.build, "cached")
    }).pipe(memory)))

  it.effect("the run's partition: each slot has keys of its own (a job reading its slot never gets another slot's output)", () =>
    inDir(tempDir(), Effect.gen(function*() {
      const day = (key: string) => ({ key, start: new Date(`${key}T00:00:00Z`), end: new Date(Date.parse(`${key}T00:00:00Z`) + 86_400_000) })
      const dag = Dag.make("d", [Job.make("load", {
        cache: true,
        run: () => Effect.map(Partition.current, (slot) => `rows of ${slot.key}`)
      })])
      const first = yield* execute(dag, { partition: day("2026-01-01") })
      assert.strictEqual(first.status.load, "succeeded")
      const second = yield* execute(dag, { partition: day("2026-01-02") })
      assert.strictEqual(second.status.load, "succeeded")
      assert.deepStrictEqual(second.said("load"), ["runs: the partition differs (2026-01-01 → 2026-01-02)"])
      const again = yield* execute(dag, { partition: day("2026-01-01") })
      assert.strictEqual(again.status.load, "cached")
      const outputs = again.collected.events.flatMap((e) => e._tag === "JobCached" ? [e.output] : [])
      assert.deepStrictEqual(outputs, ["rows of 2026-01-01"])
      // A run without a slot is keyed apart from every slot.
      assert.strictEqual((yield* execute(Dag.make("d", [Job.make("load", { cache: true, run: () => Effect.succeed("rows") })]))).status.load, "succeeded")
    }).pipe(memory)))

  it.effect("a DAG's `cache` is the default of its jobs; a job's `cache: false` opts out", () =>
    inDir(tempDir(), Effect.gen(function*() {
      const a = Job.make("a", { run: () => Effect.void })
      const b = Job.make("b", { cache: false, run: () => Effect.void })
      const dag = Dag.make("d", [a, b], { cache: true })
      assert.deepStrictEqual((yield* execute(dag)).status, { a: "succeeded", b: "succeeded" })
      assert.deepStrictEqual((yield* execute(dag)).status, { a: "cached", b: "succeeded" })
    }).pipe(memory)))
})

describe("when a kept success is not reused", () => {
  it.effect("ttl (the Effect Clock): within it, reused; past it, the job runs and its new success is kept", () =>
    inDir(tempDir(), Effect.gen(function*() {
      const { counts, hit } = counter()
      const dag = Dag.make("d", [Job.make("fetch", { cache: { ttl: "1 hour" }, run: () => hit("fetch") })])
      assert.strictEqual((yield* execute(dag)).status.fetch, "succeeded")
      yield* TestClock.adjust("59 minutes")
      assert.strictEqual((yield* execute(dag)).status.fetch, "cached")
      yield* TestClock.adjust("2 minutes")
      const expired = yield* execute(dag)
      assert.strictEqual(expired.status.fetch, "succeeded")
      assert.strictEqual(expired.said("fetch").length, 1)
      assert.match(expired.said("fetch")[0]!, /^runs: the success of run \S+ is older than its ttl \(1h\)$/)
      yield* TestClock.adjust("30 minutes")
      assert.strictEqual((yield* execute(dag)).status.fetch, "cached")
      assert.strictEqual(counts.fetch, 2)
    }).pipe(memory)))

  it.effect("declared outputs: all there, reused; one missing, the job runs (and makes it again)", () =>
    inDir(tempDir(), Effect.gen(function*() {
      const { counts, hit } = counter()
      const job = Job.make("build", {
        cache: { outputs: ["dist/*.js"] },
        run: () =>
          Effect.andThen(hit("build"), Effect.sync(() => {
            fs.mkdirSync("dist", { recursive: true })
            fs.writeFileSync("dist/main.js", "main")
          }))
      })
      const dag = Dag.make("d", [job])
      assert.strictEqual((yield* execute(dag)).status.build, "succeeded")
      assert.strictEqual((yield* execute(dag)).status.build, "cached")
      fs.rmSync("dist", { recursive: true })
      const missing = yield* execute(dag)
      assert.strictEqual(missing.status.build, "succeeded")
      assert.deepStrictEqual(missing.said("build"), [`runs: its declared output "dist/*.js" is missing`])
      assert.isTrue(fs.existsSync("dist/main.js"))
      assert.strictEqual((yield* execute(dag)).status.build, "cached")
      assert.strictEqual(counts.build, 2)
    }).pipe(memory)))

  it.effect("a changed output schema: the job runs, and its dependent receives the new type", () =>
    inDir(tempDir(), Effect.gen(function*() {
      const seen: Array<unknown> = []
      const make = <A>(output: Schema.Codec<A, any>, value: A) => {
        const stamp = Job.make("stamp", { cache: true, output, run: () => Effect.succeed(value) })
        const use = Job.make("use", { needs: { stamp }, run: ({ stamp }) => Effect.sync(() => void seen.push(stamp)) })
        return Dag.make("d", [stamp, use])
      }
      const at = new Date("2026-12-01T00:00:00.000Z")
      assert.strictEqual((yield* execute(make(Schema.Date, at))).status.stamp, "succeeded")
      assert.strictEqual((yield* execute(make(Schema.Date, at))).status.stamp, "cached")
      const changed = yield* execute(make(Schema.Struct({ at: Schema.Date }), { at }))
      assert.strictEqual(changed.status.stamp, "succeeded")
      assert.deepStrictEqual(seen, [at, at, { at }])
      assert.instanceOf(seen[1], Date)
    }).pipe(memory)))

  it.effect("a failure is never kept: the next run runs the job again", () => {
    const dir = tempDir()
    const journal = path.join(dir, "journal.db")
    const kept = () => withDb(journal, (db) => Number(db.prepare(`SELECT count(*) AS n FROM cache_entries`).get()!.n))
    return inDir(dir, Effect.gen(function*() {
      let fail = true
      const { counts, hit } = counter()
      const job = Job.make("flaky", {
        cache: true,
        run: () => Effect.andThen(hit("flaky"), Effect.suspend(() => fail ? Effect.fail("boom") : Effect.succeed(1)))
      })
      const run = execute(Dag.make("d", [job])).pipe(sqlite(journal))
      assert.strictEqual((yield* run).status.flaky, "failed")
      assert.strictEqual(kept(), 0)
      assert.strictEqual((yield* run).status.flaky, "failed")
      fail = false
      assert.strictEqual((yield* run).status.flaky, "succeeded")
      assert.strictEqual(kept(), 1)
      assert.strictEqual((yield* run).status.flaky, "cached")
      assert.strictEqual(counts.flaky, 3)
    }))
  })
})

describe("a key that cannot be trusted", () => {
  it.effect("a need whose output JSON cannot hold exactly (a Map without a schema): the job runs every time, with a warning", () =>
    inDir(tempDir(), Effect.gen(function*() {
      const { counts, hit } = counter()
      const up = Job.make("up", { run: () => Effect.succeed(new Map([["k", 1]])) })
      const down = Job.make("down", { needs: { up }, cache: true, run: ({ up }) => Effect.as(hit("down"), up.size) })
      const dag = Dag.make("d", [up, down])
      const first = yield* execute(dag)
      assert.deepStrictEqual(first.status, { up: "succeeded", down: "succeeded" })
      const second = yield* execute(dag)
      assert.deepStrictEqual(second.status, { up: "succeeded", down: "succeeded" })
      assert.strictEqual(counts.down, 2)
      assert.deepStrictEqual(second.said("down"), [
        `runs, and its success is not kept for reuse: the output of need "up" could not be journaled exactly ` +
        "(it is a Map, which JSON cannot hold exactly; declare `output` with a Schema to restore it)"
      ])
    }).pipe(memory)))
})

describe("reusing nothing on request", () => {
  const setup = () => {
    const { counts, hit } = counter()
    // `b` reads extra.txt, which is not in its key: forced, it may produce another output.
    const a = Job.make("a", { cache: true, run: () => Effect.as(hit("a"), "a") })
    const b = Job.make("b", { cache: true, run: () => Effect.andThen(hit("b"), Effect.sync(() => fs.readFileSync("extra.txt", "utf8"))) })
    const c = Job.make("c", { needs: { b }, cache: true, run: ({ b }) => Effect.as(hit("c"), b.length) })
    return { counts, dag: Dag.make("d", [a, b, c]) }
  }

  it.effect("force \"all\": every job runs, and the successes are kept again", () => {
    const dir = tempDir()
    write(dir, { "extra.txt": "one" })
    return inDir(dir, Effect.gen(function*() {
      const { counts, dag } = setup()
      yield* execute(dag)
      assert.deepStrictEqual((yield* execute(dag, { force: "all" })).status, { a: "succeeded", b: "succeeded", c: "succeeded" })
      assert.deepStrictEqual((yield* execute(dag)).status, { a: "cached", b: "cached", c: "cached" })
      assert.deepStrictEqual(counts, { a: 2, b: 2, c: 2 })
    }).pipe(memory))
  })

  it.effect("force named jobs: those run; a dependent runs only when their output changed", () => {
    const dir = tempDir()
    write(dir, { "extra.txt": "one" })
    return inDir(dir, Effect.gen(function*() {
      const { counts, dag } = setup()
      yield* execute(dag)
      assert.deepStrictEqual((yield* execute(dag, { force: ["b"] })).status, { a: "cached", b: "succeeded", c: "cached" })
      fs.writeFileSync("extra.txt", "three")
      const changed = yield* execute(dag, { force: ["b"] })
      assert.deepStrictEqual(changed.status, { a: "cached", b: "succeeded", c: "succeeded" })
      assert.deepStrictEqual(changed.said("c"), ["runs: needed output of b changed"])
      assert.deepStrictEqual(counts, { a: 1, b: 3, c: 2 })
    }).pipe(memory))
  })

  it.effect("RUNNER_CACHE=off (from the run's ConfigProvider): nothing is reused; the next run without it reuses", () => {
    const dir = tempDir()
    write(dir, { "extra.txt": "one" })
    return inDir(dir, Effect.gen(function*() {
      const { counts, dag } = setup()
      yield* execute(dag)
      const off = yield* execute(dag, { env: { RUNNER_CACHE: "off" } })
      assert.deepStrictEqual(off.status, { a: "succeeded", b: "succeeded", c: "succeeded" })
      assert.deepStrictEqual((yield* execute(dag, { env: { RUNNER_CACHE: "on" } })).status, { a: "cached", b: "cached", c: "cached" })
      assert.deepStrictEqual(counts, { a: 2, b: 2, c: 2 })
    }).pipe(memory))
  })
})

describe("a corrupt or missing cache row (direct SQL on the journal file)", () => {
  const setup = () => {
    const dir = tempDir()
    const journal = path.join(dir, "journal.db")
    const { counts, hit } = counter()
    const job = Job.make("count", { cache: true, output: Schema.Number, run: () => Effect.as(hit("count"), 42) })
    const seen: Array<number> = []
    const use = Job.make("use", { needs: { job }, run: ({ job }) => Effect.sync(() => void seen.push(job)) })
    const dag = Dag.make("d", [job, use])
    const run = execute(dag).pipe(sqlite(journal))
    const rows = () =>
      withDb(journal, (db) => db.prepare(`SELECT cache_key, output, manifest FROM cache_entries WHERE job_id = 'count'`).all())
    return { dir, journal, counts, seen, run, rows }
  }

  const cases: ReadonlyArray<readonly [string, string, RegExp | undefined]> = [
    ["output is not JSON", `UPDATE cache_entries SET output = '{"truncated'`, /^runs: the output of the success of run \S+ no longer decodes with its schema \(the journaled JSON is malformed/],
    ["output does not decode", `UPDATE cache_entries SET output = '"forty-two"'`, /^runs: the output of the success of run \S+ no longer decodes with its schema \(Expected /],
    ["manifest is not a manifest", `UPDATE cache_entries SET manifest = 'not json'`, /^runs: the kept entry of the success of run \S+ is damaged \(its manifest does not match its key\)$/m],
    ["manifest is another one", `UPDATE cache_entries SET manifest = '[["job","","count"]]'`, /is damaged \(its manifest does not match its key\)$/m],
    // As if it never ran: nothing worth telling (the reason is logged at debug level).
    ["the row is deleted", `DELETE FROM cache_entries`, undefined]
  ]
  it.effect.each(cases)("%s: a miss, never a crash; the job runs and its success is kept again", ([, statement, reason]) =>
    inDir(tempDir(), Effect.gen(function*() {
      const { journal, counts, seen, run, rows } = setup()
      assert.strictEqual((yield* run).status.count, "succeeded")
      assert.strictEqual((yield* run).status.count, "cached")
      withDb(journal, (db) => db.exec(statement))
      const after = yield* run
      assert.deepStrictEqual(after.status, { count: "succeeded", use: "succeeded" })
      const said = after.said("count")
      if (reason === undefined) assert.deepStrictEqual(said, [])
      else {
        assert.strictEqual(said.length, 1, said.join("\n"))
        assert.match(said[0]!, reason)
      }
      assert.strictEqual((yield* run).status.count, "cached")
      assert.strictEqual(counts.count, 2)
      assert.deepStrictEqual(seen, [42, 42, 42, 42])
      assert.strictEqual(rows().length, 1)
    })))
})

describe("keys across processes", () => {
  it("two processes computing the key of the same job from the same inputs agree; a changed input changes it", () => {
    const dir = tempDir()
    write(dir, {
      "tasks.ts": [
        `import { Dag, Job } from ${JSON.stringify(index)}`,
        `import * as Effect from "effect/Effect"`,
        `import { helper } from "./helper.ts"`,
        `export const a = Job.make("a", { cache: { files: ["data/*.csv"], env: ["MODE"] }, run: () => Effect.succeed(helper) })`,
        `export const b = Job.command("b", ["echo", "hi"], { cache: { version: "3" } })`,
        `export default Dag.make("keys", [a, b])`
      ].join("\n"),
      "helper.ts": `export const helper = 1\n`,
      "data/x.csv": "1,2\n",
      "data/y.csv": "3,4\n",
      "package-lock.json": "{}"
    })
    const keys = () => {
      const result = spawnSync(bins.node, [path.join(root, "test/fixtures/cache-keys.ts"), path.join(dir, "tasks.ts")], {
        cwd: dir,
        encoding: "utf8",
        env: { ...process.env, MODE: "fast" }
      })
      assert.strictEqual(result.status, 0, result.stderr)
      return JSON.parse(result.stdout) as Record<string, string>
    }
    const one = keys()
    const two = keys()
    assert.deepStrictEqual(Object.keys(one), ["a", "b"])
    assert.match(one.a!, /^[0-9a-f]{64}$/)
    assert.deepStrictEqual(two, one)
    fs.writeFileSync(path.join(dir, "data/y.csv"), "3,5\n")
    const three = keys()
    assert.notStrictEqual(three.a, one.a)
    assert.strictEqual(three.b, one.b)
  })
})
