/**
 * Time in the journal comes from `Clock`: every timestamp the journal writes (runs, checkpoints, schedule slots, run
 * ids) is the fiber's clock, so TestClock drives them and tests of staleness, retries and schedules need no real wait.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import * as Journal from "../src/internal/Journal.ts"
import { journalBackends } from "./support/backends.ts"

const backends = journalBackends()

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
  describe.each(backends)("on %s", (_name, open) => {
    it.effect("the SQL journal stamps runs, locks, checkpoints and schedule slots with the fiber's clock", () =>
      Effect.scoped(Effect.gen(function*() {
        yield* TestClock.setTime(at)
        const backend = open()
        const journal = yield* journalOf(backend.layer())
        const begun = yield* journal.begin(request)
        assert.strictEqual(begun._tag, "Run")
        if (begun._tag !== "Run") return
        assert.match(begun.runId, /^20310304-050607-[0-9a-f]{6}$/)
        yield* TestClock.adjust(1_000)
        yield* journal.saveCheckpoint(begun.runId, "job", "step", { json: "1", inputHash: undefined })
        yield* journal.saveSlot("clocked", at)
        assert.deepStrictEqual(backend.query(`SELECT started_at FROM runs WHERE id = '${begun.runId}'`), [String(at)])
        assert.deepStrictEqual(backend.query("SELECT since FROM locks"), [String(at)])
        assert.deepStrictEqual(backend.query(`SELECT at FROM checkpoints WHERE run_id = '${begun.runId}'`), [String(at + 1_000)])
        assert.deepStrictEqual(backend.query("SELECT updated_at FROM schedules WHERE dag = 'clocked'"), [String(at + 1_000)])
      })))
  })

  it.effect("the in-memory journal's run ids carry the fiber's clock", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* TestClock.setTime(at)
      const journal = yield* journalOf(Journal.layerMemory)
      const begun = yield* journal.begin(request)
      assert.strictEqual(begun._tag, "Run")
      if (begun._tag === "Run") assert.match(begun.runId, /^20310304-050607-[0-9a-f]{6}$/)
    })))
})
