/**
 * Run locks with fencing: a runner whose heartbeat stopped (a stopped or blocked process) loses its lock to the next
 * runner once the lock is stale, and from then on every write of its run is refused and the run is told to stop.
 * Time is TestClock's: each "process" here is a journal on the same file with a clock of its own.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import * as path from "node:path"
import * as Journal from "../src/Journal.ts"
import * as SqlJournal from "../src/sql/SqlJournal.ts"
import { withDb } from "./support/db.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-lock-")

const request = (key: string): Journal.BeginRequest => ({
  dag: "locked",
  target: { _tag: "Key", key, force: false },
  definitionHash: "h",
  trigger: "test",
  runnerVersion: "test",
  wait: false
})

const openJournal = (file: string) =>
  Effect.map(Layer.build(SqlJournal.layerSqlite({ filename: file, durability: "normal" })), (context) =>
    context.mapUnsafe.get(Journal.Journal.key) as Journal.Journal["Service"])

/** A second runner: its own journal instance and its own clock, set to `at`. */
const otherRunner = (file: string, at: number) =>
  Effect.gen(function*() {
    const clock = yield* TestClock.make()
    yield* clock.setTime(at)
    const journal = yield* openJournal(file)
    const begin = (key: string) => journal.begin(request(key)).pipe(Effect.provideService(Clock.Clock, clock))
    return { journal, begin }
  })

const succeededEvent = (runId: string, jobId: string, at: number) => ({
  _tag: "AttemptSucceeded" as const,
  runId,
  jobId,
  attempt: 1,
  at,
  output: 1,
  encoded: 1
})

describe("run lock fencing", () => {
  it.effect("a lock not renewed for the staleness window is taken over; the first runner's writes are refused", () =>
    Effect.scoped(Effect.gen(function*() {
      const file = path.join(tempDir(), "j.db")
      const first = yield* openJournal(file)
      // The first runner begins at t=0 and its clock never moves again: its heartbeat never runs (a stopped process).
      const begun = yield* first.begin(request("k"))
      assert.strictEqual(begun._tag, "Run")
      if (begun._tag !== "Run") return
      yield* first.record({ _tag: "RunStarted", runId: begun.runId, resumed: false, dag: "locked", at: 0, jobIds: ["a", "b"], concurrency: 1, failureMode: "no-new" })

      // One millisecond short of the window, the lock is still the first runner's.
      const early = yield* otherRunner(file, SqlJournal.STALE_AFTER_MILLIS)
      const refused = yield* Effect.exit(Effect.scoped(early.begin("k")))
      assert.isTrue(Exit.isFailure(refused) && JSON.stringify(refused.cause).includes("RunLocked"), String(refused))

      const second = yield* otherRunner(file, SqlJournal.STALE_AFTER_MILLIS + 1)
      const taken = yield* second.begin("k")
      assert.deepStrictEqual(taken, { _tag: "Run", runId: begun.runId, resumed: true, key: "k" })

      // The first runner wakes up: a job's success must not count as committed, nor be written.
      const watcher = yield* Effect.forkChild(Effect.exit(first.lockLost(begun.runId)))
      const write = yield* Effect.exit(first.record(succeededEvent(begun.runId, "a", 5), "h"))
      assert.isTrue(Exit.isFailure(write) && JSON.stringify(write.cause).includes("LockLost"), String(write))
      const lost = yield* Fiber.join(watcher)
      assert.isTrue(Exit.isFailure(lost))
      // How the run ended is not its to say any more: returns, writes nothing.
      yield* first.record({ _tag: "RunFinished", runId: begun.runId, dag: "locked", at: 6, status: "interrupted", durationMillis: 6, jobs: [] })
      // The second runner's writes go through.
      yield* second.journal.record(succeededEvent(begun.runId, "b", SqlJournal.STALE_AFTER_MILLIS + 2), "h")
      yield* Effect.sleep(0)

      withDb(file, (db) => {
        const jobs = db.prepare("SELECT job_id, status FROM jobs ORDER BY job_id").all() as Array<{ job_id: string; status: string }>
        assert.deepStrictEqual(jobs.map((j) => [j.job_id, j.status]), [["a", "pending"], ["b", "succeeded"]])
        const run = db.prepare("SELECT status FROM runs").get() as { status: string }
        assert.strictEqual(run.status, "running", "the first runner did not overwrite the run's state")
        const lock = db.prepare("SELECT pid, heartbeat_at FROM locks").get() as { heartbeat_at: number }
        assert.strictEqual(Number(lock.heartbeat_at), SqlJournal.STALE_AFTER_MILLIS + 1)
        const logs = db.prepare("SELECT level, message FROM logs").all() as Array<{ level: string; message: string }>
        assert.strictEqual(logs.length, 1)
        assert.match(logs[0]!.message, /lost the lock of run .* took it over/)
      })
    })))

  it.effect("a heartbeat finds the lock taken over and stops the run, with no write of the run's own", () =>
    Effect.scoped(Effect.gen(function*() {
      const file = path.join(tempDir(), "j.db")
      const first = yield* openJournal(file)
      const begun = yield* first.begin(request("k"))
      if (begun._tag !== "Run") return assert.fail("not begun")
      const watcher = yield* Effect.forkChild(Effect.exit(first.lockLost(begun.runId)))
      // Heartbeats keep the lock fresh while the first runner's clock moves.
      yield* TestClock.adjust(SqlJournal.STALE_AFTER_MILLIS * 2)
      yield* Effect.yieldNow
      const refused = yield* Effect.exit(Effect.scoped((yield* otherRunner(file, SqlJournal.STALE_AFTER_MILLIS * 2 + 1)).begin("k")))
      assert.isTrue(Exit.isFailure(refused), "a renewed lock is not stale")

      const second = yield* otherRunner(file, SqlJournal.STALE_AFTER_MILLIS * 4)
      yield* second.begin("k")
      assert.isUndefined(watcher.pollUnsafe())
      yield* TestClock.adjust(2_000)
      const lost = yield* Fiber.join(watcher)
      assert.isTrue(Exit.isFailure(lost) && JSON.stringify(lost.cause).includes("LockLost"), String(lost))
    })))

  it.effect("the staleness window comes from RUNNER_LOCK_STALE_AFTER", () =>
    Effect.scoped(Effect.gen(function*() {
      const file = path.join(tempDir(), "j.db")
      const short = ConfigProvider.layer(ConfigProvider.fromUnknown({ RUNNER_LOCK_STALE_AFTER: "5 seconds" }))
      const first = yield* openJournal(file).pipe(Effect.provide(short))
      const begun = yield* first.begin(request("k"))
      if (begun._tag !== "Run") return assert.fail("not begun")
      const second = yield* otherRunner(file, 5_001).pipe(Effect.provide(short))
      const taken = yield* second.begin("k")
      assert.strictEqual(taken._tag, "Run")
    })))
})
