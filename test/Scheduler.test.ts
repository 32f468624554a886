import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Dag from "../src/Dag.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Resource from "../src/Resource.ts"
import * as Scheduler from "../src/internal/Scheduler.ts"
import type * as Trigger from "../src/internal/Trigger.ts"
import { schedule } from "./support/scheduler.ts"

const hour = 3_600_000

const hourly = (catchUp: Trigger.CatchUp) =>
  Dag.make("hourly", [Job.make("work", { run: () => Effect.void })], { schedule: "0 * * * *", timezone: "UTC", catchUp })

const starts = (messages: ReadonlyArray<string>) =>
  messages.flatMap((m) => m.match(/^hourly: slot (\S+): starting$/)?.[1] ?? [])

describe("Scheduler", () => {
  describe("catch-up after downtime", () => {
    // The last slot fired at 00:00; the scheduler comes back at 05:30: 01:00 ... 05:00 were missed.
    const missedRun = (catchUp: Trigger.CatchUp, maxCatchUp?: number) =>
      Effect.scoped(Effect.gen(function*() {
        const journal = yield* Layer.build(Journal.layerMemory)
        yield* Context.get(journal, Journal.Journal).saveSlot("hourly", 0)
        return yield* schedule(hourly(catchUp), journal, {
          start: 5.5 * hour,
          span: "10 minutes",
          ...(maxCatchUp === undefined ? {} : { maxCatchUp })
        })
      }))

    it.effect("none logs every missed slot and runs none", () =>
      Effect.gen(function*() {
        const { messages } = yield* missedRun("none")
        assert.deepStrictEqual(starts(messages), [])
        assert.deepStrictEqual(
          messages.filter((m) => m.includes("missed slot")),
          [1, 2, 3, 4, 5].map((h) =>
            `hourly: missed slot 1970-01-01T0${h}:00 while not running (catch-up: none): not run`
          )
        )
      }))

    it.effect("latest runs only the most recent missed slot (the default)", () =>
      Effect.gen(function*() {
        const { messages } = yield* missedRun("latest")
        assert.deepStrictEqual(starts(messages), ["1970-01-01T05:00"])
        assert.strictEqual(messages.filter((m) => m.endsWith("not run")).length, 4)
      }))

    it.effect("all runs every missed slot in order, bounded by --max-catch-up", () =>
      Effect.gen(function*() {
        const all = yield* missedRun("all")
        assert.deepStrictEqual(starts(all.messages), [1, 2, 3, 4, 5].map((h) => `1970-01-01T0${h}:00`))
        const bounded = yield* missedRun("all", 2)
        assert.deepStrictEqual(starts(bounded.messages), ["1970-01-01T04:00", "1970-01-01T05:00"])
      }))

    it.effect("the last fired slot lives in the journal: a restart runs what it missed, not what it ran", () =>
      Effect.scoped(Effect.gen(function*() {
        const journal = yield* Layer.build(Journal.layerMemory)
        const first = yield* schedule(hourly("all"), journal, { start: 0.5 * hour, span: "2 hours" })
        assert.deepStrictEqual(starts(first.messages), ["1970-01-01T01:00", "1970-01-01T02:00"])
        // Stopped at 02:30 and back at 06:30: 03:00 to 06:00 were missed; 01:00 and 02:00 ran and are not run again.
        const second = yield* schedule(hourly("all"), journal, { start: 6.5 * hour, span: "1 minute" })
        assert.deepStrictEqual(starts(second.messages), [3, 4, 5, 6].map((h) => `1970-01-01T0${h}:00`))
      })))
  })

  describe("overlap", () => {
    // Every minute, each run takes 150 s; the scheduler runs for 5 minutes.
    const slow = (overlap: Trigger.Overlap) =>
      Dag.make("slow", [Job.make("work", { run: () => Effect.sleep("150 seconds") })], {
        schedule: "* * * * *",
        timezone: "UTC",
        overlap
      })
    const runFor = (overlap: Trigger.Overlap) =>
      Effect.scoped(Effect.gen(function*() {
        const journal = yield* Layer.build(Journal.layerMemory)
        const { events, messages } = yield* schedule(slow(overlap), journal, { start: 0, span: "5 minutes" })
        const started = events.filter((e) => e._tag === "RunStarted").map((e) => e.at / 1000)
        return { started, messages }
      }))

    it.effect("skip: a slot that comes while the previous run is going is skipped and logged", () =>
      Effect.gen(function*() {
        const { messages, started } = yield* runFor("skip")
        assert.deepStrictEqual(started, [60, 240])
        assert.strictEqual(messages.filter((m) => m.includes("skipped: the previous run is still going")).length, 3)
      }))

    it.effect("queue: such slots run after it, one at a time", () =>
      Effect.gen(function*() {
        const { messages, started } = yield* runFor("queue")
        // Slots 1..5 min: 1 runs at 60 s, 2 waits for it (210 s); the stop at 300 s leaves 3, 4 and 5 not started.
        assert.deepStrictEqual(started, [60, 210])
        assert.strictEqual(messages.filter((m) => m.includes("queued")).length, 4)
        assert.strictEqual(messages.filter((m) => m.includes("not started: the scheduler is stopping")).length, 3)
      }))

    it.effect("allow: runs overlap", () =>
      Effect.gen(function*() {
        const { started } = yield* runFor("allow")
        assert.deepStrictEqual(started, [60, 120, 180, 240, 300])
      }))
  })

  it.effect("a graceful stop waits for running runs up to the grace period, then interrupts them", () =>
    Effect.scoped(Effect.gen(function*() {
      const journal = yield* Layer.build(Journal.layerMemory)
      const long = Dag.make("long", [Job.make("work", { run: () => Effect.sleep("1 hour") })], {
        schedule: "* * * * *",
        timezone: "UTC",
        overlap: "allow"
      })
      const cut = yield* schedule(long, journal, { start: 0, span: "90 seconds", grace: "10 minutes" })
      assert.isFalse(cut.stopped.drained)
      assert.include(cut.messages, "interrupting the runs still going; each resumes when its slot's key runs again (a catch-up, or runner <file> --key K)")
      const finished = cut.events.filter((e) => e._tag === "RunFinished").map((e) => e._tag === "RunFinished" && e.status)
      assert.deepStrictEqual(finished, ["interrupted"])
      const quick = Dag.make("quick", [Job.make("work", { run: () => Effect.sleep("1 minute") })], {
        schedule: "* * * * *",
        timezone: "UTC"
      })
      const drained = yield* schedule(quick, journal, { start: 0, span: "90 seconds", grace: "10 minutes" })
      assert.isTrue(drained.stopped.drained)
    })))

  it.effect("overlapping runs of the daemon share one limit per resource name", () =>
    Effect.scoped(Effect.gen(function*() {
      const journal = yield* Layer.build(Journal.layerMemory)
      const db = Resource.make("db", { concurrency: 1 })
      // Every minute, each run's job holds db for 90 s: the 02:00 run overlaps the 01:00 one (overlap: allow).
      const shared = Dag.make("shared", [Job.make("work", { uses: [db], run: () => Effect.sleep("90 seconds") })], {
        schedule: "* * * * *",
        timezone: "UTC",
        overlap: "allow"
      })
      const { events } = yield* schedule(shared, journal, { start: 0, span: "130 seconds" })
      assert.deepStrictEqual(events.filter((e) => e._tag === "RunStarted").map((e) => e.at / 1000), [60, 120])
      const starts = events.flatMap((e) => e._tag === "AttemptStarted" ? [e.at / 1000] : [])
      assert.deepStrictEqual(starts, [60, 150], "the second run's job waits for the first's permit")
      const waits = events.flatMap((e) => e._tag === "JobWaiting" ? [[e.at / 1000, e.resource]] : [])
      assert.deepStrictEqual(waits, [[120, "db"]])
    })))

  describe("layers", () => {
    class Counter extends Context.Service<Counter, { readonly next: () => number }>()("test/Scheduler/Counter") {}

    it.effect("the DAG's layer is built for each run and released after it; a failing one skips its slot", () =>
      Effect.scoped(Effect.gen(function*() {
        const stats = { acquired: 0, released: 0 }
        const drawn: Array<number> = []
        const fail = { at: 3 }
        const layer = Layer.effect(Counter)(Effect.acquireRelease(
          Effect.suspend(() => {
            stats.acquired++
            if (stats.acquired === fail.at) return Effect.fail(new Error("counter offline"))
            let n = 0
            return Effect.succeed(Counter.of({ next: () => ++n }))
          }),
          () => Effect.sync(() => void stats.released++)
        ))
        const dag = Dag.make("hourly", [
          Job.make("draw", { run: () => Effect.map(Effect.service(Counter), (c) => void drawn.push(c.next())) })
        ], { schedule: "0 * * * *", timezone: "UTC", layer })
        const journal = yield* Layer.build(Journal.layerMemory)
        yield* Context.get(journal, Journal.Journal).saveSlot("hourly", 0)
        const { messages } = yield* schedule(dag, journal, { start: 0.5 * hour, span: "4 hours" })
        // Slots 01:00 ... 04:00: four builds; the third failed (nothing to release), the others ran with a fresh counter.
        assert.deepStrictEqual(stats, { acquired: 4, released: 3 })
        assert.deepStrictEqual(drawn, [1, 1, 1])
        assert.isTrue(messages.some((m) => /slot \S+: not started: dag "hourly": its layer failed to build; no job ran: counter offline/.test(m)), messages.join("\n"))
      })))
  })
})
