/**
 * Time in the journal comes from `Clock`: every timestamp the journal writes (runs, checkpoints, schedule slots, run
 * ids) is the fiber's clock, so TestClock drives them and tests of staleness, retries and schedules need no real wait.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import * as path from "node:path"
import * as Journal from "../src/internal/Journal.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { withDb } from "./support/db.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-clock-")

// 2031-03-04T05:06:07Z: far from the real time, so a stray Date.now() cannot pass for it.
const at = Date.UTC(2031, 2, 4, 5, 6, 7)

const request: Journal.BeginRequest = {
  dag: "clocked",
  target: { _tag: "New" },
  definitionHash: "h",
  trigger: "test",
  runnerVersion: "test",
  wait: false
}

const journalOf = <E>(layer: Layer.Layer<Journal.Journal, E>) =>
  Effect.map(Layer.build(layer), (context) => context.mapUnsafe.get(Journal.Journal.key) as Journal.Journal["Service"])

describe("journal time", () => {
  it.effect("the SQLite journal stamps runs, locks, checkpoints and schedule slots with the fiber's clock", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* TestClock.setTime(at)
      const file = path.join(tempDir(), "j.db")
      const journal = yield* journalOf(SqlJournal.layerSqlite({ filename: file, durability: "normal" }))
      const begun = yield* journal.begin(request)
      assert.strictEqual(begun._tag, "Run")
      if (begun._tag !== "Run") return
      assert.match(begun.runId, /^20310304-050607-[0-9a-f]{6}$/)
      yield* TestClock.adjust(1_000)
      yield* journal.saveCheckpoint(begun.runId, "job", "step", { json: "1", inputHash: undefined })
      yield* journal.saveSlot("clocked", at)
      withDb(file, (db) => {
        const run = db.prepare("SELECT started_at FROM runs WHERE id = ?").get(begun.runId) as { started_at: number }
        assert.strictEqual(Number(run.started_at), at)
        const lock = db.prepare("SELECT since FROM locks").get() as { since: number }
        assert.strictEqual(Number(lock.since), at)
        const checkpoint = db.prepare("SELECT at FROM checkpoints WHERE run_id = ?").get(begun.runId) as { at: number }
        assert.strictEqual(Number(checkpoint.at), at + 1_000)
        const slot = db.prepare("SELECT updated_at FROM schedules WHERE dag = 'clocked'").get() as { updated_at: number }
        assert.strictEqual(Number(slot.updated_at), at + 1_000)
      })
    })))

  it.effect("the in-memory journal's run ids carry the fiber's clock", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* TestClock.setTime(at)
      const journal = yield* journalOf(Journal.layerMemory)
      const begun = yield* journal.begin(request)
      assert.strictEqual(begun._tag, "Run")
      if (begun._tag === "Run") assert.match(begun.runId, /^20310304-050607-[0-9a-f]{6}$/)
    })))
})
