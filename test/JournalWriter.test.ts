/**
 * The SQL journal's writer against another connection holding the journal's write lock (`runner prune`, a reader's
 * transaction; on PostgreSQL a session locking the journal's tables): commits wait and retry, jobs never fail for it,
 * and nothing queued is dropped, even at shutdown. The in-process tests run on every backend
 * (test/support/backends.ts); the CLI's, past SQLite's busy timeout, on SQLite.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Dag from "../src/Dag.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/internal/Journal.ts"
import { type Backend, holdSqliteWriteLock, journalBackends } from "./support/backends.ts"
import { withDb } from "./support/db.ts"
import { collectingReporter } from "./support/run.ts"
import { runnerAsync, type RuntimeName, waitUntil } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-writer-")

const backends = journalBackends()

describe.each(backends)("journal writer on %s", (_name, open) => {
  // SQLite's busy_timeout of 50 ms: the lock below is held 16 times as long, so every commit meanwhile finds it busy.
  const journalLayer = (backend: Backend) => backend.layer({ busyTimeoutMillis: 50 })

  it.live("a write lock held while jobs succeed: every job succeeds, after the lock is released; all is journaled", () =>
    Effect.gen(function*() {
      const backend = open()
      let released: Promise<void> | undefined
      let heldAt = 0
      // The first job takes the write lock for 800 ms: every commit meanwhile waits for it.
      const lock = Job.make("lock", {
        run: () =>
          Effect.promise(async () => {
            released = (await backend.holdWriteLock(800)).released
            heldAt = Date.now()
          })
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
      })).pipe(Effect.provide(journalLayer(backend)))
      const finished = Date.now()
      yield* Effect.promise(() => released ?? Promise.resolve())
      assert.strictEqual(result?.status, "succeeded", JSON.stringify(result?.jobs))
      assert.deepStrictEqual(result!.jobs.map((j) => j.status), Array(9).fill("succeeded"))
      // The lock job's success could not be committed before the lock was released, nor its dependents start. (Held
      // 800 ms from when it was taken; `heldAt` is when the holder said so, which a loaded machine delays by up to
      // ~300 ms: without the wait the run ends within tens of ms.)
      assert.isAtLeast(finished - heldAt, 400, "the run waited for the lock")
      const jobs = backend.query("SELECT job_id, status FROM jobs ORDER BY job_id")
      assert.strictEqual(jobs.length, 9)
      assert.deepStrictEqual(jobs.map((row) => row.split("|")[1]), Array(9).fill("succeeded"))
      assert.deepStrictEqual(backend.query("SELECT status FROM attempts"), Array(9).fill("succeeded"))
      assert.deepStrictEqual(backend.query("SELECT status FROM runs"), ["succeeded"])
      assert.deepStrictEqual(backend.query("SELECT count(*) FROM locks"), ["0"])
    }), 30_000)

  it.live("log lines queued at shutdown while another connection holds the write lock are all written", () =>
    Effect.gen(function*() {
      const backend = open()
      let released: Promise<void> | undefined
      yield* Effect.scoped(Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const begun = yield* journal.begin({
          dag: "logs", target: { _tag: "New" }, definitionHash: "h", trigger: "test", runnerVersion: "test", wait: false
        })
        if (begun._tag !== "Run") return
        released = (yield* Effect.promise(() => backend.holdWriteLock(500))).released
        for (let i = 0; i < 500; i++) {
          journal.log({ runId: begun.runId, jobId: undefined, attempt: undefined, at: i, level: "INFO", message: `line ${i}` })
        }
      })).pipe(Effect.provide(journalLayer(backend)))
      yield* Effect.promise(() => released ?? Promise.resolve())
      const rows = backend.query("SELECT message FROM logs ORDER BY id")
      assert.strictEqual(rows.length, 500)
      assert.strictEqual(rows[499], "line 499")
    }), 30_000)
})

describe.each<RuntimeName>(["node", "bun", "deno"])("a busy journal through the CLI, on %s", (runtime) => {
  it("another connection holds the write lock for 6 s (past the 5 s busy timeout) mid-run: exit 0, all journaled", async () => {
    const dir = tempDir()
    const journal = path.join(dir, "j.db")
    const mark = path.join(dir, "mark")
    const child = runnerAsync(["test/fixtures/busy.ts", "--journal", journal, "--log-format", "plain"], { BUSY_MARK: mark }, runtime)
    await waitUntil(() => fs.existsSync(mark), 30_000)
    const released = holdSqliteWriteLock(journal, 6_000)
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
