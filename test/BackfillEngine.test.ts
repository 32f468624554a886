/**
 * The backfill engine in process, over a real journal file: which slots run under each reprocess mode, max-active
 * filling (proved with a latch, not timings: the slow slot is held until the others are done), the order, and the
 * Partition each slot's run gets across a spring-forward day. The decision table is checked on its own.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"
import * as path from "node:path"
import { Dag, Job, Partition } from "../src/index.ts"
import * as Backfill from "../src/internal/backfill/Backfill.ts"
import * as Slots from "../src/internal/backfill/Slots.ts"
import * as Store from "../src/internal/backfill/Store.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as RunLogger from "../src/internal/RunLogger.ts"
import * as SqliteClient from "../src/internal/sql/SqliteClient.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { collectingReporter } from "./support/run.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-backfill-engine-")

/** Runs `effect` with a journal file, its SqlClient (the backfill tables), and the runner's services. */
const withJournal = <A, E>(effect: Effect.Effect<A, E, any>): Effect.Effect<A, E> => {
  const file = path.join(tempDir(), "journal.db")
  return effect.pipe(
    // Inside the journal's layer: the journal has migrated the file when the second connection opens it.
    Effect.provide(SqliteClient.layer({ filename: file, durability: "normal" })),
    Effect.provide(Layer.mergeAll(
      NodeServices.layer,
      FetchHttpClient.layer,
      RunLogger.layer.pipe(Layer.provideMerge(Layer.mergeAll(
        SqlJournal.layerSqlite({ filename: file, durability: "normal" }),
        collectingReporter({ events: [], logs: [] })
      )))
    ))
  ) as Effect.Effect<A, E>
}

interface Flags {
  readonly from: string
  readonly to: string
  readonly every?: string
  readonly timezone?: string
  readonly reprocess?: Backfill.Reprocess
  readonly maxActive?: number
  readonly order?: Backfill.Order
}

/** Creates a backfill of `dag` and executes it, as `runner backfill` does. */
const backfill = (dag: Dag.Dag, flags: Flags) =>
  Effect.gen(function*() {
    const plan = yield* Plan.plan(dag)
    const range = Slots.resolve(dag, flags)
    const id = Store.makeId(Date.now())
    yield* Store.create({
      id,
      dag: dag.name,
      file: "test",
      from: range.from.getTime(),
      to: range.to.getTime(),
      identity: id,
      options: "{}",
      who: undefined,
      createdAt: Date.now()
    }, range.slots)
    const rows = yield* Store.slots(id)
    const stop = { graceful: yield* Deferred.make<void>(), now: yield* Deferred.make<void>() }
    const summary = yield* Backfill.execute({
      backfill: (yield* Store.get(id))!,
      plan,
      slots: flags.order === "desc" ? [...rows].reverse() : rows,
      total: rows.length,
      doneBefore: 0,
      reprocess: flags.reprocess ?? "missing",
      maxActive: flags.maxActive ?? 1,
      concurrency: 2,
      failureMode: "no-new",
      runnerVersion: "test",
      audit: undefined,
      grace: Duration.seconds(5)
    }, stop)
    return { id, summary, states: Object.fromEntries((yield* Store.slots(id)).map((s) => [s.key, s.state])) }
  })

const runsPerKey = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ run_key: string; n: number }>`SELECT run_key, COUNT(*) AS n FROM runs GROUP BY run_key ORDER BY run_key`
  return Object.fromEntries(rows.map((r) => [r.run_key, Number(r.n)]))
})

const hours = (n: number) => Array.from({ length: n }, (_, i) => `2026-01-01T${String(i).padStart(2, "0")}:00`)

describe("backfill engine", () => {
  it.live("--max-active fills a freed place at once: the others go through while one slot is held", () =>
    withJournal(Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const finished: Array<string> = []
      let running = 0
      let most = 0
      const load = Job.make("load", {
        run: () =>
          Effect.gen(function*() {
            const { key } = yield* Partition.Partition
            running++
            most = Math.max(most, running)
            if (key === "2026-01-01T00:00") yield* Deferred.await(release)
            else yield* Effect.sleep(20)
            running--
            finished.push(key)
          })
      })
      const dag = Dag.make("hourly", [load], { schedule: "0 * * * *", timezone: "UTC" })
      const fiber = yield* Effect.forkChild(backfill(dag, { from: "2026-01-01T00:00", to: "2026-01-01T06:00", maxActive: 2 }))
      while (finished.length < 5) yield* Effect.sleep(10)
      assert.deepStrictEqual(finished, hours(6).slice(1), "the five others, one after another beside the held one")
      yield* Deferred.succeed(release, undefined)
      const { summary } = yield* Fiber.join(fiber)
      assert.deepStrictEqual(finished.at(-1), "2026-01-01T00:00")
      assert.strictEqual(most, 2, "never more than --max-active at once")
      assert.strictEqual(summary.succeeded, 6)
    })))

  it.live("--order desc starts the newest slot first", () =>
    withJournal(Effect.gen(function*() {
      const started: Array<string> = []
      const load = Job.make("load", { run: () => Effect.map(Partition.Partition, (p) => void started.push(p.key)) })
      const dag = Dag.make("hourly", [load], { schedule: "0 * * * *", timezone: "UTC" })
      yield* backfill(dag, { from: "2026-01-01T00:00", to: "2026-01-01T04:00", order: "desc" })
      assert.deepStrictEqual(started, hours(4).reverse())
    })))

  it.live("reprocess: missing runs what did not succeed, failed only what failed, all everything again", () =>
    withJournal(Effect.gen(function*() {
      const failing = new Set(["2026-01-01T01:00"])
      const started: Array<string> = []
      const load = Job.make("load", {
        run: () =>
          Effect.gen(function*() {
            const { key } = yield* Partition.Partition
            started.push(key)
            if (failing.has(key)) return yield* Effect.fail(`down for ${key}`)
          })
      })
      const dag = Dag.make("hourly", [load], { schedule: "0 * * * *", timezone: "UTC" })
      const range = { from: "2026-01-01T00:00", to: "2026-01-01T03:00" }
      const first = yield* backfill(dag, range)
      assert.deepStrictEqual(first.summary.failed.map((f) => f.key), ["2026-01-01T01:00"])
      assert.deepStrictEqual(first.states, { "2026-01-01T00:00": "succeeded", "2026-01-01T01:00": "failed", "2026-01-01T02:00": "succeeded" })

      started.length = 0
      // A slot that never ran is not `failed`: the new 03:00 is skipped.
      const failedOnly = yield* backfill(dag, { ...range, to: "2026-01-01T04:00", reprocess: "failed" })
      assert.deepStrictEqual(started, ["2026-01-01T01:00"])
      assert.strictEqual(failedOnly.states["2026-01-01T03:00"], "skipped")
      assert.strictEqual(failedOnly.summary.failed.length, 1, "it failed again")

      failing.clear()
      started.length = 0
      const missing = yield* backfill(dag, { ...range, to: "2026-01-01T04:00" })
      assert.deepStrictEqual(started, ["2026-01-01T01:00", "2026-01-01T03:00"])
      assert.strictEqual(missing.summary.skipped, 2)
      // The failed slot's run was resumed each time, not doubled.
      assert.deepStrictEqual(yield* runsPerKey, hours(4).reduce((acc, k) => ({ ...acc, [k]: 1 }), {}))

      started.length = 0
      const all = yield* backfill(dag, { ...range, reprocess: "all" })
      assert.deepStrictEqual(started, hours(3))
      assert.strictEqual(all.summary.succeeded, 3)
      assert.deepStrictEqual(yield* runsPerKey, { ...hours(3).reduce((acc, k) => ({ ...acc, [k]: 2 }), {}), "2026-01-01T03:00": 1 })
    })))

  it.live("each slot's run gets its Partition: --every 1h over the spring-forward day in Berlin is 23 contiguous hours", () =>
    withJournal(Effect.gen(function*() {
      const seen: Array<Partition.Partition> = []
      const load = Job.make("load", { run: () => Effect.map(Partition.Partition, (p) => void seen.push(p)) })
      const dag = Dag.make("adhoc", [load])
      yield* backfill(dag, { from: "2026-03-29", to: "2026-03-30", every: "1h", timezone: "Europe/Berlin", maxActive: 4 })
      seen.sort((a, b) => a.start.getTime() - b.start.getTime())
      assert.strictEqual(seen.length, 23)
      assert.notInclude(seen.map((p) => p.key), "2026-03-29T02")
      assert.strictEqual(seen[0]!.start.toISOString(), "2026-03-28T23:00:00.000Z")
      assert.strictEqual(seen.at(-1)!.end.toISOString(), "2026-03-29T22:00:00.000Z")
      seen.slice(1).forEach((p, i) => assert.strictEqual(p.start.getTime(), seen[i]!.end.getTime(), p.key))
    })))
})

describe("a slot's decision", () => {
  const run = (status: string) => ({ runId: "R", status, startedAt: 0, endedAt: undefined })
  it.each([
    ["missing", undefined, true, false, "run"],
    ["missing", "succeeded", false, false, "skip: succeeded in run R"],
    ["missing", "failed", true, false, "run again: failed in run R"],
    ["missing", "interrupted", true, false, "run again: interrupted in run R"],
    ["missing", "running", true, false, "run again: unfinished (running) in run R"],
    ["failed", undefined, false, false, "skip: never ran (--reprocess failed runs only failed slots)"],
    ["failed", "succeeded", false, false, "skip: succeeded in run R"],
    ["failed", "failed", true, false, "run again: failed in run R"],
    ["failed", "interrupted", true, false, "run again: interrupted in run R"],
    ["all", undefined, true, false, "run"],
    ["all", "succeeded", true, true, "run again: --reprocess all (succeeded in run R)"],
    ["all", "failed", true, true, "run again: failed in run R"]
  ] as const)("%s, last run %s: run %s, force %s (%s)", (reprocess, status, runs, force, text) => {
    assert.deepStrictEqual(Backfill.decide(status === undefined ? undefined : run(status), reprocess), { run: runs, force, text })
  })
})
