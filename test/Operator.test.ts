/** The operator commands (history, show, logs, prune, doctor) on the real `runner`, against a real journal file. */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Duration from "effect/Duration"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, beforeAll, describe, it } from "vitest"
import effectPackage from "effect/package.json" with { type: "json" }
import { execFileSync } from "node:child_process"
import pkg from "../package.json" with { type: "json" }
import { parseAge } from "../src/internal/cli/prune.ts"
import { formatMillis } from "../src/internal/reporter/format.ts"
import * as migrations from "../src/internal/sql/migrations.ts"
import * as SqliteClient from "../src/internal/sql/SqliteClient.ts"
import { withDb } from "./support/db.ts"
import { root, runner } from "./support/spawn.ts"
import { requireTool } from "./support/tools.ts"

/** The journal's migrations, newest last: `[[1, "0001_journal"], ...]`. */
const allMigrations = Object.keys(migrations.all).map((name) => [Number(name.slice(0, 4)), name] as const)
const newest = allMigrations.at(-1)![0]
const schemaLine = `schema          version ${newest} (${allMigrations.map(([, name]) => name).join(", ")})`

const fixture = (name: string) => path.join(root, "test/fixtures", `${name}.ts`)
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "runner-operator-"))
const git = requireTool("git", "apt-get install git")

// A fixed zone with a half-hour offset, so local times are checked exactly on any machine.
const TZ = "Asia/Kolkata"
const local = (millis: number, withMillis = false) =>
  new Date(millis + 330 * 60_000).toISOString().slice(0, withMillis ? 23 : 19) + "+05:30"

interface RunRow {
  readonly id: string
  readonly dag: string
  readonly status: string
  readonly started_at: number
  readonly ended_at: number | null
  readonly host: string
  readonly pid: number
  readonly definition_hash: string
}
interface JobRow {
  readonly job_id: string
  readonly status: string
  readonly attempts: number
  readonly started_at: number | null
  readonly ended_at: number | null
  readonly error: string | null
  readonly reason: string | null
}

const runRow = (file: string, id: string) =>
  withDb(file, (db) => db.prepare("SELECT * FROM runs WHERE id = ?").get(id) as unknown as RunRow)
const jobRows = (file: string, id: string) =>
  withDb(file, (db) => db.prepare("SELECT * FROM jobs WHERE run_id = ? ORDER BY rowid").all(id) as unknown as Array<JobRow>)
const count = (file: string, table: string, runId: string) =>
  withDb(file, (db) => (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE run_id = ?`).get(runId) as { n: number }).n)

/** Runs a fixture into the journal and returns its run id. */
const runFixture = (name: string, journal: string, cwd: string, expectedStatus: number): string => {
  const result = runner([fixture(name), "--journal", journal], { cwd })
  assert.strictEqual(result.status, expectedStatus, result.stderr + result.stdout)
  const id = /^run (\d{8}-\d{6}-[0-9a-f]{6}) (?:succeeded|failed)/m.exec(result.stdout)?.[1]
  assert.isDefined(id, result.stdout)
  return id!
}

describe("operator commands on a journal with a succeeded and a failed run", () => {
  let dir: string
  let journal: string
  let okRun: string
  let failsRun: string
  const op = (args: ReadonlyArray<string>) => runner([...args, "--journal", journal], { cwd: dir, env: { TZ } })

  beforeAll(() => {
    dir = tempDir()
    journal = path.join(dir, "j.db")
    okRun = runFixture("ok", journal, dir, 0)
    failsRun = runFixture("fails", journal, dir, 1)
  })

  it("history lists the runs newest first: id, dag, key, status, trigger, local start, duration, jobs, failed jobs", () => {
    const result = op(["history"])
    assert.strictEqual(result.status, 0, result.stderr)
    const lines = result.stdout.trimEnd().split("\n")
    assert.strictEqual(lines.length, 3, result.stdout)
    assert.match(lines[0]!, /^run id\s+dag\s+key\s+status\s+trigger\s+start\s+duration\s+jobs\s+failed jobs$/)
    const fails = runRow(journal, failsRun)
    const ok = runRow(journal, okRun)
    const row = (r: RunRow, jobs: string, failed: string) =>
      new RegExp(
        `^${r.id}\\s+${r.dag}\\s+-\\s+${r.status}\\s+cli\\s+${local(r.started_at).replace("+", "\\+")}\\s+` +
          `${formatMillis(r.ended_at! - r.started_at)}\\s+${jobs}\\s+${failed}$`
      )
    assert.match(lines[1]!, row(fails, "4 jobs: 3 ran, 1 skipped", "broken, optional"))
    assert.match(lines[2]!, row(ok, "3 jobs: 3 ran", "-"))
  })

  it("history filters by DAG and honours --limit", () => {
    const onlyOk = op(["history", "ok"])
    assert.strictEqual(onlyOk.status, 0, onlyOk.stderr)
    assert.deepStrictEqual(onlyOk.stdout.trimEnd().split("\n").slice(1).map((l) => l.split(/\s+/)[0]), [okRun])
    const newest = op(["history", "--limit", "1"])
    assert.deepStrictEqual(newest.stdout.trimEnd().split("\n").slice(1).map((l) => l.split(/\s+/)[0]), [failsRun])
    const none = op(["history", "nope"])
    assert.strictEqual(none.status, 0)
    assert.strictEqual(none.stdout, `no runs of nope in ${journal}\n`)
    const zero = op(["history", "--limit", "0"])
    assert.strictEqual(zero.status, 2)
    assert.match(zero.stderr, /--limit: must be a whole number >= 1, got 0/)
  })

  it("history --json is one document with the documented fields", () => {
    const result = op(["history", "--json"])
    assert.strictEqual(result.status, 0, result.stderr)
    const doc = JSON.parse(result.stdout)
    const expected = (id: string, jobCounts: object, failedJobs: ReadonlyArray<string>) => {
      const r = runRow(journal, id)
      return {
        runId: id,
        dag: r.dag,
        key: null,
        status: r.status,
        trigger: "cli",
        startedAt: new Date(r.started_at).toISOString(),
        endedAt: new Date(r.ended_at!).toISOString(),
        durationMillis: r.ended_at! - r.started_at,
        wallClockMillis: r.ended_at! - r.started_at,
        executions: 1,
        jobCounts,
        failedJobs
      }
    }
    assert.deepStrictEqual(doc, {
      journal,
      runs: [
        expected(failsRun, { total: 4, ran: 3, cached: 0, skipped: 1 }, ["broken", "optional"]),
        expected(okRun, { total: 3, ran: 3, cached: 0, skipped: 0 }, [])
      ]
    })
  })

  it("show prints the run and each job, with the first line of an error and the skip reason", () => {
    const result = op(["show", failsRun])
    assert.strictEqual(result.status, 0, result.stderr)
    const r = runRow(journal, failsRun)
    const [head, jobs] = result.stdout.split("\n\n")
    assert.strictEqual(
      head,
      [
        `run ${failsRun}`,
        "  dag              fails",
        "  key              -",
        "  status           failed",
        "  trigger          cli",
        `  started          ${local(r.started_at)}`,
        `  ended            ${local(r.ended_at!)}`,
        `  duration         ${formatMillis(r.ended_at! - r.started_at)}`,
        "  jobs             4 jobs: 3 ran, 1 skipped",
        `  host             ${os.hostname()}`,
        `  pid              ${r.pid}`,
        `  runner version   ${pkg.version}`,
        `  definition hash  ${r.definition_hash}`
      ].join("\n")
    )
    const lines = jobs!.trimEnd().split("\n")
    assert.match(lines[0]!, /^job\s+status\s+attempts\s+duration\s+detail$/)
    assert.match(lines[1]!, /^ok\s+succeeded\s+1\s+\d+ms$/)
    assert.match(lines[2]!, /^broken\s+failed\s+1\s+\S+\s+ShellExitError: sh -c .* exited with code 4$/)
    assert.match(lines[3]!, /^optional\s+failed\s+1\s+\d+ms\s+optional failed$/)
    assert.match(lines[4]!, /^downstream\s+skipped\s+0\s+-\s+needs "optional", which failed$/)
    assert.strictEqual(lines.length, 5)
    assert.notInclude(result.stdout, "stderr (last lines)", "only the first line of an error in the table")
  })

  it.skipIf(git.skip)("show records who and what executed the run: user, host, pid, versions, task file, git commit", () => {
    const doc = JSON.parse(op(["show", okRun, "--json"]).stdout)
    const r = runRow(journal, okRun)
    const commit = execFileSync("git", ["-C", root, "rev-parse", "HEAD"], { encoding: "utf8" }).trim()
    const dirty = execFileSync("git", ["-C", root, "status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }) !== ""
    assert.strictEqual(doc.executions.length, 1)
    assert.deepInclude(doc.executions[0], {
      user: os.userInfo().username,
      host: os.hostname(),
      pid: r.pid,
      runnerVersion: pkg.version,
      effectVersion: effectPackage.version,
      taskFile: fixture("ok"),
      gitCommit: commit,
      gitDirty: dirty
    })
    assert.match(doc.executions[0].runtime, /^node 24\./)
    const text = op(["show", okRun]).stdout
    assert.match(text, new RegExp(`executed by:\\n  \\S+  ${os.userInfo().username}@\\S+ pid ${r.pid}: runner ${pkg.version}, effect ${effectPackage.version}, node 24[.\\d]*, \\S+ok\\.ts at commit ${commit.slice(0, 12)}`))
  })

  it("show --json has the run's facts and each job's full error or skip reason", () => {
    const result = op(["show", failsRun, "--json"])
    assert.strictEqual(result.status, 0, result.stderr)
    const doc = JSON.parse(result.stdout)
    const r = runRow(journal, failsRun)
    assert.deepStrictEqual(doc.run, {
      runId: failsRun,
      dag: "fails",
      key: null,
      status: "failed",
      trigger: "cli",
      startedAt: new Date(r.started_at).toISOString(),
      endedAt: new Date(r.ended_at!).toISOString(),
      durationMillis: r.ended_at! - r.started_at,
      wallClockMillis: r.ended_at! - r.started_at,
      host: os.hostname(),
      pid: r.pid,
      runnerVersion: pkg.version,
      definitionHash: r.definition_hash,
      jobCounts: { total: 4, ran: 3, cached: 0, skipped: 1 }
    })
    assert.strictEqual(doc.journal, journal)
    const iso = (ms: number | null) => ms === null ? null : new Date(ms).toISOString()
    assert.deepStrictEqual(
      doc.jobs,
      jobRows(journal, failsRun).map((j) => ({
        jobId: j.job_id,
        status: j.status,
        attempts: j.attempts,
        startedAt: iso(j.started_at),
        endedAt: iso(j.ended_at),
        durationMillis: j.started_at === null || j.ended_at === null ? null : j.ended_at - j.started_at,
        error: j.error,
        skipReason: j.reason,
        cachedFrom: null
      }))
    )
    const broken = doc.jobs.find((j: { jobId: string }) => j.jobId === "broken")
    assert.match(broken.error, /^ShellExitError: sh -c .* exited with code 4\n {2}stderr \(last lines\):\n {4}disk full$/)
    const downstream = doc.jobs.find((j: { jobId: string }) => j.jobId === "downstream")
    assert.deepInclude(downstream, { status: "skipped", attempts: 0, error: null, skipReason: 'needs "optional", which failed' })
  })

  it("logs prints the run's lines in order: local time, job#attempt, level, message", () => {
    const result = op(["logs", okRun])
    assert.strictEqual(result.status, 0, result.stderr)
    const at = withDb(journal, (db) =>
      (db.prepare("SELECT at FROM logs WHERE run_id = ? AND message = 'b got 1'").get(okRun) as { at: number }).at)
    assert.strictEqual(result.stdout, `${local(at, true)}  b#1  info  b got 1\n`)
    const json = JSON.parse(op(["logs", okRun, "--json"]).stdout)
    assert.deepStrictEqual(json, {
      journal,
      runId: okRun,
      jobId: null,
      lines: [{ time: new Date(at).toISOString(), jobId: "b", attempt: 1, level: "info", message: "b got 1" }]
    })
  })

  it("logs filters by job; a job without lines prints nothing; a job not in the run exits 2", () => {
    const broken = JSON.parse(op(["logs", failsRun, "broken", "--json"]).stdout)
    assert.deepStrictEqual(broken.lines.map((l: { jobId: string; level: string; message: string }) => [l.jobId, l.level, l.message]), [
      ["broken", "warn", "disk full"]
    ])
    const quiet = op(["logs", okRun, "a"])
    assert.strictEqual(quiet.status, 0, quiet.stderr)
    assert.strictEqual(quiet.stdout, "")
    assert.match(quiet.stderr, /no log lines for run \S+ job a/)
    const unknown = op(["logs", okRun, "nope"])
    assert.strictEqual(unknown.status, 2)
    assert.strictEqual(unknown.stderr, `runner: run ${okRun} has no job "nope"; its jobs: a, b, c\n`)
  })

  it("an unknown run id is named, exit 2", () => {
    for (const command of ["show", "logs"]) {
      const result = op([command, "20200101-000000-abcdef"])
      assert.strictEqual(result.status, 2, command)
      assert.strictEqual(result.stdout, "")
      assert.strictEqual(
        result.stderr,
        `runner: no run 20200101-000000-abcdef in ${journal} (runner history lists the runs)\n`
      )
    }
  })

  it("doctor: integrity ok, mode 0600, the settings, schema version, number of runs and locks; exit 0", () => {
    const text = op(["doctor"])
    assert.strictEqual(text.status, 0, text.stderr + text.stdout)
    assert.strictEqual(
      text.stdout,
      [
        `journal         ${journal}`,
        "integrity       ok",
        "file mode       0600",
        "journal_mode    wal",
        "synchronous     2 (FULL)",
        "busy_timeout    5000 ms",
        "foreign_keys    on",
        schemaLine,
        "runs            2",
        "locks           none held",
        ""
      ].join("\n")
    )
    const json = op(["doctor", "--json"])
    assert.strictEqual(json.status, 0)
    const doc = JSON.parse(json.stdout)
    assert.deepInclude(doc, {
      journal,
      ok: true,
      integrity: ["ok"],
      fileMode: "0600",
      fileModeOk: true,
      journalMode: "wal",
      synchronous: 2,
      busyTimeoutMillis: 5000,
      foreignKeys: true,
      schemaVersion: newest,
      migratedNow: [],
      runs: 2,
      backend: "sqlite",
      locks: []
    })
    assert.deepStrictEqual(doc.migrations.map((m: { id: number; name: string }) => [m.id, m.name]), allMigrations)
    assert.match(doc.migrations[0].appliedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)
  })
})

describe("a run whose jobs were cached (the same DAG run twice on one journal)", () => {
  let dir: string
  let journal: string
  let first: string
  let second: string
  let output: string
  const op = (args: ReadonlyArray<string>) => runner([...args, "--journal", journal], { cwd: dir, env: { TZ } })

  beforeAll(() => {
    dir = tempDir()
    journal = path.join(dir, "j.db")
    first = runFixture("cached", journal, dir, 0)
    const result = runner([fixture("cached"), "--journal", journal], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr + result.stdout)
    output = result.stdout
    second = /^run (\S+) succeeded/m.exec(output)![1]!
  })

  it("the plain output has a line for each cached job with the run it came from, and the summary says so", () => {
    const id = first.replace(/[-]/g, "\\-")
    assert.match(output, new RegExp(`^\\d\\d:\\d\\d:\\d\\d build ↺ cached \\(from run ${id}, \\d+s ago\\)$`, "m"))
    assert.match(output, new RegExp(`^\\d\\d:\\d\\d:\\d\\d report ↺ cached \\(from run ${id}, \\d+s ago\\)$`, "m"))
    assert.notMatch(output, /^\S+ (build|report) started$/m, "a cached job does not start")
    assert.match(output, /^\S+ stamp ✓ succeeded in \S+$/m)
    assert.match(output, new RegExp(`^build\\s+cached\\s+0\\s+\\S+\\s+-\\s+from run ${id}$`, "m"))
    assert.match(output, /^stamp\s+succeeded\s+1\s+\S+\s+-$/m)
    assert.match(output, new RegExp(`^run ${second} succeeded in \\S+ \\(2 of 3 jobs cached\\)$`, "m"))
  })

  it("history counts the jobs that ran and those cached", () => {
    const lines = op(["history"]).stdout.trimEnd().split("\n")
    assert.match(lines[1]!, new RegExp(`^${second}\\s.*\\s3 jobs: 1 ran, 2 cached\\s+-$`))
    assert.match(lines[2]!, new RegExp(`^${first}\\s.*\\s3 jobs: 3 ran\\s+-$`))
    const doc = JSON.parse(op(["history", "--json"]).stdout)
    assert.deepStrictEqual(doc.runs.map((r: { jobCounts: object }) => r.jobCounts), [
      { total: 3, ran: 1, cached: 2, skipped: 0 },
      { total: 3, ran: 3, cached: 0, skipped: 0 }
    ])
  })

  it("show gives each cached job's status and the run it came from, and the run's counts; --json too", () => {
    const text = op(["show", second]).stdout
    assert.match(text, /^ {2}jobs {13}3 jobs: 1 ran, 2 cached$/m)
    assert.match(text, new RegExp(`^build\\s+cached\\s+0\\s+\\S+\\s+from run ${first}$`, "m"))
    assert.match(text, new RegExp(`^report\\s+cached\\s+0\\s+\\S+\\s+from run ${first}$`, "m"))
    assert.match(text, /^stamp\s+succeeded\s+1\s+\S+$/m)
    const doc = JSON.parse(op(["show", second, "--json"]).stdout)
    assert.deepStrictEqual(doc.run.jobCounts, { total: 3, ran: 1, cached: 2, skipped: 0 })
    assert.deepStrictEqual(
      doc.jobs.map((j: { jobId: string; status: string; attempts: number; cachedFrom: string | null }) => [j.jobId, j.status, j.attempts, j.cachedFrom]),
      [["build", "cached", 0, first], ["report", "cached", 0, first], ["stamp", "succeeded", 1, null]]
    )
    const firstDoc = JSON.parse(op(["show", first, "--json"]).stdout)
    assert.deepStrictEqual(firstDoc.jobs.map((j: { cachedFrom: string | null }) => j.cachedFrom), [null, null, null])
  })
})

describe("operator commands never create a journal", () => {
  it.each([["history"], ["show", "20200101-000000-abcdef"], ["logs", "20200101-000000-abcdef"], ["prune", "--older-than", "30d"], ["doctor"]])(
    "%s on a missing journal says so and exits 2",
    (...args) => {
      const dir = tempDir()
      const missing = path.join(dir, "sub", "j.db")
      const result = runner([...args, "--journal", missing], { cwd: dir })
      assert.strictEqual(result.status, 2, result.stdout)
      assert.strictEqual(result.stdout, "")
      assert.strictEqual(
        result.stderr,
        `runner: no journal at ${missing} (nothing was created; choose the file with --journal PATH or RUNNER_JOURNAL)\n`
      )
      assert.isFalse(fs.existsSync(path.join(dir, "sub")), "neither the file nor its folder is created")
    }
  )

  it("RUNNER_JOURNAL and the default .runner/journal.db are looked up, not created", () => {
    const dir = tempDir()
    const viaEnv = runner(["history"], { cwd: dir, env: { RUNNER_JOURNAL: path.join(dir, "env.db") } })
    assert.strictEqual(viaEnv.status, 2)
    assert.include(viaEnv.stderr, `no journal at ${path.join(dir, "env.db")}`)
    if (process.env["RUNNER_JOURNAL"] === undefined) {
      const byDefault = runner(["history"], { cwd: dir })
      assert.strictEqual(byDefault.status, 2)
      assert.include(byDefault.stderr, "no journal at .runner/journal.db")
    }
    assert.deepStrictEqual(fs.readdirSync(dir), [])
  })
})

describe("doctor on an unhealthy or older journal", () => {
  it("a file that is not a database: integrity reports why, exit 2", () => {
    const dir = tempDir()
    const bad = path.join(dir, "bad.db")
    fs.writeFileSync(bad, "this is not a database, just text that is long enough to be read as a header\n".repeat(20), { mode: 0o600 })
    const result = runner(["doctor", "--journal", bad, "--json"], { cwd: dir })
    assert.strictEqual(result.status, 2, result.stderr)
    const doc = JSON.parse(result.stdout)
    assert.strictEqual(doc.ok, false)
    assert.match(doc.integrity[0], /^cannot open: .*file is not a database/)
    assert.strictEqual(doc.runs, null)
    const history = runner(["history", "--journal", bad], { cwd: dir })
    assert.strictEqual(history.status, 2)
    assert.match(history.stderr, /^runner: journal .*bad\.db: .*file is not a database/)
  })

  it("a journal of schema 1 with mode 0644 is migrated and reported: the mode found, the migration applied", async () => {
    const dir = tempDir()
    const old = path.join(dir, "old.db")
    await Effect.runPromise(
      Effect.provide(migrations.run(1), SqliteClient.layer({ filename: old, durability: "full" }))
    )
    fs.chmodSync(old, 0o644)
    const result = runner(["doctor", "--journal", old, "--json"], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr + result.stdout)
    assert.deepInclude(JSON.parse(result.stdout), {
      ok: true,
      fileMode: "0644",
      fileModeOk: false,
      schemaVersion: newest,
      migratedNow: allMigrations.slice(1).map(([, name]) => name),
      runs: 0
    })
    assert.strictEqual(fs.statSync(old).mode & 0o777, 0o600, "opening the journal restores 0600")
    const again = runner(["doctor", "--journal", old], { cwd: dir })
    assert.match(again.stdout, /^file mode {7}0600$/m)
    assert.include(again.stdout.split("\n"), schemaLine)
  })
})

describe("prune", () => {
  const day = 24 * 60 * 60 * 1000
  let dir: string
  let journal: string
  let older: string
  let recent: string

  beforeAll(() => {
    dir = tempDir()
    journal = path.join(dir, "p.db")
    older = runFixture("ok", journal, dir, 0)
    recent = runFixture("fails", journal, dir, 1)
    const now = Date.now()
    withDb(journal, (db) => {
      db.exec("PRAGMA foreign_keys = ON")
      // `older` finished three days ago; two runs from ten days ago must survive any prune: one still running, one
      // finished but locked by a process that is executing it again.
      db.prepare("UPDATE runs SET started_at = ?, ended_at = ? WHERE id = ?").run(now - 3 * day - 1000, now - 3 * day, older)
      const insert = db.prepare(
        `INSERT INTO runs (id, dag, run_key, status, started_at, ended_at, host, pid, runner_version, definition_hash, trigger)
         VALUES (?, 'ok', NULL, ?, ?, ?, 'h', 1, '0', 'x', 'cli')`
      )
      insert.run("20200101-000000-aaaaaa", "running", now - 10 * day, null)
      insert.run("20200101-000000-bbbbbb", "succeeded", now - 10 * day, now - 10 * day + 5)
      db.prepare("INSERT INTO locks (lock_key, run_id, pid, host, since, heartbeat_at) VALUES (?, ?, 1, 'h', ?, ?)")
        .run("run:20200101-000000-bbbbbb", "20200101-000000-bbbbbb", now, now)
    })
    assert.isAbove(count(journal, "logs", older), 0)
    assert.isAbove(count(journal, "attempts", older), 0)
  })

  const remaining = () => withDb(journal, (db) => (db.prepare("SELECT id FROM runs ORDER BY id").all() as Array<{ id: string }>).map((r) => r.id))

  it("deletes only finished runs that ended before now minus --older-than, with their jobs, attempts and logs", () => {
    const result = runner(["prune", "--older-than", "2d", "--journal", journal, "--json"], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr)
    const doc = JSON.parse(result.stdout)
    assert.deepInclude(doc, { journal, olderThan: "2d", deleted: 1, runIds: [older], kept: 2 })
    const cutoff = Date.parse(doc.cutoff)
    assert.approximately(cutoff, Date.now() - 2 * day, 60_000)
    assert.deepStrictEqual(remaining(), ["20200101-000000-aaaaaa", "20200101-000000-bbbbbb", recent].sort())
    for (const table of ["jobs", "attempts", "logs", "checkpoints"]) assert.strictEqual(count(journal, table, older), 0, table)
    assert.strictEqual(count(journal, "jobs", recent), 4)
  })

  it("a run that just finished is deleted only once it is older than the limit; running and locked runs never", () => {
    const notYet = runner(["prune", "--older-than", "1d", "--journal", journal], { cwd: dir })
    assert.strictEqual(notYet.status, 0, notYet.stderr)
    assert.match(notYet.stdout, /^deleted 0 runs that ended before \S+\nkept 2 older runs that are unfinished or locked\n$/)
    assert.include(remaining(), recent)
    const now = runner(["prune", "--older-than", "0d", "--journal", journal], { cwd: dir })
    assert.strictEqual(now.status, 0, now.stderr)
    assert.match(now.stdout, /^deleted 1 run that ended before /)
    assert.deepStrictEqual(remaining(), ["20200101-000000-aaaaaa", "20200101-000000-bbbbbb"])
    const again = JSON.parse(runner(["prune", "--older-than", "0d", "--journal", journal, "--json"], { cwd: dir }).stdout)
    assert.deepInclude(again, { deleted: 0, runIds: [], kept: 2 })
  })

  it("--older-than accepts 30d, 12h, 90m, 2w, 45s and Effect durations; rejects the rest with exit 2", () => {
    const millis = (s: string) => Option.map(parseAge(s), Duration.toMillis)
    assert.deepStrictEqual(millis("30d"), Option.some(30 * day))
    assert.deepStrictEqual(millis("12h"), Option.some(12 * 60 * 60_000))
    assert.deepStrictEqual(millis("90m"), Option.some(90 * 60_000))
    assert.deepStrictEqual(millis("2w"), Option.some(14 * day))
    assert.deepStrictEqual(millis("45s"), Option.some(45_000))
    assert.deepStrictEqual(millis("0d"), Option.some(0))
    assert.deepStrictEqual(millis("30 days"), Option.some(30 * day))
    assert.deepStrictEqual(millis("1 hour"), Option.some(60 * 60_000))
    for (const bad of ["30", "-1d", "-1 days", "bogus", "Infinity", "3 fortnights", ""]) {
      assert.isTrue(Option.isNone(parseAge(bad)), bad)
    }
    const result = runner(["prune", "--older-than", "soon", "--journal", journal], { cwd: dir })
    assert.strictEqual(result.status, 2)
    assert.strictEqual(result.stderr, `runner: --older-than: invalid duration "soon" (use e.g. 30d, 12h, 90m, 2w or "30 days")\n`)
    assert.strictEqual(runner(["prune", "--journal", journal], { cwd: dir }).status, 2, "--older-than is required")
  })
})
