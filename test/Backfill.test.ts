/**
 * `runner backfill` end to end: the real runner on task files written with the public API (`Partition`), a real
 * journal file, each job appending what it saw to a log file. What each slot ran is checked twice: in that log (a job
 * that ran twice appends twice) and in the journal's runs (one run per key). Timings only order things, with slack.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { type Result, runner, runnerAsync, type RuntimeName, waitUntil } from "./support/spawn.ts"
import { withDb } from "./support/db.ts"
import { runnerInProcess } from "./support/inProcess.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-backfill-")

const job = `
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { Dag, Job, Partition } from "effect-runner"

const log = process.env["SLOTS_LOG"] ?? "/dev/null"
const failing = (process.env["FAIL_KEYS"] ?? "").split(",")

export const load = Job.make("load", {
  run: () =>
    Effect.gen(function*() {
      const slot = yield* Partition.Partition
      if (failing.includes(slot.key)) return yield* Effect.fail("source down for " + slot.key)
      fs.appendFileSync(log, "start " + slot.key + "\\n")
      yield* Effect.sleep(slot.key === process.env["SLOW_KEY"] ? Number(process.env["SLOW_MS"]) : Number(process.env["SLOT_MS"] ?? 0))
      fs.appendFileSync(log, "done " + slot.key + " " + slot.start.toISOString() + " " + slot.end.toISOString() + "\\n")
      return slot.key
    })
})
`
const scheduledTask = job + `export default Dag.make("loads", [load], { schedule: "0 2 * * *", timezone: "America/New_York" })\n`
const unscheduledTask = job + `export default Dag.make("adhoc", [load])\n`

interface Setup {
  readonly file: string
  readonly journal: string
  readonly log: string
  /** Runs `runner <args> --journal J` to the end. */
  readonly run: (args: ReadonlyArray<string>, env?: Record<string, string>) => Result
  /** The log's lines of a kind ("start", "done"), by key. */
  readonly lines: (kind: string) => Array<string>
  /** Each key's runs in the journal, oldest first. */
  readonly runs: () => Map<string, Array<{ id: string; status: string; trigger: string }>>
}

const setup = (task: string, runtime: RuntimeName = "node"): Setup => {
  const dir = tempDir()
  const file = path.join(dir, "loads.ts")
  fs.writeFileSync(file, task)
  const journal = path.join(dir, "journal.db")
  const log = path.join(dir, "slots.log")
  return {
    file,
    journal,
    log,
    run: (args, env = {}) => runner([...args, "--journal", journal], { runtime, env: { SLOTS_LOG: log, ...env } }),
    lines: (kind) =>
      fs.existsSync(log)
        ? fs.readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith(`${kind} `)).map((l) => l.slice(kind.length + 1))
        : [],
    runs: () =>
      withDb(journal, (db) => {
        const rows = db.prepare("SELECT id, run_key, status, trigger FROM runs ORDER BY started_at, rowid").all() as Array<
          { id: string; run_key: string; status: string; trigger: string }
        >
        const byKey = new Map<string, Array<{ id: string; status: string; trigger: string }>>()
        for (const row of rows) byKey.set(row.run_key, [...(byKey.get(row.run_key) ?? []), { id: row.id, status: row.status, trigger: row.trigger }])
        return byKey
      })
  }
}

const keysOf = (lines: ReadonlyArray<string>) => lines.map((l) => l.split(" ")[0]!)
const count = (keys: ReadonlyArray<string>) => {
  const counts = new Map<string, number>()
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1)
  return counts
}
const backfillId = (journal: string): string =>
  withDb(journal, (db) => (db.prepare("SELECT id FROM backfills ORDER BY created_at DESC LIMIT 1").get() as { id: string }).id)
const slotStates = (journal: string, id: string) =>
  withDb(journal, (db) =>
    Object.fromEntries(
      (db.prepare("SELECT slot_key, state FROM backfill_slots WHERE backfill_id = ?").all(id) as Array<{ slot_key: string; state: string }>)
        .map((r) => [r.slot_key, r.state])
    ))
const days = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `2026-01-${String(from + i).padStart(2, "0")}T02:00`)

describe.each<RuntimeName>(["node", "bun", "deno"])("runner backfill on %s", (runtime) => {
  it("dry-run lists each slot; a keyed run's success is skipped; a failing slot exits 1 with the summary; the same command again runs only it", () => {
    const s = setup(scheduledTask, runtime)
    // A keyed run of a slot gets its Partition: 02:00 in New York is 07:00Z in January.
    const keyed = s.run([s.file, "--key", "2026-01-02T02:00"])
    assert.strictEqual(keyed.status, 0, keyed.stdout + keyed.stderr)
    assert.deepStrictEqual(s.lines("done"), ["2026-01-02T02:00 2026-01-02T07:00:00.000Z 2026-01-03T07:00:00.000Z"])
    const keyedRun = s.runs().get("2026-01-02T02:00")![0]!.id

    const range = ["backfill", s.file, "--from", "2026-01-01", "--to", "2026-01-05"]
    const dry = s.run([...range, "--dry-run"])
    assert.strictEqual(dry.status, 0, dry.stdout + dry.stderr)
    assert.match(dry.stdout, /^backfill of loads: 4 slots of schedule "0 2 \* \* \*" in America\/New_York in \[2026-01-01, 2026-01-05\)/)
    assert.include(dry.stdout, [
      "  2026-01-01T02:00  run",
      `  2026-01-02T02:00  skip: succeeded in run ${keyedRun}`,
      "  2026-01-03T02:00  run",
      "  2026-01-04T02:00  run",
      "would run 3 slots, skip 1"
    ].join("\n"))
    assert.strictEqual(s.lines("done").length, 1, "a dry run runs nothing")

    const failed = s.run(range, { FAIL_KEYS: "2026-01-03T02:00" })
    assert.strictEqual(failed.status, 1, failed.stdout + failed.stderr)
    assert.strictEqual(failed.stderr, "", "the summary on stdout says why")
    const failedRun = s.runs().get("2026-01-03T02:00")![0]!.id
    assert.match(failed.stdout, /backfill bf-\S+ of loads failed: 4 slots: 2 succeeded, 1 skipped, 1 failed\n/)
    assert.include(failed.stdout, `failed slots:\n  2026-01-03T02:00  run ${failedRun} failed`)
    const dryAgain = s.run([...range, "--dry-run"]).stdout
    assert.include(dryAgain, `  2026-01-03T02:00  run again: failed in run ${failedRun}`)
    assert.match(dryAgain, /\(the same command continues backfill bf-\S+, failed: 3 of 4 slots done\)/)

    const again = s.run(range)
    assert.strictEqual(again.status, 0, again.stdout + again.stderr)
    assert.match(again.stdout, /continuing \(failed\): 3 of 4 slots done, 1 to go/)
    assert.match(again.stdout, /of loads succeeded: 4 slots: 3 succeeded, 1 skipped, 0 failed/)
    // Every slot ran once, each with its own partition; the failed slot's run was resumed, not doubled.
    assert.deepStrictEqual([...count(keysOf(s.lines("done"))).entries()].sort(), days(1, 5).map((k) => [k, 1]))
    assert.include(s.lines("done"), "2026-01-04T02:00 2026-01-04T07:00:00.000Z 2026-01-05T07:00:00.000Z")
    const runs = s.runs()
    for (const key of days(1, 5)) assert.strictEqual(runs.get(key)?.length, 1, key)
    assert.deepStrictEqual(runs.get("2026-01-03T02:00"), [{ id: failedRun, status: "succeeded", trigger: "backfill" }])
  })
})

describe("runner backfill: resume, cancel, filling, order, the same slot twice", () => {
  // On Node: a backfill's resume is journal state, the same on every runtime (a run's resume after a kill -9 is
  // checked on each runtime in CacheCli.test.ts).
  it("kill -9 mid-backfill (on node), then resume: every slot runs, none twice", async () => {
    const s = setup(scheduledTask)
    const child = runnerAsync(
      ["backfill", s.file, "--from", "2026-01-01", "--to", "2026-01-07", "--max-active", "2", "--journal", s.journal],
      { SLOTS_LOG: s.log, SLOT_MS: "800" }
    )
    await waitUntil(() => s.lines("done").length >= 2)
    // Past the finished slots' commits, inside the next two slots' sleep.
    await new Promise((resolve) => setTimeout(resolve, 250))
    child.process.kill("SIGKILL")
    await child.done
    const id = backfillId(s.journal)
    const done = s.lines("done").length
    assert.isBelow(done, 6, "killed before the end")
    const status = s.run(["backfill", "status"])
    assert.match(status.stdout, new RegExp(`${id} .*stopped \\(its process is gone; resume it\\)`))

    const resumed = s.run(["backfill", "resume", id], { SLOT_MS: "10" })
    assert.strictEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
    assert.match(resumed.stdout, /continuing \(running\)/)
    assert.deepStrictEqual([...count(keysOf(s.lines("done"))).entries()].sort(), days(1, 7).map((k) => [k, 1]))
    const runs = s.runs()
    for (const key of days(1, 7)) assert.deepStrictEqual(runs.get(key)?.map((r) => r.status), ["succeeded"], key)
    assert.isTrue(Object.values(slotStates(s.journal, id)).every((state) => state === "succeeded"))
  })

  it("cancel stops starting slots and interrupts the running ones; resume finishes the rest, none twice", async () => {
    const s = setup(scheduledTask)
    const child = runnerAsync(
      ["backfill", s.file, "--from", "2026-01-01", "--to", "2026-01-07", "--max-active", "2", "--journal", s.journal],
      { SLOTS_LOG: s.log, SLOT_MS: "5000" }
    )
    await waitUntil(() => s.lines("start").length >= 2)
    const id = backfillId(s.journal)
    const cancel = s.run(["backfill", "cancel", id])
    assert.strictEqual(cancel.status, 0, cancel.stdout + cancel.stderr)
    assert.match(cancel.stdout, new RegExp(`backfill ${id}: cancelled`))
    const ended = await child.done
    assert.strictEqual(ended.status, 1, ended.stdout + ended.stderr)
    assert.match(ended.stdout, /of loads cancelled: 6 slots: 0 succeeded, 0 skipped, 0 failed, 2 interrupted, 4 not started/)
    assert.deepStrictEqual(s.lines("done"), [])
    const states = slotStates(s.journal, id)
    assert.deepStrictEqual(Object.values(states).sort(), ["interrupted", "interrupted", "pending", "pending", "pending", "pending"])
    const status = s.run(["backfill", "status", id]).stdout
    assert.match(status, new RegExp(`backfill ${id} of loads .*: cancelled`))
    assert.match(status, /\n  started \S+ by \S+@\S+ \(pid \d+\)/, "who started it")
    assert.match(status, /2026-01-01T02:00 +interrupted +\d{8}-\d{6}-[0-9a-f]+ +run \S+ interrupted/, "with the run it interrupted")

    const resumed = s.run(["backfill", "resume", id], { SLOT_MS: "10" })
    assert.strictEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
    assert.deepStrictEqual([...count(keysOf(s.lines("done"))).entries()].sort(), days(1, 7).map((k) => [k, 1]))
    for (const [key, runs] of s.runs()) assert.strictEqual(runs.length, 1, `${key}: the interrupted run was resumed`)
  })

  it("SIGTERM stops it like the scheduler: no new slot, the running one finishes within --grace, exit 130; resume continues", async () => {
    const s = setup(scheduledTask)
    const child = runnerAsync(
      ["backfill", s.file, "--from", "2026-01-01", "--to", "2026-01-05", "--grace", "30s", "--journal", s.journal],
      { SLOTS_LOG: s.log, SLOT_MS: "1500" }
    )
    await waitUntil(() => s.lines("start").length >= 1)
    child.process.kill("SIGTERM")
    const ended = await child.done
    assert.strictEqual(ended.status, 130, ended.stdout + ended.stderr)
    assert.match(ended.stdout, /stopping: no more slots start; waiting up to 30s for the 1 running/)
    assert.match(ended.stdout, /of loads interrupted: 4 slots: 1 succeeded, 0 skipped, 0 failed, 3 not started/)
    assert.deepStrictEqual(keysOf(s.lines("done")), ["2026-01-01T02:00"], "the running slot finished")
    const id = backfillId(s.journal)
    const resumed = s.run(["backfill", s.file, "--from", "2026-01-01", "--to", "2026-01-05"], { SLOT_MS: "10" })
    assert.strictEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
    assert.include(resumed.stdout, `backfill ${id}: continuing (interrupted): 1 of 4 slots done, 3 to go`)
    assert.deepStrictEqual(keysOf(s.lines("done")), days(1, 5))
  })

  it("--log-format pretty: the slots' lines scroll above a live status line (done / total, running slots, failed, ETA), cleared at the end", () => {
    const s = setup(scheduledTask)
    const result = s.run(["backfill", s.file, "--from", "2026-01-01", "--to", "2026-01-04", "--log-format", "pretty"], {
      FAIL_KEYS: "2026-01-02T02:00"
    })
    assert.strictEqual(result.status, 1, result.stdout + result.stderr)
    const clear = "\u001b[2K"
    // The status line is drawn (after a clear, ending with a carriage return) as slots start and end.
    assert.match(result.stdout, /\u001b\[2Kbackfill 0\/3 slots done · running 2026-01-01T02:00 · 0 failed\r/)
    assert.match(result.stdout, /\u001b\[2Kbackfill 1\/3 slots done · running 2026-01-02T02:00 · 0 failed · ETA \S+\r/)
    assert.match(result.stdout, /\u001b\[2Kbackfill 3\/3 slots done · 1 failed\r/)
    // Each slot's line is written over it, and it is drawn again below.
    assert.include(result.stdout, `${clear}`)
    // At the end it is cleared: the summary is plain lines.
    assert.match(result.stdout, /\u001b\[2K[^\r]*backfill bf-\S+ of loads failed: 3 slots: 2 succeeded, 0 skipped, 1 failed\n/)
    assert.notMatch(result.stdout.split("failed slots:")[1] ?? "", /slots done/)
    // Not the plain mode's progress lines: the status line replaces them.
    assert.notMatch(result.stdout, /: \d+\/3 slots done, /)
  })

  it("--max-active fills a freed place at once: one slow slot never idles the others; --order desc starts newest first", () => {
    const s = setup(scheduledTask)
    const started = Date.now()
    const filled = s.run(["backfill", s.file, "--from", "2026-01-01", "--to", "2026-01-06", "--max-active", "2"], {
      SLOW_KEY: "2026-01-01T02:00",
      SLOW_MS: "4000",
      SLOT_MS: "50"
    })
    assert.strictEqual(filled.status, 0, filled.stdout + filled.stderr)
    // The four fast slots went through the other place while the slow one ran.
    assert.deepStrictEqual(keysOf(s.lines("done")), [...days(2, 6), "2026-01-01T02:00"])
    assert.isBelow(Date.now() - started, 4000 + 15_000)

    const t = setup(scheduledTask)
    const desc = t.run(["backfill", t.file, "--from", "2026-01-01", "--to", "2026-01-05", "--order", "desc"])
    assert.strictEqual(desc.status, 0, desc.stdout + desc.stderr)
    assert.deepStrictEqual(keysOf(t.lines("start")), days(1, 5).reverse())
  })

  it("a slot being run by another process (a cron line's keyed run) is waited for, then skipped: one run", async () => {
    const s = setup(scheduledTask)
    const keyed = runnerAsync([s.file, "--key", "2026-01-01T02:00", "--journal", s.journal], {
      SLOTS_LOG: s.log,
      SLOW_KEY: "2026-01-01T02:00",
      SLOW_MS: "2500"
    })
    await waitUntil(() => s.lines("start").length >= 1)
    const backfill = s.run(["backfill", s.file, "--from", "2026-01-01", "--to", "2026-01-03"])
    assert.strictEqual((await keyed.done).status, 0)
    assert.strictEqual(backfill.status, 0, backfill.stdout + backfill.stderr)
    const keyedRun = s.runs().get("2026-01-01T02:00")!
    assert.deepStrictEqual(keyedRun.map((r) => r.trigger), ["cli"])
    assert.include(backfill.stdout, `slot 2026-01-01T02:00: skip: succeeded in run ${keyedRun[0]!.id}`)
    assert.deepStrictEqual(keysOf(s.lines("done")), ["2026-01-01T02:00", "2026-01-02T02:00"])
  })
})

describe("runner backfill beside runner schedule", () => {
  it("the scheduler and a backfill on the same slot: one run", async () => {
    const s = setup(job.replace("process.env[\"SLOT_MS\"] ?? 0", "process.env[\"SLOT_MS\"] ?? 1500") +
      `export default Dag.make("ticks", [load], { schedule: "*/2 * * * * *", timezone: "UTC" })\n`)
    const scheduler = runnerAsync(["schedule", s.file, "--journal", s.journal], { SLOTS_LOG: s.log })
    try {
      await waitUntil(() => s.lines("start").length >= 1, 30_000)
      const slot = s.lines("start")[0]!
      const next = new Date(Date.parse(`${slot}Z`) + 1000).toISOString().slice(0, 19)
      // While the scheduler runs the slot, a backfill of it waits for the slot's key, then finds it done.
      const backfill = s.run(["backfill", s.file, "--from", `${slot}Z`, "--to", `${next}Z`], { SLOT_MS: "0" })
      assert.strictEqual(backfill.status, 0, backfill.stdout + backfill.stderr)
      assert.match(backfill.stdout, new RegExp(`slot ${slot}: skip: succeeded in run \\S+`))
      assert.deepStrictEqual(s.runs().get(slot)?.map((r) => [r.status, r.trigger]), [["succeeded", "schedule"]])
      assert.strictEqual(s.lines("done").filter((l) => l.startsWith(`${slot} `)).length, 1)
    } finally {
      scheduler.process.kill("SIGTERM")
      await scheduler.done
    }
  })
})

describe("runner backfill: --every, reprocess modes, bad input", () => {
  it("--every 1d gives a DAG without schedule day keys and partitions; --reprocess all runs them again, failed none", () => {
    const s = setup(unscheduledTask)
    const range = ["backfill", s.file, "--from", "2026-01-01", "--to", "2026-01-03", "--every", "1d", "--timezone", "Europe/Berlin"]
    const first = s.run(range)
    assert.strictEqual(first.status, 0, first.stdout + first.stderr)
    assert.deepStrictEqual(s.lines("done"), [
      "2026-01-01 2025-12-31T23:00:00.000Z 2026-01-01T23:00:00.000Z",
      "2026-01-02 2026-01-01T23:00:00.000Z 2026-01-02T23:00:00.000Z"
    ])
    const failedOnly = s.run([...range, "--reprocess", "failed", "--dry-run"])
    assert.match(failedOnly.stdout, /2026-01-01  skip: succeeded in run \S+\n  2026-01-02  skip: succeeded in run \S+\nwould run 0 slots, skip 2/)
    const all = s.run([...range, "--reprocess", "all"])
    assert.strictEqual(all.status, 0, all.stdout + all.stderr)
    assert.strictEqual(s.lines("done").length, 4)
    for (const [, runs] of s.runs()) assert.deepStrictEqual(runs.map((r) => r.status), ["succeeded", "succeeded"])
    // --every 1h keys hours.
    const hourly = s.run(["backfill", s.file, "--from", "2026-01-01T05", "--to", "2026-01-01T07", "--every", "1h", "--timezone", "UTC", "--dry-run"])
    assert.include(hourly.stdout, "  2026-01-01T05  run\n  2026-01-01T06  run\n")
  })

  it("exits 2 naming the problem: from after to, --every against a schedule, no --every, an unknown zone, too many slots", async () => {
    const scheduled = setup(scheduledTask)
    const unscheduled = setup(unscheduledTask)
    const cases: ReadonlyArray<readonly [Setup, ReadonlyArray<string>, RegExp]> = [
      [scheduled, ["--from", "2026-02-01", "--to", "2026-01-01"], /^runner: --from: 2026-02-01 is after --to 2026-01-01/],
      [scheduled, ["--from", "2026-01-01", "--to", "2026-13-01"], /^runner: --to: "2026-13-01" is not a valid date/],
      [scheduled, ["--from", "2026-01-01", "--to", "2026-01-05", "--every", "1h"], /disagrees with dag "loads"'s schedule .*: the schedule wins/],
      [scheduled, ["--to", "2026-01-05"], /^runner: --from: is required/],
      [unscheduled, ["--from", "2026-01-01", "--to", "2026-01-05"], /^runner: --every: dag "adhoc" has no schedule/],
      [unscheduled, ["--from", "2026-01-01", "--to", "2026-01-05", "--every", "1d", "--timezone", "Mars/Olympus"], /unknown time zone "Mars\/Olympus"/],
      [unscheduled, ["--from", "2026-01-01", "--to", "2026-01-09", "--every", "* * * * *"], /^runner: --yes: the range has 11,520 slots .* more than 10,000: pass --yes/]
    ]
    // The first case spawns the runner; the others go through the CLI's `main` in this process (the same parsing,
    // checks, messages and exit code, a runtime's start-up less per case).
    for (const [n, [s, args, expected]] of cases.entries()) {
      const argv = ["backfill", s.file, ...args]
      const result = n === 0 ? s.run(argv) : await runnerInProcess([...argv, "--journal", s.journal], { SLOTS_LOG: s.log })
      assert.strictEqual(result.status, 2, `${args.join(" ")}: ${result.stdout}${result.stderr}`)
      assert.match(result.stderr, expected)
    }
    assert.isFalse(fs.existsSync(scheduled.log) || fs.existsSync(unscheduled.log), "nothing ran")
  })
})
