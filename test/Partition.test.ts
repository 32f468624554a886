/**
 * `Partition`: what a job reads of its run's slot. Read without a layer (Dag.make type-checks: it is a Reference);
 * `current`/`option` when a run may have none; the scheduler gives every slot's run its Partition (TestClock-driven,
 * across a DAG's DST change); a keyed run of a slot gets the same (Run.partitionOf). And the scheduler's catch-up log
 * summarises more than 5 missed slots in one line.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/testing/TestClock"
import { Dag, Job, Partition } from "../src/index.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Run from "../src/internal/Run.ts"
import { schedule as scheduleFor } from "./support/scheduler.ts"

const slot: Partition.Partition = { key: "2026-01-02T02:00", start: new Date("2026-01-02T01:00:00Z"), end: new Date("2026-01-03T01:00:00Z") }

describe("Partition", () => {
  it("a job reading it needs no layer: Dag.make type-checks it as is", () => {
    const load = Job.make("load", { run: () => Effect.map(Partition.Partition, (p) => p.key) })
    const dag = Dag.make("loads", [load], { schedule: "0 2 * * *", timezone: "Europe/Berlin" })
    assert.strictEqual(dag.jobs.length, 1)
  })

  it.effect("provided, every reading gives the slot", () =>
    Effect.gen(function*() {
      const read = Effect.all([Partition.Partition, Partition.current, Effect.map(Partition.option, Option.getOrThrow)])
      const [direct, current, option] = yield* Partition.provide(read, slot)
      assert.deepStrictEqual([direct, current, option], [slot, slot, slot])
    }))

  it.effect("absent: current fails with NoPartition, option is none, reading it directly dies saying how to give one", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip(Partition.current)
      assert.instanceOf(failed, Partition.NoPartition)
      assert.isTrue(Option.isNone(yield* Partition.option))
      const exit = yield* Effect.exit(Partition.Partition)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const defect = Cause.squash(exit.cause)
        assert.instanceOf(defect, Partition.NoPartition)
        assert.match((defect as Error).message, /this run has no Partition: .*--key <a slot of the DAG's schedule/)
      }
      // Reading it again still fails: an absent Partition is never cached as a value.
      assert.isTrue(Exit.isFailure(yield* Effect.exit(Partition.Partition)))
    }))
})

describe("the Partition of a run", () => {
  const dag = Dag.make("loads", [Job.make("load", { run: () => Effect.void })], { schedule: "30 2 * * *", timezone: "America/New_York" })
  const plan = Effect.runSync(Plan.plan(dag))

  it("a run key that is a slot of the schedule gives that slot until the next; any other key, or no key, none", () => {
    assert.deepStrictEqual(Run.partitionOf({ plan, target: { _tag: "Key", key: "2026-03-07T02:30", force: false } }), {
      key: "2026-03-07T02:30",
      start: new Date("2026-03-07T07:30:00Z"),
      // 2026-03-08T02:30 does not exist in New York: the next slot is the day after.
      end: new Date("2026-03-09T06:30:00Z")
    })
    assert.isUndefined(Run.partitionOf({ plan, target: { _tag: "Key", key: "2026-03-08T02:30", force: false } }))
    assert.isUndefined(Run.partitionOf({ plan, target: { _tag: "Key", key: "release-1", force: false } }))
    assert.isUndefined(Run.partitionOf({ plan, target: { _tag: "New" } }))
    assert.strictEqual(Run.partitionOf({ plan, target: { _tag: "New" }, partition: slot }), slot, "one given wins")
  })
})

/** The scheduler's own log lines over `span` from `start` (see support/scheduler.ts). */
const schedule = (
  dag: Dag.Dag,
  journal: Context.Context<Journal.Journal>,
  options: { readonly start: number; readonly span: Duration.Input }
) => Effect.map(scheduleFor(dag, journal, options), (ran) => ran.messages)

describe("the scheduler", () => {
  it.effect("gives each slot's run its Partition, across the fall-back night in Europe/Berlin (one 02:00)", () =>
    Effect.scoped(Effect.gen(function*() {
      const seen: Array<string> = []
      const record = Job.make("record", {
        run: () => Effect.map(Partition.Partition, (p) => void seen.push(`${p.key} ${p.start.toISOString()} ${p.end.toISOString()}`))
      })
      const dag = Dag.make("hourly", [record], { schedule: "0 * * * *", timezone: "Europe/Berlin" })
      const journal = yield* Layer.build(Journal.layerMemory)
      // 23:30Z on 2026-10-24 is 01:30 CEST; four real hours follow, in which the wall clock shows 02:00 twice.
      yield* schedule(dag, journal, { start: Date.parse("2026-10-24T23:30:00Z"), span: "4 hours" })
      assert.deepStrictEqual(seen, [
        "2026-10-25T02:00 2026-10-25T00:00:00.000Z 2026-10-25T02:00:00.000Z",
        "2026-10-25T03:00 2026-10-25T02:00:00.000Z 2026-10-25T03:00:00.000Z",
        "2026-10-25T04:00 2026-10-25T03:00:00.000Z 2026-10-25T04:00:00.000Z"
      ])
    })))

  it.effect("logs up to 5 missed slots one per line, more in one line with the count, the first and the last", () =>
    Effect.scoped(Effect.gen(function*() {
      const dag = (name: string) =>
        Dag.make(name, [Job.make("work", { run: () => Effect.void })], { schedule: "0 * * * *", timezone: "UTC", catchUp: "none" })
      const hour = 3_600_000
      const missed = (name: string, hours: number) =>
        Effect.gen(function*() {
          const journal = yield* Layer.build(Journal.layerMemory)
          yield* Context.get(journal, Journal.Journal).saveSlot(name, 0)
          const lines = yield* schedule(dag(name), journal, { start: (hours + 0.5) * hour, span: "10 minutes" })
          return lines.filter((m) => m.includes("missed"))
        })
      assert.strictEqual((yield* missed("five", 5)).length, 5)
      assert.deepStrictEqual(yield* missed("many", 48), [
        "many: missed 48 slots while not running (catch-up: none), first 1970-01-01T01:00, last 1970-01-03T00:00: " +
        "not run (runner backfill runs them)"
      ])
    })))
})
