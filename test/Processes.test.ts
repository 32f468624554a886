/**
 * Process groups of shell jobs beyond the happy path: a runner killed with `kill -9` (its groups are ended when the
 * run resumes), a second Ctrl-C (every group SIGKILLed, the run still journaled as interrupted), a process that
 * outlives SIGKILL (the wait is bounded), and background children that hold a command's output open.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as ChildProcess from "effect/process/ChildProcess"
import * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as Dag from "../src/Dag.ts"
import * as Processes from "../src/internal/processes.ts"
import * as Shell from "../src/internal/shell.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { type Collected, eventsOf, jobOf, runDag, services } from "./support/run.ts"
import { isAlive, runner, runnerAsync, type RuntimeName, waitUntil } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-processes-")
const fixture = "test/fixtures/orphans.ts"

const readLines = (file: string): Array<string> =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((line) => line !== "") : []

/** Reads the journal with a connection of its own, as a second opinion. */
const query = <A>(file: string, sql: string, ...params: Array<string | number>): Array<A> => {
  const db = new DatabaseSync(file, { readOnly: true })
  try {
    return db.prepare(sql).all(...params) as Array<A>
  } finally {
    db.close()
  }
}

const journaledPids = (journal: string): Array<number> => {
  try {
    return query<{ pid: number }>(journal, "SELECT pid FROM processes").map((row) => Number(row.pid))
  } catch {
    // Not created or migrated yet.
    return []
  }
}

describe.each<RuntimeName>(["node", "bun", "deno"])("process groups on %s", (runtime) => {
  it("after kill -9 of the runner, --resume ends the command it left running before running the job again", async () => {
    const dir = tempDir()
    const journal = path.join(dir, "journal.db")
    const env = { WORK_DIR: dir, DAG: "orphans" }
    fs.writeFileSync(path.join(dir, "duration"), "60")
    const first = runnerAsync([fixture, "--journal", journal, "--log-format", "plain"], env, runtime)
    await waitUntil(() => readLines(path.join(dir, "pids")).length === 1)
    const [orphan] = readLines(path.join(dir, "pids")).map(Number)
    // The group is journaled with the writer's next commit, a moment after the start.
    await waitUntil(() => journaledPids(journal).includes(orphan!))
    first.process.kill("SIGKILL")
    await first.done
    // What the issue describes: the command outlives its runner.
    assert.isTrue(isAlive(orphan!), "the command survives the runner's kill -9")

    fs.writeFileSync(path.join(dir, "duration"), "0")
    const resumed = runner([fixture, "--journal", journal, "--log-format", "plain", "--resume"], { runtime, env })
    assert.strictEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
    assert.match(
      resumed.stdout,
      new RegExp(`work.*process ${orphan} \\(group ${orphan}\\) of job "work", started by an earlier runner process, ` +
        `was still running: ended by SIGTERM before the job runs again`)
    )
    // Gone (once init has reaped it: a zombie still answers signal 0).
    await waitUntil(() => !isAlive(orphan!), 5_000)
    const [second] = readLines(path.join(dir, "pids")).map(Number).slice(1)
    // The new copy found no earlier copy alive when it started, and exactly one copy ran to its end.
    assert.deepStrictEqual(readLines(path.join(dir, "log")), [`start ${orphan}`, `start ${second}`, `end ${second}`])
    assert.deepStrictEqual(journaledPids(journal), [], "no group is journaled as running once the run is over")
    const logged = query<{ message: string }>(journal, "SELECT message FROM logs WHERE job_id = 'work'").map((row) => row.message)
    assert.isTrue(logged.some((message) => message.includes(`process ${orphan} (group ${orphan})`)), "the line is journaled")
  })

  it("a second SIGINT SIGKILLs a command that ignores SIGTERM, and the run is still journaled as interrupted", async () => {
    const dir = tempDir()
    const journal = path.join(dir, "journal.db")
    const child = runnerAsync([fixture, "--journal", journal, "--log-format", "plain"], { WORK_DIR: dir, DAG: "stubborn" }, runtime)
    await waitUntil(() => readLines(path.join(dir, "stubborn")).length === 1)
    const pid = Number(readLines(path.join(dir, "stubborn"))[0])
    child.process.kill("SIGINT")
    // The command ignores the SIGTERM the first signal sent it, and gets 3 s before SIGKILL.
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.isTrue(isAlive(pid), "the command ignores SIGTERM")
    assert.isNull(child.process.exitCode)
    const second = Date.now()
    child.process.kill("SIGINT")
    const result = await child.done
    const took = Date.now() - second
    assert.strictEqual(result.status, 130, result.stdout + result.stderr)
    assert.isBelow(took, 2_000, "the second signal does not wait for the grace period")
    await waitUntil(() => !isAlive(pid), 5_000)
    const runs = query<{ status: string }>(journal, "SELECT status FROM runs")
    assert.deepStrictEqual(runs.map((r) => r.status), ["interrupted"])
    const jobs = query<{ job_id: string; status: string }>(journal, "SELECT job_id, status FROM jobs")
    assert.deepStrictEqual(jobs.map((j) => [j.job_id, j.status]), [["stubborn", "interrupted"]])
    assert.deepStrictEqual(journaledPids(journal), [])
  })

  it("a command that leaves a background child holding its output ends when it exits, and the child with it", async () => {
    const dir = tempDir()
    const started = Date.now()
    const result = runner([fixture, "--journal", "none", "--log-format", "plain"], { runtime, env: { WORK_DIR: dir, DAG: "background" } })
    const took = Date.now() - started
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    assert.match(result.stdout, /background.*started/)
    assert.isBelow(took, 10_000, "the job does not wait for the background sleep 15")
    const sleep = Number(readLines(path.join(dir, "background"))[0])
    await waitUntil(() => !isAlive(sleep), 5_000)
  })
})

/**
 * A spawner whose one process never exits and never goes, as one in uninterruptible sleep after SIGKILL: its `kill`
 * never returns. Records the kills asked of it.
 */
const unkillable = (kills: Array<ChildProcess.KillOptions | undefined>) =>
  Layer.merge(services, Layer.succeed(ChildProcessSpawner.ChildProcessSpawner)(ChildProcessSpawner.make(() =>
    Effect.succeed(ChildProcessSpawner.makeHandle({
      pid: ChildProcessSpawner.ProcessId(0x3ffffff0),
      exitCode: Effect.never,
      isRunning: Effect.succeed(true),
      kill: (options) => Effect.andThen(Effect.sync(() => void kills.push(options)), Effect.never),
      stdin: Sink.drain,
      stdout: Stream.never,
      stderr: Stream.never,
      all: Stream.never,
      getInputFd: () => Sink.drain,
      getOutputFd: () => Stream.empty,
      unref: Effect.succeed(Effect.void)
    }))
  )))

describe("Job.shell ending its process group", () => {
  it.live("waits a bounded time for a process that outlives SIGKILL, then the job is interrupted, saying why", () =>
    Effect.gen(function*() {
      const kills: Array<ChildProcess.KillOptions | undefined> = []
      const stuck = Job.shell("stuck", ["sh", "-c", "sleep 60"], { timeout: "100 millis", retry: { times: 2, delay: "1 millis" } })
      const started = Date.now()
      const { events, result } = yield* runDag(Dag.make("d", [stuck]), { services: unkillable(kills) }).pipe(
        Effect.provideService(Shell.CurrentSettings, { graceMillis: 200, killWaitMillis: 300, drainMillis: 200 })
      )
      const took = Date.now() - started
      const reason = `its process ${0x3ffffff0} did not exit within 0.3 s of SIGKILL`
      const job = jobOf(result, "stuck")
      assert.strictEqual(job.status, "interrupted")
      assert.strictEqual(job.detail, `interrupted: ${reason}`)
      assert.strictEqual(job.attempts, 1, "not run again beside a process that is still there")
      assert.deepStrictEqual(eventsOf(events, "JobInterrupted").map((e) => e.reason), [reason])
      // SIGTERM, then SIGKILL after the grace period: the spawner's kill with forceKillAfter.
      assert.deepStrictEqual(kills.map((k) => [k?.killSignal, k?.forceKillAfter]), [[undefined, Duration.millis(200)]])
      assert.isBelow(took, 3_000)
    }))

  it.live("a background child that ignores SIGTERM and holds the output is killed, and the job does not wait for it", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const pidFile = path.join(dir, "pid")
      const job = Job.shell("leaves", ["sh", "-c", `trap '' TERM; sleep 15 & echo $! > "$0"; echo started`, pidFile])
      const started = Date.now()
      const collected: Collected = { events: [], logs: [] }
      const { result } = yield* runDag(Dag.make("d", [job]), {}, collected).pipe(
        Effect.provideService(Shell.CurrentSettings, { ...defaults, graceMillis: 500 })
      )
      assert.strictEqual(result.status, "succeeded", jobOf(result, "leaves").detail)
      assert.deepStrictEqual(collected.logs.map((l) => l.message), ["started"])
      assert.isBelow(Date.now() - started, 5_000)
      const pid = Number(fs.readFileSync(pidFile, "utf8"))
      yield* Effect.promise(() => waitUntil(() => !isAlive(pid), 5_000))
    }))

  it.live("interrupting a job whose command ignores SIGTERM kills its group after the grace period", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const pidFile = path.join(dir, "pid")
      const job = Job.shell("stubborn", ["sh", "-c", `trap '' TERM; echo $$ > "$0"; while :; do sleep 0.1; done`, pidFile])
      const fiber = yield* Effect.forkChild(runDag(Dag.make("d", [job])).pipe(
        Effect.provideService(Shell.CurrentSettings, { ...defaults, graceMillis: 300 })
      ))
      yield* Effect.promise(() => waitUntil(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").endsWith("\n")))
      const pid = Number(fs.readFileSync(pidFile, "utf8"))
      yield* Fiber.interrupt(fiber)
      yield* Effect.promise(() => waitUntil(() => !isAlive(pid), 5_000))
    }))
})

const defaults = Shell.CurrentSettings.defaultValue()

/** Starts `sh -c script` in a process group of its own, as a shell job's command is; returns its pid. */
const startGroup = (script: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" })
    child.on("error", reject)
    child.on("spawn", () => resolve(child.pid!))
  })

describe("a journaled process group seen by a later runner process", () => {
  it.live("is ended only when its leader has the recorded start time: a recycled pid is left alone", () =>
    Effect.gen(function*() {
      const pid = yield* Effect.promise(() => startGroup("sleep 30"))
      const group = Processes.groupOf(pid, Date.now())
      assert.match(group.startTime ?? "", /^[0-9a-f-]{36}:\d+$/, "Linux: boot id and start time")
      assert.strictEqual(Processes.statusOf(group), "alive")
      const [boot, ticks] = group.startTime!.split(":")
      // The same pid, started at another time: another process now has it.
      assert.strictEqual(Processes.statusOf({ ...group, startTime: `${boot}:${Number(ticks) - 1}` }), "reused")
      // Before a reboot: whatever has the pid now is not it.
      assert.strictEqual(Processes.statusOf({ ...group, startTime: `00000000-0000-0000-0000-000000000000:${ticks}` }), "gone")
      assert.strictEqual(Processes.statusOf({ ...group, host: "another-host.example" }), "elsewhere")
      assert.strictEqual(Processes.statusOf({ ...group, startTime: undefined }), "unverified")
      assert.isTrue(isAlive(pid), "nothing so far signalled it")
      assert.strictEqual(yield* Processes.end(group, { graceMillis: 2_000, killWaitMillis: 1_000 }), "ended by SIGTERM")
      assert.strictEqual(Processes.statusOf(group), "gone")
    }))

  it.live("what is left of a group whose leader has exited is ended too; SIGKILL follows the grace period", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const pidFile = path.join(dir, "pid")
      // The leader exits at once, leaving a member that ignores SIGTERM.
      const leader = yield* Effect.promise(() => startGroup(`trap '' TERM; sleep 30 & echo $! > "${pidFile}"`))
      const group = Processes.groupOf(leader, Date.now())
      yield* Effect.promise(() => waitUntil(() => !fs.existsSync(`/proc/${leader}`) && readLines(pidFile).length === 1))
      const member = Number(readLines(pidFile)[0])
      assert.strictEqual(Processes.statusOf(group), "alive")
      assert.strictEqual(yield* Processes.end(group, { graceMillis: 300, killWaitMillis: 1_000 }), "killed by SIGKILL")
      // Gone once init has reaped it.
      yield* Effect.promise(() => waitUntil(() => !isAlive(member), 5_000))
    }))

  it.effect("the SQLite journal keeps a run's groups until they end, and the reason a job was interrupted", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "journal.db")
      const runId = yield* Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const begun = yield* journal.begin({ dag: "d", target: { _tag: "New" }, definitionHash: "h", trigger: "cli", runnerVersion: "test", wait: false })
        const runId = begun._tag === "Run" ? begun.runId : assert.fail("a new run")
        yield* journal.record({ _tag: "RunStarted", runId, resumed: false, dag: "d", at: 1, jobIds: ["a"], concurrency: 1, failureMode: "no-new" })
        yield* journal.record({ _tag: "AttemptStarted", runId, jobId: "a", attempt: 1, at: 2 })
        const record: Journal.ProcessRecord = { runId, jobId: "a", attempt: 1, pid: 4242, pgid: 4242, host: os.hostname(), startTime: "boot:7", startedAt: 3 }
        yield* journal.processStarted(record)
        yield* journal.processStarted({ ...record, pid: 4343, pgid: 4343, startTime: undefined, startedAt: 4 })
        yield* journal.processEnded(runId, 4242)
        yield* journal.record({ _tag: "JobInterrupted", runId, jobId: "a", attempt: 1, at: 5, reason: "its process 4343 did not exit" })
        return runId
      }).pipe(Effect.scoped, Effect.provide(SqlJournal.layerSqlite({ filename: file, durability: "full" })))
      // Another journal instance on the file, as the next runner process.
      const left = yield* Effect.flatMap(Journal.Journal, (journal) => journal.processes(runId)).pipe(
        Effect.provide(SqlJournal.layerSqlite({ filename: file, durability: "full" }))
      )
      assert.deepStrictEqual(left, [{ runId, jobId: "a", attempt: 1, pid: 4343, pgid: 4343, host: os.hostname(), startTime: undefined, startedAt: 4 }])
      const jobs = query<{ status: string; reason: string }>(file, "SELECT status, reason FROM jobs")
      assert.deepStrictEqual(jobs.map((j) => ({ ...j })), [{ status: "interrupted", reason: "its process 4343 did not exit" }])
    }))
})

