/**
 * One process executes a run at a time: twenty runners started at once on the same DAG and `--key` — one runs the job,
 * the others exit 75 naming it at once, or with `--wait` wait for it and then find the key already succeeded. One race
 * of twenty shows both: half of them are started with `--wait`.
 */
import { assert, describe, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { type Result, runnerAsync, waitUntil } from "./support/spawn.ts"

const N = 20

interface Runner {
  readonly pid: number
  /** Started with --wait. */
  readonly waits: boolean
  readonly spawnedAt: number
  exitedAt: number | undefined
  result: Result | undefined
  readonly done: Promise<Result>
}

const start = async (args: (i: number) => ReadonlyArray<string>, env: Record<string, string>): Promise<Array<Runner>> => {
  const runners: Array<Runner> = []
  for (let i = 0; i < N; i++) {
    const argv = args(i)
    const child = runnerAsync(argv, env)
    const runner: Runner = {
      pid: child.process.pid!,
      waits: argv.includes("--wait"),
      spawnedAt: Date.now(),
      exitedAt: undefined,
      result: undefined,
      done: child.done
    }
    void child.done.then((result) => {
      runner.exitedAt = Date.now()
      runner.result = result
    })
    runners.push(runner)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return runners
}

const setup = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-race-"))
  const files = { dir, journal: path.join(dir, "j.db"), log: path.join(dir, "ran"), release: path.join(dir, "release") }
  const env = { HOLD_LOG: files.log, RELEASE: files.release }
  return { files, env }
}

// Whole lines only: the file exists, empty, between the job's open and its write (a slow machine read it there once).
const ran = (log: string) => fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter((line) => line !== "") : []

/** The run of key K in the journal, and the locks left. */
const journalState = (journal: string) => {
  const db = new DatabaseSync(journal, { readOnly: true })
  try {
    return {
      runs: db.prepare("SELECT status FROM runs WHERE run_key = 'K'").all().map((r) => r["status"]),
      jobs: db.prepare("SELECT job_id, status, attempts FROM jobs").all().map((r) => ({ ...r })),
      locks: db.prepare("SELECT count(*) AS n FROM locks").get()!["n"]
    }
  } finally {
    db.close()
  }
}

const describeRunners = (runners: ReadonlyArray<Runner>) =>
  runners.map((r) =>
    `pid ${r.pid}${r.waits ? " (--wait)" : ""}: ${r.result === undefined ? "running" : `exit ${r.result.status} after ${r.exitedAt! - r.spawnedAt} ms`}` +
    (r.result === undefined ? "" : ` ${JSON.stringify(r.result.stderr.slice(0, 300))}`)
  ).join("\n")

/** Whether process `pid` has `file` open; undefined where /proc cannot tell. */
const hasOpen = (pid: number, file: string): boolean | undefined => {
  if (!fs.existsSync("/proc/self/fd")) return undefined
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === file
      } catch {
        return false
      }
    })
  } catch {
    return false
  }
}

describe(`${N} runners on one key at once`, () => {
  it("exactly one executes; the others exit 75 at once naming its pid, or with --wait wait for it and then find the key succeeded (exit 0); the job ran once", async () => {
    const { env, files } = setup()
    const args = ["test/fixtures/hold.ts", "--journal", files.journal, "--key", "K", "--log-format", "plain"]
    // Every other runner waits: ten without --wait, ten with it, interleaved so both kinds race from the start.
    const runners = await start((i) => i % 2 === 0 ? args : [...args, "--wait"], env)
    try {
      await waitUntil(() => ran(files.log).length > 0, 50_000)
      const lines = ran(files.log)
      assert.strictEqual(lines.length, 1, `the job body ran once: ${JSON.stringify(lines)}`)
      const holderPid = Number(lines[0]!.replace("ran ", ""))
      const holder = runners.find((r) => r.pid === holderPid)
      assert.isDefined(holder, `the job ran in one of ours: ${holderPid}\n${describeRunners(runners)}`)
      const losers = runners.filter((r) => r !== holder && !r.waits)
      const waiters = runners.filter((r) => r !== holder && r.waits)
      assert.isAtLeast(losers.length, N / 2 - 1)
      assert.isAtLeast(waiters.length, N / 2 - 1)

      // The losers must exit on their own while the holder still holds the lock: nothing is released yet.
      await waitUntil(() => losers.every((r) => r.result !== undefined), 50_000).catch(() => {
        throw new Error(`not all losers exited:\n${describeRunners(runners)}`)
      })
      assert.isUndefined(holder!.result, `the holder is still running\n${describeRunners(runners)}`)
      for (const loser of losers) {
        assert.strictEqual(loser.result?.status, 75, describeRunners(runners))
        assert.match(
          loser.result!.stderr,
          new RegExp(`^runner: run \\S+ of "hold" \\(key K\\) is being executed by pid ${holderPid} on \\S+ since \\S+; use --wait`, "m")
        )
        assert.notMatch(loser.result!.stdout, /started/, "a loser starts no job")
      }
      const latencies = losers.map((r) => r.exitedAt! - r.spawnedAt)
      const slowestLoserMillis = Math.max(...latencies)
      // A loser alone exits 75 in about 1 s. Twenty Node processes starting together on two cores take 11–21 s each
      // here, the same as twenty `runner --version`: loading, not the lock, is what takes the time.
      assert.isBelow(slowestLoserMillis, 40_000, `loser latencies ${latencies.join(", ")} ms`)

      // Release only once every waiter is waiting on the lock rather than still loading: it has the journal open
      // (seen in /proc where there is one; elsewhere, the time the losers took), plus a second — four polls of the
      // lock. None may give up meanwhile.
      const journal = fs.realpathSync(files.journal)
      const fallback = Math.max(2_000, slowestLoserMillis * 1.2)
      await waitUntil(
        () => waiters.every((r) => hasOpen(r.pid, journal) ?? Date.now() - r.spawnedAt > fallback),
        fallback + 10_000
      )
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      assert.deepStrictEqual(waiters.filter((r) => r.result !== undefined).map((r) => r.result), [], "no waiter exits before the release")
      assert.isUndefined(holder!.result, "the holder is still running")
      assert.deepStrictEqual(ran(files.log), lines, "nothing else ran")

      const releasedAt = Date.now()
      fs.writeFileSync(files.release, "")
      const result = await holder!.done
      assert.strictEqual(result.status, 0, result.stderr)
      assert.match(result.stdout, /^hold\s+succeeded\s+1\s/m)
      assert.match(result.stdout, /run \S+ succeeded in/)
      const waited = await Promise.all(waiters.map((r) => r.done))
      for (const w of waited) {
        assert.strictEqual(w.status, 0, `${describeRunners(runners)}\n${w.stderr}`)
        assert.match(w.stdout, /^run \S+ of hold \(key K\) already succeeded; nothing to do/m)
      }
      const slowest = Math.max(...waiters.map((r) => r.exitedAt! - releasedAt))
      assert.isBelow(slowest, 20_000, "the waiters notice the release within a few polls")
      assert.deepStrictEqual(ran(files.log), [`ran ${holderPid}`], "the job body ran exactly once in total")
      assert.deepStrictEqual(journalState(files.journal), {
        runs: ["succeeded"],
        jobs: [{ job_id: "hold", status: "succeeded", attempts: 1 }],
        locks: 0
      })
    } finally {
      fs.writeFileSync(files.release, "")
      for (const r of runners) if (r.result === undefined) process.kill(r.pid, "SIGKILL")
      await Promise.all(runners.map((r) => r.done))
      fs.rmSync(files.dir, { recursive: true, force: true })
    }
  }, 120_000)
})
