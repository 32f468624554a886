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
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Journal from "../src/internal/Journal.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { withDb } from "./support/db.ts"
import { runnerAsync, type RuntimeName, waitUntil } from "./support/spawn.ts"
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
  json: "1"
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

/** Whether another connection could take SQLite's write lock right now. */
const writeLockFree = (file: string): boolean =>
  withDb(file, (db) => {
    db.exec("PRAGMA busy_timeout = 0")
    try {
      db.exec("BEGIN IMMEDIATE")
      db.exec("ROLLBACK")
      return true
    } catch {
      return false
    }
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.each<RuntimeName>(["node", "bun", "deno"])("a runner stopped past the staleness window, on %s", (runtime) => {
  it("loses the run to a second runner; continued, it exits 75 and no job starts twice", async () => {
    const dir = tempDir()
    const journal = path.join(dir, "j.db")
    const log = path.join(dir, "side-effects.log")
    const lines = () => fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : []
    const args = ["test/fixtures/takeover.ts", "--journal", journal, "--key", "k", "--log-format", "plain"]
    const env = { TAKEOVER_LOG: log, RUNNER_LOCK_STALE_AFTER: "1 second" }
    const first = runnerAsync(args, { ...env, FIRST_SLEEP_MS: "1500" }, runtime)
    let stopped: number | undefined
    try {
      await waitUntil(() => lines().some((l) => l.startsWith("start first")))
      const pid = Number(lines()[0]!.split(" ").at(-1))
      // Stopped (Ctrl-Z, a long synchronous pause): its heartbeat stops too. Not inside one of its transactions:
      // a process stopped holding SQLite's write lock blocks every other writer, whatever the run lock says.
      for (let tries = 0; ; tries++) {
        process.kill(pid, "SIGSTOP")
        stopped = pid
        if (writeLockFree(journal) || tries === 20) break
        process.kill(pid, "SIGCONT")
        stopped = undefined
        await sleep(20)
      }
      await sleep(1_500)
      const second = await runnerAsync(args, env, runtime).done
      assert.strictEqual(second.status, 0, second.stdout + second.stderr)
      assert.match(second.stdout, /resuming run/)
      process.kill(pid, "SIGCONT")
      stopped = undefined
      const result = await first.done
      assert.strictEqual(result.status, 75, result.stdout + result.stderr)
      // The second runner has finished and released the lock by now.
      assert.match(result.stderr, /^runner: lost the lock of run \S+: it was taken over and released .*stopped without writing more/m)
      const secondPid = lines().find((l) => l.startsWith("start second"))?.split(" ").at(-1)
      assert.deepStrictEqual(lines().filter((l) => l.startsWith("start second")), [`start second ${secondPid}`])
      assert.notStrictEqual(Number(secondPid), pid)
      withDb(journal, (db) => {
        const run = db.prepare("SELECT status FROM runs").all() as Array<{ status: string }>
        assert.deepStrictEqual(run.map((r) => r.status), ["succeeded"], "the stopped runner did not overwrite the run")
        const jobs = db.prepare("SELECT job_id, status FROM jobs ORDER BY job_id").all() as Array<{ job_id: string; status: string }>
        assert.deepStrictEqual(jobs.map((j) => [j.job_id, j.status]), [["first", "succeeded"], ["second", "succeeded"]])
        assert.strictEqual((db.prepare("SELECT count(*) AS n FROM locks").get() as { n: number }).n, 0)
        const lost = db.prepare("SELECT message FROM logs WHERE level = 'ERROR'").all() as Array<{ message: string }>
        assert.strictEqual(lost.length, 1)
        assert.match(lost[0]!.message, new RegExp(`^pid ${pid} on .*lost the lock`))
      })
    } finally {
      if (stopped !== undefined) process.kill(stopped, "SIGCONT")
      first.process.kill("SIGKILL")
    }
  })
})

describe("a dead holder's lock", () => {
  const insertLock = (file: string, pid: number, namespace: string | null) =>
    withDb(file, (db) =>
      db.prepare(
        "INSERT INTO locks (lock_key, run_id, pid, host, since, heartbeat_at, token, pid_namespace) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
      ).run("key:locked:k", "old-run", pid, os.hostname(), 0, 0, "their-token", namespace))
  const ours = () => {
    try {
      return `${os.hostname()}/${fs.readlinkSync("/proc/self/ns/pid")}`
    } catch {
      return os.hostname()
    }
  }
  const deadPid = 2 ** 22 + 12345

  it.effect("is taken over at once in our own pid namespace", () =>
    Effect.scoped(Effect.gen(function*() {
      const file = path.join(tempDir(), "j.db")
      const journal = yield* openJournal(file)
      insertLock(file, deadPid, ours())
      assert.strictEqual((yield* journal.begin(request("k")))._tag, "Run")
    })))

  it.effect("is not, when it was taken in another pid namespace (another container's pid), until it is stale", () =>
    Effect.scoped(Effect.gen(function*() {
      const file = path.join(tempDir(), "j.db")
      const journal = yield* openJournal(file)
      insertLock(file, deadPid, `${os.hostname()}/pid:[1]`)
      const refused = yield* Effect.exit(Effect.scoped(journal.begin(request("k"))))
      assert.isTrue(Exit.isFailure(refused) && JSON.stringify(refused.cause).includes("RunLocked"), String(refused))
      yield* TestClock.adjust(SqlJournal.STALE_AFTER_MILLIS + 1)
      assert.strictEqual((yield* journal.begin(request("k")))._tag, "Run")
    })))
})
