/**
 * The SQL journal's writer against another connection holding SQLite's write lock (`runner prune`, a reader's
 * transaction): commits wait and retry, jobs never fail for it, and nothing queued is dropped, even at shutdown.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as Dag from "../src/Dag.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { withDb } from "./support/db.ts"
import { collectingReporter } from "./support/run.ts"
import { runnerAsync, type RuntimeName, waitUntil } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-writer-")
const journalFile = () => path.join(tempDir(), "j.db")

/** Takes the write lock from a second connection, released after `millis` (a timer: the event loop must turn). */
const holdWriteLock = (file: string, millis: number) => {
  const db = new DatabaseSync(file)
  // The runner may be committing at this very moment: wait for it like any writer.
  db.exec("PRAGMA busy_timeout = 5000")
  db.exec("BEGIN IMMEDIATE")
  const released = new Promise<void>((resolve) =>
    setTimeout(() => {
      db.exec("COMMIT")
      db.close()
      resolve()
    }, millis)
  )
  return released
}

const journalLayer = (file: string) => SqlJournal.layerSqlite({ filename: file, durability: "normal", busyTimeoutMillis: 50 })

describe("journal writer", () => {
  it.live("a write lock held past busy_timeout while jobs succeed: every job succeeds, all is journaled", () =>
    Effect.gen(function*() {
      const file = journalFile()
      let released: Promise<void> | undefined
      // The first job takes the write lock for 800 ms, 16 times busy_timeout: every commit meanwhile finds it busy.
      const lock = Job.make("lock", {
        run: () => Effect.sync(() => void (released = holdWriteLock(file, 800)))
      })
      const others = Array.from({ length: 8 }, (_, i) =>
        Job.make(`job${i}`, { needs: { lock }, run: () => Effect.succeed(i) }))
      const dag = Dag.make("busy", others)
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const begun = yield* journal.begin({
          dag: "busy", target: { _tag: "New" }, definitionHash: "h", trigger: "test", runnerVersion: "test", wait: false
        })
        assert.strictEqual(begun._tag, "Run")
        if (begun._tag !== "Run") return undefined
        const plan = yield* Plan.plan(dag)
        return yield* Executor.run(plan, { runId: begun.runId, concurrency: 4, failureMode: "no-new" }).pipe(
          Effect.provide(Layer.mergeAll(NodeServices.layer, FetchHttpClient.layer, collectingReporter({ events: [], logs: [] })))
        )
      })).pipe(Effect.provide(journalLayer(file)))
      yield* Effect.promise(() => released ?? Promise.resolve())
      assert.strictEqual(result?.status, "succeeded", JSON.stringify(result?.jobs))
      assert.deepStrictEqual(result!.jobs.map((j) => j.status), Array(9).fill("succeeded"))
      withDb(file, (db) => {
        const jobs = db.prepare("SELECT job_id, status, output FROM jobs ORDER BY job_id").all() as Array<{ status: string }>
        assert.strictEqual(jobs.length, 9)
        assert.deepStrictEqual(jobs.map((j) => j.status), Array(9).fill("succeeded"))
        const attempts = db.prepare("SELECT status FROM attempts").all() as Array<{ status: string }>
        assert.deepStrictEqual(attempts.map((a) => a.status), Array(9).fill("succeeded"))
        const run = db.prepare("SELECT status FROM runs").get() as { status: string }
        assert.strictEqual(run.status, "succeeded")
        assert.strictEqual((db.prepare("SELECT count(*) AS n FROM locks").get() as { n: number }).n, 0)
      })
    }))

  it.live("log lines queued at shutdown while another connection holds the write lock are all written", () =>
    Effect.gen(function*() {
      const file = journalFile()
      let released: Promise<void> | undefined
      yield* Effect.scoped(Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const begun = yield* journal.begin({
          dag: "logs", target: { _tag: "New" }, definitionHash: "h", trigger: "test", runnerVersion: "test", wait: false
        })
        if (begun._tag !== "Run") return
        released = holdWriteLock(file, 500)
        for (let i = 0; i < 500; i++) {
          journal.log({ runId: begun.runId, jobId: undefined, attempt: undefined, at: i, level: "INFO", message: `line ${i}` })
        }
      })).pipe(Effect.provide(journalLayer(file)))
      yield* Effect.promise(() => released ?? Promise.resolve())
      withDb(file, (db) => {
        const rows = db.prepare("SELECT message FROM logs ORDER BY id").all() as Array<{ message: string }>
        assert.strictEqual(rows.length, 500)
        assert.strictEqual(rows[499]!.message, "line 499")
      })
    }))
})

describe.each<RuntimeName>(["node", "bun", "deno"])("a busy journal through the CLI, on %s", (runtime) => {
  it("another connection holds the write lock for 6 s (past the 5 s busy timeout) mid-run: exit 0, all journaled", async () => {
    const dir = tempDir()
    const journal = path.join(dir, "j.db")
    const mark = path.join(dir, "mark")
    const child = runnerAsync(["test/fixtures/busy.ts", "--journal", journal, "--log-format", "plain"], { BUSY_MARK: mark }, runtime)
    await waitUntil(() => fs.existsSync(mark), 30_000)
    const released = holdWriteLock(journal, 6_000)
    const result = await child.done
    await released
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    withDb(journal, (db) => {
      const jobs = db.prepare("SELECT status FROM jobs").all() as Array<{ status: string }>
      assert.deepStrictEqual(jobs.map((j) => j.status), Array(9).fill("succeeded"))
      assert.strictEqual((db.prepare("SELECT status FROM runs").get() as { status: string }).status, "succeeded")
    })
  }, 60_000)
})
