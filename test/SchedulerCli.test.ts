/**
 * `runner schedule` and `runner cron` end to end: the real runner spawned over a few real seconds against every-second
 * schedules, with a real journal file. Independent scenarios run concurrently to keep the file short; timings are
 * checked with slack (this may run on a loaded 2-core machine), counts and keys exactly.
 */
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { bins, isAlive, type Result, root, runner, runnerAsync, type RuntimeName, waitUntil } from "./support/spawn.ts"
import { withDb } from "./support/db.ts"

const fixture = (name: string) => `test/fixtures/${name}.ts`
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "runner-schedule-"))
const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))
/** The non-empty lines of a file, none when it does not exist. */
const lines = (file: string): Array<string> =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "") : []

// Every fixture here is scheduled in UTC with a seconds field: a slot's run key is its UTC time to the second.
const utcKey = (millis: number) => new Date(millis).toISOString().slice(0, 19)
const slotMillis = (key: string) => Date.parse(`${key}Z`)
const plusSeconds = (key: string, n: number) => utcKey(slotMillis(key) + n * 1000)
const KEY = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/
const assertConsecutive = (keys: ReadonlyArray<string>, what: string) =>
  keys.forEach((key, i) => {
    if (i > 0) assert.strictEqual(key, plusSeconds(keys[i - 1]!, 1), `${what}: one slot per second, none missing: ${keys.join(", ")}`)
  })

// ---------------------------------------------------------------------------------------------------------------
// Processes

interface Proc {
  readonly process: ChildProcess
  readonly done: Promise<Result>
  /** Everything written to stdout so far. */
  readonly out: () => string
  readonly err: () => string
}

const started = new Set<Proc>()
const sleepPids = new Set<number>()

/** Starts the runner (cwd: the repository), keeping a live copy of its output. */
const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}, runtime: RuntimeName = "node"): Proc => {
  const child = runnerAsync(args, env, runtime)
  let out = ""
  let err = ""
  child.process.stdout!.on("data", (chunk) => (out += chunk))
  child.process.stderr!.on("data", (chunk) => (err += chunk))
  const proc = { ...child, out: () => out, err: () => err }
  started.add(proc)
  void child.done.then(() => started.delete(proc))
  return proc
}

/** Waits for a condition on a running process; fails with its output if it exits first or takes too long. */
const waitFor = async (what: string, proc: Proc, predicate: () => boolean, timeoutMillis = 20_000) => {
  try {
    await waitUntil(() => predicate() || proc.process.exitCode !== null || proc.process.signalCode !== null, timeoutMillis)
  } catch {
    throw new Error(`timed out waiting for ${what}; output so far:\n${proc.out()}\n${proc.err()}`)
  }
  if (!predicate()) {
    const result = await proc.done
    throw new Error(`exited ${result.status} before ${what}:\n${result.stdout}\n${result.stderr}`)
  }
}

/** Sends a signal and waits for the exit; `elapsed` is from the signal to the exit. */
const stop = async (proc: Proc, signal: NodeJS.Signals = "SIGTERM") => {
  const at = Date.now()
  proc.process.kill(signal)
  const result = await proc.done
  return { ...result, elapsed: Date.now() - at }
}

afterAll(() => {
  // Only if a test failed midway: its daemons and their `sleep` children are still there.
  for (const proc of started) proc.process.kill("SIGKILL")
  for (const pid of sleepPids) if (isAlive(pid)) process.kill(pid, "SIGKILL")
})

// ---------------------------------------------------------------------------------------------------------------
// Reading the daemon's log lines (plain format: "HH:MM:SS <dag>: <message>")

const matches = (text: string, pattern: string): Array<Array<string>> =>
  [...text.matchAll(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${pattern}$`, "gm"))].map((m) => m.slice(1))
const startedKeys = (out: string, dag: string) => matches(out, `${dag}: slot (\\S+): starting`).map((m) => m[0]!)
const succeededKeys = (out: string, dag: string) => matches(out, `${dag}: slot (\\S+): run \\S+ succeeded`).map((m) => m[0]!)
const skippedKeys = (out: string, dag: string) =>
  matches(out, `${dag}: slot (\\S+) skipped: the previous run is still going \\(overlap: skip\\)`).map((m) => m[0]!)
const queuedKeys = (out: string, dag: string) =>
  matches(out, `${dag}: slot (\\S+) queued: the previous run is still going \\(overlap: queue\\)`).map((m) => m[0]!)
const notStartedKeys = (out: string, dag: string) =>
  matches(out, `${dag}: slot (\\S+) not started: the scheduler is stopping`).map((m) => m[0]!)
/**
 * The missed slots the daemon logged, in order: one line per slot, or (beyond 5, as on a loaded machine where the
 * restart took longer) one line with their count, first and last, expanded here to every slot between.
 */
const missed = (out: string, dag: string) =>
  matches(
    out,
    `${dag}: missed (?:slot (\\S+)|(\\d+) slots) while not running \\(catch-up: (\\w+)\\)(?:, first (\\S+), last (\\S+))?: ` +
      `(not run|running it now)(?: \\(runner backfill runs them\\))?`
  ).flatMap(([key, count, mode, first, last, what]) => {
    const run = what === "running it now"
    if (key !== undefined) return [{ key, mode: mode!, run }]
    const keys = Array.from({ length: Number(count) }, (_, i) => plusSeconds(first!, i))
    assert.strictEqual(keys.at(-1), last, `missed ${count} slots from ${first} to ${last}`)
    return keys.map((slot) => ({ key: slot, mode: mode!, run }))
  })
/** The output after the "stopping:" line (the daemon's acknowledgement of the first signal). */
const afterStopping = (out: string) => {
  const at = out.search(/^\d\d:\d\d:\d\d stopping: /m)
  return at === -1 ? "" : out.slice(at)
}

// ---------------------------------------------------------------------------------------------------------------
// The journal, read directly once the processes are gone

interface RunRow {
  readonly id: string
  readonly run_key: string | null
  readonly status: string
  readonly trigger: string
  readonly started_at: number
  readonly ended_at: number | null
}
/** The runs, oldest first (no journal: none). */
const runsOf = (journal: string): Array<RunRow> =>
  !fs.existsSync(journal) ? [] : withDb(journal, (db) =>
    db.prepare("SELECT id, run_key, status, trigger, started_at, ended_at FROM runs ORDER BY started_at, rowid")
      .all() as unknown as Array<RunRow>)
/** How many job attempts (executions of a job body) each run key had. */
const attemptsByKey = (journal: string): Map<string, number> =>
  new Map(withDb(journal, (db) =>
    (db.prepare("SELECT r.run_key AS key, count(*) AS n FROM attempts a JOIN runs r ON r.id = a.run_id GROUP BY r.run_key")
      .all() as unknown as Array<{ key: string; n: number }>).map((row) => [row.key, row.n] as const)))
const keysOf = (runs: ReadonlyArray<RunRow>) => runs.map((r) => r.run_key!)

// ---------------------------------------------------------------------------------------------------------------

describe("runner schedule: an every-second DAG, end to end", () => {
  it("fires once per slot with the slot as run key, shows the next fire times, history shows trigger schedule; --list runs nothing", async () => {
    const dir = tempDir()
    const journal = path.join(dir, "j.db")
    const ticks = path.join(dir, "ticks")
    const spawnedAt = Date.now()
    const daemon = start(["schedule", fixture("every-second"), "--journal", journal], { TICKS: ticks })
    const listJournal = path.join(dir, "list.db")
    const listTicks = path.join(dir, "list-ticks")
    const listed = runnerAsync(["schedule", "--list", fixture("every-second"), "--journal", listJournal], { TICKS: listTicks })

    await waitFor("4 ticks", daemon, () => lines(ticks).length >= 4)
    const stopped = await stop(daemon)
    assert.strictEqual(stopped.status, 0, stopped.stdout + stopped.stderr)
    assert.strictEqual(stopped.stderr, "")
    assert.isBelow(stopped.elapsed, 5_000, "no run was going: the daemon stops at once")

    // At start: the DAG, its schedule and the next three fire times with their run keys.
    const out = stopped.stdout.split("\n")
    assert.strictEqual(
      out[0],
      "every-second (test/fixtures/every-second.ts): */1 * * * * * in UTC, catch-up latest, overlap skip; next:"
    )
    const announced = out.slice(1, 4).map((line) => {
      const m = /^ {2}(\S+) {2}\((\S+)\)$/.exec(line)
      assert.isNotNull(m, line)
      assert.strictEqual(m![2], `${m![1]}.000Z`, "the key is the slot's UTC time")
      return m![1]!
    })
    assertConsecutive(announced, "announced")
    assert.isAbove(slotMillis(announced[0]!), spawnedAt, "the next fire times are in the future")
    assert.isBelow(slotMillis(announced[0]!), spawnedAt + 10_000)

    // One run per slot, keyed by the slot, started at the slot's time, every slot while it ran.
    const runs = runsOf(journal)
    const keys = keysOf(runs)
    assert.isAtLeast(runs.length, 4)
    assert.isAtMost(runs.length, 6)
    for (const run of runs) {
      assert.match(run.run_key!, KEY)
      assert.strictEqual(run.status, "succeeded")
      assert.strictEqual(run.trigger, "schedule")
      const late = run.started_at - slotMillis(run.run_key!)
      assert.isAtLeast(late, -20, `run ${run.run_key} started before its slot`)
      assert.isBelow(late, 800, `run ${run.run_key} started ${late} ms after its slot`)
    }
    assertConsecutive(keys, "runs")
    assert.include(announced.slice(0, 2), keys[0], "the first run is one of the announced slots")
    assert.deepStrictEqual(startedKeys(stopped.stdout, "every-second"), keys)
    assert.deepStrictEqual([...attemptsByKey(journal).values()], keys.map(() => 1), "one execution per slot")

    // Ticks (the job's own record) about a second apart, as many as runs.
    const times = lines(ticks).map(Number)
    assert.strictEqual(times.length, runs.length)
    for (let i = 1; i < times.length; i++) {
      const gap = times[i]! - times[i - 1]!
      assert.isAtLeast(gap, 800, `ticks ${gap} ms apart`)
      assert.isAtMost(gap, 1500, `ticks ${gap} ms apart`)
    }

    // history --json: like any other run, with its trigger.
    const history = await runnerAsync(["history", "--json", "--journal", journal]).done
    assert.strictEqual(history.status, 0, history.stderr)
    const doc = JSON.parse(history.stdout) as { runs: Array<{ key: string; trigger: string; status: string; dag: string }> }
    assert.deepStrictEqual(doc.runs.map((r) => r.key).reverse(), keys)
    for (const run of doc.runs) assert.deepInclude(run, { dag: "every-second", trigger: "schedule", status: "succeeded" })

    // --list: the same header and next fire times, exit 0, nothing run.
    const list = await listed.done
    assert.strictEqual(list.status, 0, list.stderr)
    const listLines = list.stdout.trimEnd().split("\n")
    assert.strictEqual(listLines.length, 4, list.stdout)
    assert.strictEqual(listLines[0], out[0])
    assertConsecutive(listLines.slice(1).map((l) => /^ {2}(\S+) {2}\(\S+\.000Z\)$/.exec(l)?.[1] ?? l), "--list")
    assert.isFalse(fs.existsSync(listTicks), "--list ran a job")
    assert.deepStrictEqual(runsOf(listJournal), [])
  })

  it("--list on a folder shows every scheduled DAG in it (each in its own time zone) and leaves out unscheduled ones", async () => {
    const dir = tempDir()
    fs.copyFileSync(path.join(root, fixture("every-second")), path.join(dir, "a.ts"))
    fs.copyFileSync(path.join(root, fixture("schedule-cron")), path.join(dir, "b.ts"))
    fs.writeFileSync(
      path.join(dir, "c.ts"),
      'import * as Effect from "effect/Effect"\nimport { Dag, Job } from "effect-runner"\n' +
        'export default Dag.make("unscheduled", [Job.make("u", { run: () => Effect.void })])\n'
    )
    const list = await runnerAsync(["schedule", "--list", dir]).done
    assert.strictEqual(list.status, 0, list.stderr)
    const out = list.stdout.trimEnd().split("\n")
    assert.strictEqual(out.length, 8, list.stdout)
    assert.strictEqual(out[0], `every-second (${path.join(dir, "a.ts")}): */1 * * * * * in UTC, catch-up latest, overlap skip; next:`)
    assert.strictEqual(out[4], `schedule-cron (${path.join(dir, "b.ts")}): */5 * * * * in Asia/Kolkata, catch-up latest, overlap skip; next:`)
    // A 5-field schedule: minute keys, in the schedule's zone (UTC+05:30), every 5 minutes.
    for (const line of out.slice(5)) {
      const m = /^ {2}(\d{4}-\d\d-\d\dT\d\d:(\d\d)) {2}\((\S+)\)$/.exec(line)
      assert.isNotNull(m, line)
      assert.strictEqual(m![1], new Date(Date.parse(m![3]!) + 330 * 60_000).toISOString().slice(0, 16))
      assert.strictEqual(Number(m![2]) % 5, 0)
    }
    assert.notInclude(list.stdout, "unscheduled")
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("runner schedule: graceful stop", () => {
  /** A daemon on schedule-sleep (every second; its `work` job waits for a child `sleep $SLEEP`), its first run going. */
  const sleeping = async (sleepSeconds: number, grace: string) => {
    const dir = tempDir()
    const files = { journal: path.join(dir, "j.db"), log: path.join(dir, "log"), pids: path.join(dir, "pids") }
    const env = { SLEEP: String(sleepSeconds), LOG: files.log, PIDS: files.pids }
    const daemon = start(["schedule", fixture("schedule-sleep"), "--journal", files.journal, "--grace", grace], env)
    await waitFor("the job's sh and sleep", daemon, () => lines(files.pids).length >= 2)
    const pids = lines(files.pids).map(Number)
    for (const pid of pids) sleepPids.add(pid)
    const key = startedKeys(daemon.out(), "schedule-sleep")[0]!
    assert.match(key, KEY)
    return { ...files, env, daemon, pids, key }
  }
  /** After the stop, only the slot whose run was going is mentioned: no slot fires, is skipped or queued. */
  const noFiringAfterStop = (out: string, key: string) => {
    const after = afterStopping(out)
    assert.notStrictEqual(after, "", "the daemon acknowledged the stop")
    const mentioned = [...after.matchAll(/^\d\d:\d\d:\d\d schedule-sleep: slot (\S+?):? /gm)].map((m) => m[1])
    assert.deepStrictEqual(mentioned.filter((k) => k !== key), [], `no other slot after the stop:\n${after}`)
  }

  it("SIGTERM: runs past --grace are interrupted (exit 130, processes killed) and resume under the slot key; runs within it finish (exit 0); a second SIGTERM interrupts at once", async () => {
    const interrupted = async () => {
      const s = await sleeping(30, "1 second")
      const stopped = await stop(s.daemon)
      assert.strictEqual(stopped.status, 130, stopped.stdout + stopped.stderr)
      assert.isAtLeast(stopped.elapsed, 900, "waited for the grace period")
      assert.isBelow(stopped.elapsed, 8_000)
      assert.include(stopped.stdout, "stopping: waiting up to 1s for 1 run to finish")
      assert.include(stopped.stdout, "interrupting the runs still going; each resumes when its slot's key runs again (a catch-up, or runner <file> --key K)")
      assert.match(stopped.stdout, /^\d\d:\d\d:\d\d work ■ interrupted during attempt 1$/m)
      noFiringAfterStop(stopped.stdout, s.key)
      await waitUntil(() => s.pids.every((pid) => !isAlive(pid)), 5_000)
      const [run, ...others] = runsOf(s.journal)
      assert.deepStrictEqual(others, [], "one run")
      assert.deepInclude(run, { run_key: s.key, status: "interrupted", trigger: "schedule" })
      assert.deepStrictEqual(lines(s.log), ["prepare"])

      // The run of that slot, started by hand with its key, resumes: `prepare` is restored, only `work` runs.
      const resumed = await runnerAsync([fixture("schedule-sleep"), "--key", s.key, "--journal", s.journal], { ...s.env, SLEEP: "0" }).done
      assert.strictEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
      assert.match(resumed.stdout, new RegExp(`resuming run ${run!.id} of schedule-sleep`))
      assert.match(resumed.stdout, /prepare ↺ succeeded in an earlier attempt of this run/)
      assert.match(resumed.stdout, new RegExp(`run ${run!.id} succeeded`))
      assert.deepStrictEqual(lines(s.log), ["prepare", "work"])
      assert.deepStrictEqual(runsOf(s.journal).map((r) => [r.id, r.run_key, r.status]), [[run!.id, s.key, "succeeded"]])
    }

    const drained = async () => {
      const s = await sleeping(2, "20 seconds")
      const stopped = await stop(s.daemon)
      assert.strictEqual(stopped.status, 0, stopped.stdout + stopped.stderr)
      assert.isAtLeast(stopped.elapsed, 800, "waited for the run")
      assert.isBelow(stopped.elapsed, 8_000)
      assert.include(stopped.stdout, "stopping: waiting up to 20s for 1 run to finish")
      assert.notInclude(stopped.stdout, "interrupting")
      noFiringAfterStop(stopped.stdout, s.key)
      assert.deepStrictEqual(runsOf(s.journal).map((r) => [r.run_key, r.status]), [[s.key, "succeeded"]])
      assert.deepStrictEqual(lines(s.log), ["prepare", "work"])
    }

    const twice = async () => {
      const s = await sleeping(30, "30 seconds")
      s.daemon.process.kill("SIGTERM")
      await waitFor("the stopping message", s.daemon, () => afterStopping(s.daemon.out()) !== "")
      await sleep(1_200) // past a slot: nothing fires while waiting for the run
      assert.isNull(s.daemon.process.exitCode, "still waiting for the run (grace 30s)")
      const stopped = await stop(s.daemon)
      assert.strictEqual(stopped.status, 130, stopped.stdout + stopped.stderr)
      assert.isBelow(stopped.elapsed, 5_000, "the second signal does not wait for the grace period")
      assert.include(stopped.stdout, "stopping: waiting up to 30s for 1 run to finish")
      assert.include(stopped.stdout, "interrupting the runs still going")
      noFiringAfterStop(stopped.stdout, s.key)
      await waitUntil(() => s.pids.every((pid) => !isAlive(pid)), 5_000)
      assert.deepStrictEqual(runsOf(s.journal).map((r) => [r.run_key, r.status]), [[s.key, "interrupted"]])
    }

    await Promise.all([interrupted(), drained(), twice()])
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("runner schedule: catch-up after downtime (the last fired slot is in the journal)", () => {
  interface Downtime {
    /** The last slot the first daemon fired. */
    readonly last: string
    readonly missed: ReadonlyArray<{ key: string; mode: string; run: boolean }>
    readonly out: string
    readonly status: number | null
    readonly runs: ReadonlyArray<RunRow>
    readonly attempts: Map<string, number>
  }
  /**
   * Runs the daemon until its first slot has run, stops it, waits until at least 3 slots were missed, starts it again
   * and stops it once a live slot (after the caught-up ones) has run. Returns the second daemon's view.
   */
  const downtime = async (env: Record<string, string>, flags: ReadonlyArray<string> = []): Promise<Downtime> => {
    const dir = tempDir()
    const journal = path.join(dir, "j.db")
    const args = ["schedule", fixture("schedule-catchup"), "--journal", journal, ...flags]
    const fullEnv = { ...env, TICKS: path.join(dir, "ticks") }
    const first = start(args, fullEnv)
    await waitFor("a first run", first, () => succeededKeys(first.out(), "schedule-catchup").length >= 1)
    const firstStop = await stop(first)
    assert.strictEqual(firstStop.status, 0, firstStop.stdout)
    const last = startedKeys(firstStop.stdout, "schedule-catchup").at(-1)!
    const wait = slotMillis(last) + 3_500 - Date.now()
    if (wait > 0) await sleep(wait)
    const second = start(args, fullEnv)
    const liveRan = () => {
      const out = second.out()
      const caughtUp = missed(out, "schedule-catchup").at(-1)?.key ?? last
      return succeededKeys(out, "schedule-catchup").some((key) => key > caughtUp)
    }
    await waitFor("a live slot after the catch-up", second, liveRan)
    const stopped = await stop(second)
    return {
      last,
      missed: missed(stopped.stdout, "schedule-catchup"),
      out: stopped.stdout,
      status: stopped.status,
      runs: runsOf(journal),
      attempts: attemptsByKey(journal)
    }
  }
  const checkMissed = (d: Downtime, mode: string) => {
    assert.strictEqual(d.status, 0, d.out)
    const keys = d.missed.map((m) => m.key)
    assert.isAtLeast(keys.length, 3, `at least 3 slots were missed:\n${d.out}`)
    assert.strictEqual(keys[0], plusSeconds(d.last, 1), "the restart knows the last slot fired before it stopped")
    assertConsecutive(keys, "missed slots")
    for (const m of d.missed) assert.strictEqual(m.mode, mode)
    for (const [key, n] of d.attempts) assert.strictEqual(n, 1, `slot ${key} ran ${n} times`)
    return keys
  }
  const ranKeys = (d: Downtime) => new Set(keysOf(d.runs))

  let none: Promise<Downtime>
  let latest: Promise<Downtime>
  let all: Promise<Downtime>
  let bounded: Promise<Downtime>
  let allSkip: Promise<Downtime>
  beforeAll(() => {
    // All five at once: each has its own journal.
    none = downtime({ CATCH_UP: "none" })
    latest = downtime({}) // the default
    all = downtime({ CATCH_UP: "all", OVERLAP: "queue" })
    bounded = downtime({ CATCH_UP: "all", OVERLAP: "queue" }, ["--max-catch-up", "2"])
    allSkip = downtime({ CATCH_UP: "all" })
    // Avoid unhandled rejections before the tests await them.
    for (const p of [none, latest, all, bounded, allSkip]) p.catch(() => {})
  })

  it("none: logs every missed slot and runs none of them", async () => {
    const d = await none
    const keys = checkMissed(d, "none")
    assert.isTrue(d.missed.every((m) => !m.run), d.out)
    for (const key of keys) assert.isFalse(ranKeys(d).has(key), `missed slot ${key} ran`)
  })

  it("latest (the default): runs only the most recent missed slot, logs the others", async () => {
    const d = await latest
    assert.include(d.out, "catch-up latest")
    const keys = checkMissed(d, "latest")
    assert.deepStrictEqual(d.missed.map((m) => m.run), keys.map((_, i) => i === keys.length - 1), d.out)
    assert.deepStrictEqual(keys.filter((key) => ranKeys(d).has(key)), [keys.at(-1)])
    assert.strictEqual(d.runs.find((r) => r.run_key === keys.at(-1))?.trigger, "schedule")
  })

  it("all (overlap queue): runs every missed slot, in order", async () => {
    const d = await all
    const keys = checkMissed(d, "all")
    assert.isTrue(d.missed.every((m) => m.run), d.out)
    const caughtUp = d.runs.filter((r) => keys.includes(r.run_key!))
    assert.deepStrictEqual(keysOf(caughtUp), keys, "every missed slot ran, oldest first")
    for (let i = 1; i < caughtUp.length; i++) assert.isAtLeast(caughtUp[i]!.started_at, caughtUp[i - 1]!.ended_at!)
  })

  it("all with --max-catch-up 2: runs only the 2 most recent missed slots, logs the others", async () => {
    const d = await bounded
    const keys = checkMissed(d, "all")
    assert.deepStrictEqual(d.missed.map((m) => m.run), keys.map((_, i) => i >= keys.length - 2), d.out)
    assert.deepStrictEqual(keys.filter((key) => ranKeys(d).has(key)), keys.slice(-2))
  })

  it("all with the default overlap (skip): says it runs every missed slot; the oldest one runs", async () => {
    const d = await allSkip
    const keys = checkMissed(d, "all")
    assert.isTrue(d.missed.every((m) => m.run), d.out)
    assert.isTrue(ranKeys(d).has(keys[0]!), d.out)
  })

  // Missed slots run one after another whatever the overlap policy: with "skip" none of them is skipped.
  it("all with the default overlap (skip): runs every missed slot, in order", async () => {
    const d = await allSkip
    const keys = d.missed.map((m) => m.key)
    assert.deepStrictEqual(skippedKeys(d.out, "schedule-catchup").filter((key) => keys.includes(key)), [])
    assert.deepStrictEqual(keysOf(d.runs.filter((r) => keys.includes(r.run_key!))), keys)
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("runner schedule: overlap (every second, each run takes 1.5 s)", () => {
  interface Overlapped {
    readonly stdout: string
    readonly runs: ReadonlyArray<RunRow>
    readonly attempts: Map<string, number>
    readonly ticks: ReadonlyArray<number>
  }
  /** Runs every-second (each run sleeping `tickSleep`) until `enough`, then stops it gracefully (exit 0). */
  const overlapped = async (overlap: string, tickSleep: number, enough: (out: string) => boolean): Promise<Overlapped> => {
    const dir = tempDir()
    const journal = path.join(dir, "j.db")
    const ticks = path.join(dir, "ticks")
    const env = { OVERLAP: overlap, TICK_SLEEP: String(tickSleep), TICKS: ticks }
    const proc = start(["schedule", fixture("every-second"), "--journal", journal], env)
    await waitFor(`enough slots (overlap ${overlap})`, proc, () => enough(proc.out()))
    const stopped = await stop(proc)
    assert.strictEqual(stopped.status, 0, stopped.stdout + stopped.stderr)
    const runs = runsOf(journal)
    const attempts = attemptsByKey(journal)
    for (const [key, n] of attempts) assert.strictEqual(n, 1, `slot ${key} ran ${n} times`)
    assert.strictEqual(lines(ticks).length, runs.length)
    assert.isTrue(runs.every((run) => run.status === "succeeded"))
    return { stdout: stopped.stdout, runs, attempts, ticks: lines(ticks).map(Number) }
  }
  const gaps = (times: ReadonlyArray<number>) => times.slice(1).map((t, i) => t - times[i]!)

  let skip: Promise<Overlapped>
  let queue: Promise<Overlapped>
  let allow: Promise<Overlapped>
  let queuedAtStop: Promise<Overlapped>
  beforeAll(() => {
    skip = overlapped("skip", 1500, (out) => skippedKeys(out, "every-second").length >= 2 && succeededKeys(out, "every-second").length >= 2)
    queue = overlapped("queue", 1500, (out) => queuedKeys(out, "every-second").length >= 2 && succeededKeys(out, "every-second").length >= 3)
    allow = overlapped("allow", 1500, (out) => succeededKeys(out, "every-second").length >= 3)
    // Runs of 3 s: two slots are queued behind the first when the stop comes.
    queuedAtStop = overlapped("queue", 3000, (out) => queuedKeys(out, "every-second").length >= 2)
    for (const p of [skip, queue, allow, queuedAtStop]) p.catch(() => {})
  })

  it("skip (the default): a slot during a run is logged as skipped and never runs; runs never overlap", async () => {
    const r = await skip
    const skipped = skippedKeys(r.stdout, "every-second")
    assert.isAtLeast(skipped.length, 2)
    for (const key of skipped) assert.notInclude(keysOf(r.runs), key)
    assertConsecutive([...keysOf(r.runs), ...skipped].sort(), "every slot is run or skipped")
    for (let i = 1; i < r.runs.length; i++) assert.isAtLeast(r.runs[i]!.started_at, r.runs[i - 1]!.ended_at!)
    for (const gap of gaps(r.ticks)) assert.isAtLeast(gap, 1_400)
  })

  it("queue: a slot during a run waits and runs, under its own key, as soon as the previous run ends", async () => {
    const r = await queue
    const queued = queuedKeys(r.stdout, "every-second")
    assert.isAtLeast(queued.length, 2)
    const notStarted = notStartedKeys(r.stdout, "every-second")
    for (const key of queued) assert.isTrue(keysOf(r.runs).includes(key) || notStarted.includes(key), `queued ${key} vanished`)
    assertConsecutive([...keysOf(r.runs), ...notStarted], "every slot runs, or is not started at the stop")
    for (let i = 1; i < r.runs.length; i++) {
      const gap = r.runs[i]!.started_at - r.runs[i - 1]!.ended_at!
      assert.isAtLeast(gap, 0, "queued runs do not overlap")
      if (queued.includes(r.runs[i]!.run_key!)) assert.isBelow(gap, 500, "a queued slot runs right after the previous run")
    }
    const late = r.runs.find((run) => queued.includes(run.run_key!))!
    assert.isAtLeast(late.started_at - slotMillis(late.run_key!), 300, "a queued slot starts after its time")
  })

  it("allow: every slot runs on time, overlapping the previous run", async () => {
    const r = await allow
    assert.deepStrictEqual([skippedKeys(r.stdout, "every-second"), queuedKeys(r.stdout, "every-second")], [[], []])
    assertConsecutive(keysOf(r.runs), "allow")
    assert.isTrue(r.runs.some((run, i) => i > 0 && run.started_at < r.runs[i - 1]!.ended_at!), "a run started while the previous one was going")
    for (const gap of gaps(r.ticks)) {
      assert.isAtLeast(gap, 800)
      assert.isAtMost(gap, 1_500)
    }
  })

  it("queue: slots still queued at a stop are not started", async () => {
    const r = await queuedAtStop
    const queued = queuedKeys(r.stdout, "every-second")
    assert.isAtLeast(queued.length, 2)
    assert.deepStrictEqual(keysOf(r.runs), [plusSeconds(queued[0]!, -1)], "only the run going at the stop ran")
    assert.include(notStartedKeys(r.stdout, "every-second"), queued[0])
  })

  // When the run going at a stop ends, every slot still queued is logged as not started (the next start catches up).
  it("queue: every slot still queued at a stop is logged as not started", async () => {
    const r = await queuedAtStop
    assert.deepStrictEqual(notStartedKeys(r.stdout, "every-second"), queuedKeys(r.stdout, "every-second"))
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("one run per slot key, whoever starts it", () => {
  it("two system-cron style invocations of the same key: one executes, the other exits 75 or 0, one run", async () => {
    const dir = tempDir()
    const journal = path.join(dir, "j.db")
    const ticks = path.join(dir, "ticks")
    const key = "2030-01-01T00:00"
    const env = { TICKS: ticks, TICK_SLEEP: "1000" }
    const results = await Promise.all([0, 1].map(() =>
      runnerAsync([fixture("every-second"), "--key", key, "--journal", journal], env).done
    ))
    const [ran, other] = results[0]!.stdout.includes("run ") && / succeeded in /.test(results[0]!.stdout)
      ? [results[0]!, results[1]!]
      : [results[1]!, results[0]!]
    assert.strictEqual(ran.status, 0, ran.stdout + ran.stderr)
    assert.match(ran.stdout, /^run \S+ succeeded in /m)
    if (other.status === 75) assert.match(other.stderr, new RegExp(`of "every-second" \\(key ${key}\\) is being executed by pid \\d+`))
    else {
      assert.strictEqual(other.status, 0, other.stdout + other.stderr)
      assert.match(other.stdout, new RegExp(`\\(key ${key}\\) already succeeded; nothing to do`))
    }
    assert.strictEqual(lines(ticks).length, 1, "the job ran once")
    assert.deepStrictEqual(runsOf(journal).map((r) => [r.run_key, r.status, r.trigger]), [[key, "succeeded", "cli"]])
  })

  it("the daemon and a CLI run of the same slot key never both execute it (CLI first, or daemon first)", async () => {
    // CLI first: a CLI run holding the key of a slot 2-3 s ahead (its job takes 2.5 s) while the daemon reaches it.
    const cliFirst = async () => {
      const dir = tempDir()
      const journal = path.join(dir, "j.db")
      const daemonTicks = path.join(dir, "daemon-ticks")
      const cliTicks = path.join(dir, "cli-ticks")
      const daemon = start(["schedule", fixture("every-second"), "--journal", journal], { TICKS: daemonTicks })
      await waitFor("a first run", daemon, () => succeededKeys(daemon.out(), "every-second").length >= 1)
      const key = utcKey(Math.ceil((Date.now() + 2_500) / 1000) * 1000)
      const cli = await runnerAsync([fixture("every-second"), "--key", key, "--journal", journal], { TICKS: cliTicks, TICK_SLEEP: "2500" }).done
      await waitFor("a slot after the shared one", daemon, () => succeededKeys(daemon.out(), "every-second").some((k) => k > key))
      const stopped = await stop(daemon)
      assert.strictEqual(stopped.status, 0, stopped.stdout)
      const daemonSaid = new RegExp(`^\\d\\d:\\d\\d:\\d\\d every-second: slot ${key}: (.*)$`, "gm")
      const said = [...stopped.stdout.matchAll(daemonSaid)].map((m) => m[1]!).filter((s) => s !== "starting")
      assert.strictEqual(said.length, 1, stopped.stdout)
      const runs = runsOf(journal)
      const shared = runs.filter((r) => r.run_key === key)
      assert.strictEqual(shared.length, 1)
      if (cli.status === 0 && / succeeded in /.test(cli.stdout)) {
        // The usual case: the CLI held the run when the slot came.
        assert.strictEqual(shared[0]!.trigger, "cli")
        assert.match(said[0]!, /^(skipped: run \S+ of "every-second" \(key \S+\) is being executed by pid \d+|already succeeded in run \S+; nothing to do)/)
        assert.strictEqual(lines(cliTicks).length, 1)
      } else {
        // The CLI was slow to start and the daemon got there first.
        assert.include([0, 75], cli.status, cli.stdout + cli.stderr)
        assert.strictEqual(shared[0]!.trigger, "schedule")
        assert.strictEqual(lines(cliTicks).length, 0)
      }
      for (const [k, n] of attemptsByKey(journal)) assert.strictEqual(n, 1, `slot ${k} ran ${n} times`)
      assert.strictEqual(lines(daemonTicks).length + lines(cliTicks).length, runs.length, "one execution per run")
    }

    // Daemon first: each run takes 1.5 s; a CLI run with the key of the slot being run exits 75 (or finds it done).
    const daemonFirst = async () => {
      const dir = tempDir()
      const journal = path.join(dir, "j.db")
      const cliTicks = path.join(dir, "cli-ticks")
      const daemon = start(["schedule", fixture("every-second"), "--journal", journal], { TICK_SLEEP: "1500" })
      await waitFor("a run starting", daemon, () => startedKeys(daemon.out(), "every-second").length >= 1)
      const key = startedKeys(daemon.out(), "every-second")[0]!
      const cli = await runnerAsync([fixture("every-second"), "--key", key, "--journal", journal], { TICKS: cliTicks }).done
      await waitFor("the slot's run to finish", daemon, () => succeededKeys(daemon.out(), "every-second").includes(key))
      const stopped = await stop(daemon)
      assert.include([0, 130], stopped.status)
      if (cli.status === 75) assert.match(cli.stderr, new RegExp(`\\(key ${key}\\) is being executed by pid ${daemon.process.pid} `))
      else {
        assert.strictEqual(cli.status, 0, cli.stdout + cli.stderr)
        assert.match(cli.stdout, /already succeeded; nothing to do/)
      }
      assert.strictEqual(lines(cliTicks).length, 0, "the CLI did not run the job")
      const shared = runsOf(journal).filter((r) => r.run_key === key)
      assert.deepStrictEqual(shared.map((r) => [r.status, r.trigger]), [["succeeded", "schedule"]])
      assert.strictEqual(attemptsByKey(journal).get(key), 1)
    }

    await Promise.all([cliFirst(), daemonFirst()])
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("runner cron", () => {
  const kolkataMinute = (millis: number) => new Date(millis + 330 * 60_000).toISOString().slice(0, 16)

  it("prints a CRON_TZ line and a crontab line whose --key is the slot's local minute; the line runs the DAG with that key", async () => {
    const dir = tempDir()
    const file = path.join(root, fixture("schedule-cron"))
    const result = runner(["cron", file], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr)
    const out = result.stdout.split("\n")
    const at = out.indexOf("CRON_TZ=Asia/Kolkata")
    assert.isAbove(at, 0, result.stdout)
    assert.strictEqual(out[at - 1], `# schedule-cron (${file}): */5 * * * * in Asia/Kolkata`)
    const line = out[at + 1]!
    const prefix = `*/5 * * * * cd ${dir} && `
    assert.isTrue(line.startsWith(prefix), line)
    assert.include(line, `${fs.realpathSync(bins.node)} ${path.join(root, "bin/runner.js")} ${file} `)
    assert.include(line, ` --key "$(TZ=Asia/Kolkata date +\\%Y-\\%m-\\%dT\\%H:\\%M)" `)
    assert.notMatch(line.replaceAll("\\%", ""), /%/, "every % is escaped for cron")

    // Run the command as cron would (after cron's un-escaping of \%), twice at once: one run, keyed by the minute.
    const wait = 60_000 - (Date.now() % 60_000)
    if (wait < 8_000) await sleep(wait + 100) // both within one minute
    const command = line.slice("*/5 * * * * ".length).replaceAll("\\%", "%")
    const ticks = path.join(dir, "ticks")
    const before = Date.now()
    const results = await Promise.all([0, 1].map(() =>
      new Promise<number | null>((resolve) => {
        const env: Record<string, string | undefined> = { ...process.env, TICKS: ticks, TICK_SLEEP: "500" }
        delete env["RUNNER_JOURNAL"]
        spawn("sh", ["-c", command], { env, stdio: "ignore" }).on("close", resolve)
      })
    ))
    const after = Date.now()
    const log = fs.readFileSync(path.join(dir, ".runner", "schedule-cron.log"), "utf8")
    assert.include(["0,0", "0,75"], results.sort().join(","), log)
    const runs = runsOf(path.join(dir, ".runner", "journal.db"))
    assert.strictEqual(runs.length, 1, log)
    assert.deepInclude(runs[0], { status: "succeeded", trigger: "cli" })
    assert.include([kolkataMinute(before), kolkataMinute(after)], runs[0]!.run_key)
    assert.match(log, new RegExp(`run ${runs[0]!.id} succeeded in`))
    assert.strictEqual(lines(ticks).length, 1, "the job ran once")
  })

  it("explains a schedule with seconds instead of printing a line (exit 2 when nothing else is scheduled)", async () => {
    const [seconds, both] = await Promise.all([
      runnerAsync(["cron", fixture("every-second")]).done,
      runnerAsync(["cron", fixture("every-second"), fixture("schedule-cron")]).done
    ])
    assert.strictEqual(seconds.status, 2, seconds.stdout + seconds.stderr)
    assert.include(seconds.stdout, "# every-second (test/fixtures/every-second.ts): */1 * * * * * in UTC\n")
    assert.include(
      seconds.stdout,
      "# has a seconds field; cron runs at most once a minute: use `runner schedule test/fixtures/every-second.ts`"
    )
    assert.notMatch(seconds.stdout, /^CRON_TZ=/m, "no crontab line")
    assert.notMatch(seconds.stdout, /^[^#\n]/m, "only comments")
    assert.strictEqual(both.status, 0, both.stderr)
    assert.include(both.stdout, "has a seconds field")
    assert.include(both.stdout, "CRON_TZ=Asia/Kolkata\n*/5 * * * * ")
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("invalid schedules are exit-2 errors at load time, naming the file and line", () => {
  it("an invalid expression, an unknown time zone, an unknown catch-up mode", async () => {
    const expression =
      /^runner: test\/fixtures\/schedule-bad-expression\.ts:5:\d+: dag "bad-expression" schedule "61 \* \* \* \*": Expected a value between 0 and 59$/m
    const zone =
      /^runner: test\/fixtures\/schedule-bad-timezone\.ts:5:\d+: dag "bad-timezone" schedule "0 2 \* \* \*": .*time zone.*"Mars\/Olympus_Mons"$/m
    const catchUp =
      /^runner: test\/fixtures\/schedule-catchup\.ts:\d+:\d+: dag "schedule-catchup" catchUp: must be one of none, latest, all, got "sometimes"$/m
    const dir = tempDir()
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp, Record<string, string>?]> = [
      [[fixture("schedule-bad-expression")], expression],
      [["schedule", fixture("schedule-bad-expression")], expression],
      [["cron", fixture("schedule-bad-expression")], expression],
      [[fixture("schedule-bad-timezone")], zone],
      [["schedule", fixture("schedule-bad-timezone")], zone],
      [["schedule", "--list", fixture("schedule-bad-timezone")], zone],
      [["schedule", fixture("schedule-catchup")], catchUp, { CATCH_UP: "sometimes" }]
    ]
    const results = await Promise.all(cases.map(([args, , env], i) => {
      const journal = ["cron"].includes(args[0]!) ? [] : ["--journal", path.join(dir, `${i}.db`)]
      return runnerAsync([...args, ...journal], { TICKS: path.join(dir, "ticks"), ...env }).done
    }))
    results.forEach((result, i) => {
      const [args, message] = cases[i]!
      assert.strictEqual(result.status, 2, `${args.join(" ")}: ${result.stdout}${result.stderr}`)
      assert.match(result.stderr, message, args.join(" "))
      assert.notInclude(result.stdout, "next:", "nothing was scheduled")
      assert.isFalse(fs.existsSync(path.join(dir, `${i}.db`)), "no journal was opened")
    })
    assert.isFalse(fs.existsSync(path.join(dir, "ticks")))
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("runner schedule on Bun and Deno", () => {
  it("fires at least 2 every-second slots and stops on SIGTERM with exit 0", async () => {
    const smoke = async (runtime: RuntimeName) => {
      const dir = tempDir()
      const journal = path.join(dir, "j.db")
      const ticks = path.join(dir, "ticks")
      const daemon = start(["schedule", fixture("every-second"), "--journal", journal], { TICKS: ticks }, runtime)
      await waitFor(`2 ticks on ${runtime}`, daemon, () => lines(ticks).length >= 2)
      const stopped = await stop(daemon)
      assert.strictEqual(stopped.status, 0, `${runtime}: ${stopped.stdout}${stopped.stderr}`)
      assert.isBelow(stopped.elapsed, 5_000)
      const runs = runsOf(journal)
      assert.isAtLeast(runs.length, 2, runtime)
      assert.strictEqual(runs.length, lines(ticks).length, runtime)
      assertConsecutive(keysOf(runs), runtime)
      for (const run of runs) assert.deepInclude(run, { status: "succeeded", trigger: "schedule" })
    }
    await Promise.all([smoke("bun"), smoke("deno")])
  })
})
