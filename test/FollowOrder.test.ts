/**
 * Following keeps each job's order when the journal's rows become visible out of order (src/internal/cluster/Follow.ts,
 * HOLD_MILLIS). On PostgreSQL a job's log line and its attempt's row are committed by different transactions, and the
 * line can become visible first; shown at once, the line came before its own AttemptStarted. Reproduced here on a
 * SQLite journal by writing the rows by hand in that order: a run of the real runner leaves its journal, the test
 * adds a log line of attempt 2, and the attempt's row only after the follower has polled a few times.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as Follow from "../src/internal/cluster/Follow.ts"
import * as Reporter from "../src/internal/reporter/Reporter.ts"
import * as SqliteClient from "../src/internal/sql/SqliteClient.ts"
import { runner } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-follow-order-")

describe("following a run whose rows become visible out of order", () => {
  it("a log line seen before its attempt's start waits for it, and is shown between that start and its end", async () => {
    const dir = tempDir()
    const journal = path.join(dir, "journal.db")
    const file = path.join(dir, "one.ts")
    fs.writeFileSync(file, `import * as Effect from "effect/Effect"\nimport { Dag, Job } from "effect-runner"\n` +
      `export default Dag.make("one", [Job.make("a", { run: () => Effect.log("first attempt").pipe(Effect.as(1)) })])\n`)
    const done = runner([file, "--journal", journal, "--log-format", "json"])
    assert.strictEqual(done.status, 0, done.stderr)

    const db = new DatabaseSync(journal)
    const runId = String((db.prepare("SELECT id FROM runs").get() as { id: string }).id)
    const startedAt = Date.now()
    db.prepare("INSERT INTO logs (run_id, job_id, attempt, at, level, message) VALUES (?, 'a', 2, ?, 'info', 'second attempt')")
      .run(runId, startedAt + 1)
    // The attempt's row becomes visible only after the follower has read the line (it polls every 50 ms).
    const attemptLate = Effect.sleep("600 millis").pipe(
      Effect.andThen(Effect.sync(() =>
        db.prepare("INSERT INTO attempts (run_id, job_id, attempt, status, started_at, ended_at) VALUES (?, 'a', 2, 'succeeded', ?, ?)")
          .run(runId, startedAt, startedAt + 2)
      )),
      Effect.andThen(Effect.sleep("300 millis"))
    )
    const chunks: Array<string> = []
    await Effect.runPromise(
      Follow.follow(runId, { until: attemptLate, pollMillis: 50 }).pipe(
        Effect.provide(Layer.mergeAll(
          Reporter.layer({ format: "json", output: { write: (text: string) => void chunks.push(text) } }),
          SqliteClient.layer({ filename: journal, durability: "full", readOnly: true })
        )),
        Effect.scoped
      )
    )
    db.close()

    const lines = chunks.join("").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>)
    const ofA = lines.filter((l) => l["jobId"] === "a" && l["event"] !== "RunFinished")
      .map((l) => `${String(l["event"])}#${String(l["attempt"])}${l["event"] === "Log" ? `:${String(l["message"])}` : ""}`)
    assert.deepStrictEqual(ofA, [
      "AttemptStarted#1",
      "Log#1:first attempt",
      "AttemptSucceeded#1",
      "AttemptStarted#2",
      "Log#2:second attempt",
      "AttemptSucceeded#2"
    ])
  }, 60_000)
})
