/**
 * What the journal keeps for the dashboard's drawings: each job's needs (written with RunStarted, in one statement)
 * and each ended wait for a resource (JobAdmitted). In process through SqlJournal on every backend
 * (test/support/backends.ts), then through the real executor (`runner <file>`) on Node, Bun and Deno, whose
 * node:sqlite each bring their own SQLite.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as Journal from "../src/internal/Journal.ts"
import { journalBackends } from "./support/backends.ts"
import { runner, type RuntimeName } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-waits-")

const rows = <A>(file: string, query: string): Array<A> => {
  const db = new DatabaseSync(file, { readOnly: true })
  try {
    return db.prepare(query).all().map((row) => ({ ...row }) as A)
  } finally {
    db.close()
  }
}

const backends = journalBackends()

describe.each(backends)("the SQL journal on %s", (_name, open) => {
  it.effect("journals RunStarted's needs in plan order (any job id) and each admitted wait, not the wait's start", () =>
    Effect.gen(function*() {
      const backend = open()
      // Ids that JSON.stringify would reorder ("2", "1") or must escape.
      const jobIds = ["z", "2", "1", `q"uo\\te`, "é"]
      yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(backend.layer())
        const journal = context.mapUnsafe.get(Journal.Journal.key) as Journal.Journal["Service"]
        const begun = yield* journal.begin({ dag: "d", target: { _tag: "New" }, definitionHash: "h", trigger: "test", runnerVersion: "test", wait: false })
        assert.strictEqual(begun._tag, "Run")
        if (begun._tag !== "Run") return
        const runId = begun.runId
        yield* journal.record({
          _tag: "RunStarted", runId, resumed: false, dag: "d", at: 1, jobIds, concurrency: 1, failureMode: "no-new",
          needs: [[], ["z"], ["z", "2"], ["1"], []]
        })
        const wait = { runId, jobId: "2", attempt: 1, resource: "db", kind: "permit", call: false } as const
        yield* journal.record({ _tag: "JobWaiting", ...wait, at: 100, until: undefined })
        yield* journal.record({ _tag: "JobAdmitted", ...wait, at: 350, waitedMillis: 250 })
        yield* journal.record({ _tag: "JobAdmitted", ...wait, jobId: "1", kind: "rate", call: true, at: 400, waitedMillis: 50 })
      }))
      assert.deepStrictEqual(backend.query("SELECT job_id, needs FROM jobs ORDER BY rowid"), [
        "z|[]",
        `2|["z"]`,
        `1|["z","2"]`,
        `q"uo\\te|["1"]`,
        "é|[]"
      ])
      assert.deepStrictEqual(backend.query("SELECT job_id, attempt, resource, kind, call, started_at, ended_at FROM waits ORDER BY id"), [
        "2|1|db|permit|0|100|350",
        "1|1|db|rate|1|350|400"
      ])
    }))

  it.effect("a RunStarted without needs (made by hand) leaves the column NULL", () =>
    Effect.gen(function*() {
      const backend = open()
      yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(backend.layer())
        const journal = context.mapUnsafe.get(Journal.Journal.key) as Journal.Journal["Service"]
        const begun = yield* journal.begin({ dag: "d", target: { _tag: "New" }, definitionHash: "h", trigger: "test", runnerVersion: "test", wait: false })
        if (begun._tag !== "Run") return assert.fail(begun._tag)
        yield* journal.record({ _tag: "RunStarted", runId: begun.runId, resumed: false, dag: "d", at: 1, jobIds: ["a", "b"], concurrency: 1, failureMode: "no-new" })
      }))
      assert.deepStrictEqual(backend.query("SELECT job_id, needs IS NULL FROM jobs ORDER BY rowid").map((row) => row.replace(/\|(t|1)$/, "|null")), [
        "a|null",
        "b|null"
      ])
    }))
})

const runtimes: ReadonlyArray<RuntimeName> = ["node", "bun", "deno"]

describe.each(runtimes)("runner <file> on %s", (runtime) => {
  it("journals each job's needs and the waits: a permit of a concurrency-1 resource, a rate-limit slot inside a job", () => {
    const journal = path.join(tempDir(), "journal.db")
    const result = runner(["test/fixtures/ui-shape.ts", "--journal", journal], { runtime })
    assert.strictEqual(result.status, 0, result.stderr)
    const needs = Object.fromEntries(rows<{ job_id: string; needs: string }>(journal, "SELECT job_id, needs FROM jobs").map((r) => [r.job_id, JSON.parse(r.needs)]))
    // `load` needs `a` under two names: one edge.
    assert.deepStrictEqual(needs, { extract: [], a: ["extract"], b: ["extract"], flaky: ["extract"], load: ["a", "b", "flaky"] })
    const waits = rows<{ job_id: string; attempt: number; resource: string; kind: string; call: number; started_at: number; ended_at: number }>(
      journal,
      "SELECT job_id, attempt, resource, kind, call, started_at, ended_at FROM waits ORDER BY id"
    )
    assert.deepStrictEqual(waits.map((w) => [w.resource, w.kind, w.call, w.attempt]), [["db", "permit", 0, 1], ["api", "rate", 1, 1]])
    // One of a and b waited for the other's 200 ms with the permit; load's second call for the 300 ms window.
    assert.include(["a", "b"], waits[0]!.job_id)
    assert.isAtLeast(waits[0]!.ended_at - waits[0]!.started_at, 150)
    assert.strictEqual(waits[1]!.job_id, "load")
    assert.isAtLeast(waits[1]!.ended_at - waits[1]!.started_at, 200)
  }, 60_000)
})
