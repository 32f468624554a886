/**
 * The commands that read the journal beyond runs — `runner doctor`, `runner backfill` (status, cancel, resume) and
 * `runner ui` / `--ui` — on a postgres:// journal, through the real CLI, each database checked with psql as a second
 * opinion. Needs a PostgreSQL server (test/support/postgres.ts): skipped with one line without one, unless CI is set.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as SqlClient from "effect/sql/SqlClient"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Redacted from "effect/Redacted"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import * as JournalClient from "../src/internal/sql/JournalClient.ts"
import * as migrations from "../src/internal/sql/migrations.ts"
import * as pgMigrations from "../src/internal/sql/pgMigrations.ts"
import { databases, psql, requirePostgres } from "./support/postgres.ts"
import { type Result, runner, runnerAsync, waitUntil } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"
import { readEvents, startUi } from "./support/ui.ts"

const pg = requirePostgres()
const database = databases()
const tempDir = tempDirs("runner-pgc-")

const secret = "s3cr3t-pw"
const withPassword = (url: string) => url.replace("postgres://postgres@", `postgres://postgres:${secret}@`)
const shown = (url: string) => withPassword(url).replace(secret, "***")
const names = Object.keys(migrations.all)
const latest = names.length

const get = async (url: string) => {
  const response = await fetch(url, { redirect: "manual" })
  return { status: response.status, type: response.headers.get("content-type") ?? "", body: await response.text() }
}

describe.skipIf(pg.skip)("on a postgres:// journal", () => {
  describe("runner doctor", () => {
    it("reports the connection, server, durability settings, schema, runs, locks (one stale) and table sizes; exit 0; never the password", () => {
      const { name, url } = database()
      const journal = withPassword(url)
      const failed = runner(["test/fixtures/pg-flaky.ts", "--journal", journal], { env: { PG_FLAKY_FAIL: "1" } })
      assert.strictEqual(failed.status, 1, failed.stderr)
      // A runner killed long ago left its lock: its heartbeat is 10 minutes old, past the 60 s staleness window.
      const old = Date.now() - 600_000
      psql(name, `INSERT INTO locks (lock_key, run_id, pid, host, since, heartbeat_at)
                  VALUES ('key:gone:k', 'gone-run', 4242, 'elsewhere', ${old}, ${old})`)
      const text = runner(["doctor", "--journal", journal])
      assert.strictEqual(text.status, 0, text.stdout + text.stderr)
      const lines = text.stdout.split("\n")
      assert.strictEqual(lines[0], `journal         ${shown(url)}`)
      assert.strictEqual(lines[1], "connection      ok")
      const version = psql(name, "SHOW server_version").trim()
      assert.strictEqual(lines[2], `server          PostgreSQL ${version}`)
      assert.strictEqual(lines[3], `fsync           ${psql(name, "SHOW fsync").trim()}`)
      assert.match(lines[4]!, new RegExp(`^sync commit     ${psql(name, "SHOW synchronous_commit").trim()}`))
      assert.match(lines[5]!, /^database size   \d+(\.\d)? (B|kB|MB)$/)
      assert.include(lines, `schema          version ${latest} (${names.join(", ")})`)
      assert.include(lines, "runs            1")
      assert.include(lines, "locks           1 held (1 stale: taken over by the next run of its key)")
      assert.match(text.stdout, /^ {16}key:gone:k: run gone-run, pid 4242 on elsewhere, heartbeat \d+m\d*s? ago \(stale\)$/m)
      assert.match(text.stdout, /^tables          .*\bruns \d+ kB\b.*\bjobs \d+ kB\b/m)
      assert.match(text.stdout, /^not checked     integrity_check, file mode, journal_mode, synchronous, busy_timeout, foreign_keys \(SQLite's own\)$/m)
      assert.notInclude(text.stdout + text.stderr, secret)

      const json = runner(["doctor", "--json", "--journal", journal])
      assert.strictEqual(json.status, 0, json.stderr)
      assert.notInclude(json.stdout, secret)
      const doc = JSON.parse(json.stdout)
      assert.deepInclude(doc, {
        journal: shown(url),
        backend: "postgres",
        ok: true,
        connection: ["ok"],
        serverVersion: version,
        schemaVersion: latest,
        migratedNow: [],
        runs: 1
      })
      assert.deepStrictEqual(doc.migrations.map((m: { name: string }) => m.name), names)
      assert.match(doc.migrations[0].appliedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
      assert.deepStrictEqual(doc.locks.map((l: { lockKey: string; stale: boolean; pid: number }) => [l.lockKey, l.stale, l.pid]), [
        ["key:gone:k", true, 4242]
      ])
      const tables = new Map(doc.tables.map((t: { table: string; bytes: number }) => [t.table, t.bytes]))
      for (const table of ["runs", "jobs", "attempts", "logs", "locks", "backfills"]) assert.isAbove(tables.get(table) as number, 0, table)
      assert.isAbove(doc.databaseBytes, 0)
      assert.include(doc.notChecked, "integrity_check")
    }, 60_000)

    it("a journal of schema 5 is migrated and says so; an unreachable database exits 2 naming why, password hidden", async () => {
      const { url } = database()
      await Effect.runPromise(
        pgMigrations.run(5).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) })), Effect.provide(Reactivity.layer))
      )
      const migrated = runner(["doctor", "--json", "--journal", url])
      assert.strictEqual(migrated.status, 0, migrated.stderr)
      assert.deepInclude(JSON.parse(migrated.stdout), { ok: true, schemaVersion: latest, migratedNow: names.slice(5), runs: 0 })
      const again = runner(["doctor", "--journal", url])
      assert.include(again.stdout.split("\n"), `schema          version ${latest} (${names.join(", ")})`)

      const missing = withPassword(url).replace(/\/[^/]+$/, "/runner_no_such_db")
      for (const args of [["doctor"], ["doctor", "--json"]]) {
        const result = runner([...args, "--journal", missing])
        assert.strictEqual(result.status, 2, result.stdout + result.stderr)
        assert.notInclude(result.stdout + result.stderr, secret)
        if (args.length === 1) {
          assert.match(result.stdout, /^connection {6}cannot connect: .*runner_no_such_db/m)
          assert.match(result.stdout, /^schema {10}unknown$/m)
        } else {
          const doc = JSON.parse(result.stdout)
          assert.strictEqual(doc.ok, false)
          assert.match(doc.connection[0], /^cannot connect: .*"runner_no_such_db" does not exist/)
          assert.strictEqual(doc.journal, missing.replace(secret, "***"))
          assert.isNull(doc.runs)
        }
      }
    }, 60_000)
  })

  describe("runner backfill", () => {
    const task = `
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as SqlClient from "effect/sql/SqlClient"
import * as fs from "node:fs"
import { Dag, Job, Partition } from "effect-runner"

export const load = Job.make("load", {
  run: () =>
    Effect.gen(function*() {
      const slot = yield* Partition.Partition
      fs.appendFileSync(process.env["SLOTS_LOG"]!, "start " + slot.key + "\\n")
      yield* Effect.sleep(Number(process.env["SLOT_MS"] ?? 0))
      fs.appendFileSync(process.env["SLOTS_LOG"]!, "done " + slot.key + "\\n")
      return slot.key
    })
})
export default Dag.make("loads", [load], { schedule: "0 2 * * *", timezone: "UTC" })
`
    const keys = ["2026-01-01T02:00", "2026-01-02T02:00", "2026-01-03T02:00"]

    const setup = () => {
      const dir = tempDir()
      const file = path.join(dir, "loads.ts")
      fs.writeFileSync(file, task)
      const log = path.join(dir, "slots.log")
      const { name, url } = database()
      const lines = (kind: string) =>
        fs.existsSync(log)
          ? fs.readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith(`${kind} `)).map((l) => l.slice(kind.length + 1))
          : []
      const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Result =>
        runner([...args, "--journal", url], { env: { SLOTS_LOG: log, ...env } })
      const start = (env: Record<string, string>) =>
        runnerAsync(["backfill", file, "--from", "2026-01-01", "--to", "2026-01-04", "--journal", url], { SLOTS_LOG: log, ...env })
      const query = (sql: string) => psql(name, sql).trim().split("\n").filter((l) => l !== "")
      return { file, url, lines, run, start, query }
    }

    it("3 slots: kill -9 mid-slot, status says its process is gone, resume runs the rest, no slot twice", async () => {
      const s = setup()
      const dry = s.run(["backfill", s.file, "--from", "2026-01-01", "--to", "2026-01-04", "--dry-run"])
      assert.strictEqual(dry.status, 0, dry.stderr)
      assert.include(dry.stdout, keys.map((k) => `  ${k}  run`).join("\n") + "\nwould run 3 slots, skip 0")
      const child = s.start({ SLOT_MS: "1500" })
      // The first slot is done (its success committed) and the second is running.
      await waitUntil(() => s.lines("done").length >= 1 && s.lines("start").length >= 2, 30_000)
      child.process.kill("SIGKILL")
      await child.done
      assert.deepStrictEqual(s.lines("done"), [keys[0]], "killed inside the second slot")
      const [id] = s.query("SELECT id FROM backfills")
      assert.deepStrictEqual(s.query("SELECT slot_key, state FROM backfill_slots ORDER BY position"), [
        `${keys[0]}|succeeded`,
        `${keys[1]}|running`,
        `${keys[2]}|pending`
      ])
      const status = s.run(["backfill", "status"])
      assert.strictEqual(status.status, 0, status.stderr)
      assert.match(status.stdout, new RegExp(`${id} +loads .*stopped \\(its process is gone; resume it\\) +1/3`))

      const resumed = s.run(["backfill", "resume", id!], { SLOT_MS: "10" })
      assert.strictEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
      assert.match(resumed.stdout, /continuing \(running\): 1 of 3 slots done, 2 to go/)
      assert.match(resumed.stdout, new RegExp(`backfill ${id} of loads succeeded: 3 slots: 3 succeeded, 0 skipped, 0 failed`))
      assert.deepStrictEqual([...s.lines("done")].sort(), keys, "each slot done once")
      // One run per slot: the killed slot's run was resumed under its key, not started again.
      assert.deepStrictEqual(s.query("SELECT run_key, status, trigger FROM runs ORDER BY run_key"), keys.map((k) => `${k}|succeeded|backfill`))
      assert.deepStrictEqual(s.query("SELECT state FROM backfill_slots"), ["succeeded", "succeeded", "succeeded"])
      assert.deepStrictEqual(s.query("SELECT state, ended_at IS NOT NULL FROM backfills"), ["succeeded|t"])

      const one = s.run(["backfill", "status", id!, "--json"])
      assert.strictEqual(one.status, 0, one.stderr)
      const doc = JSON.parse(one.stdout)
      assert.deepStrictEqual(doc.slots.map((slot: { key: string; state: string }) => `${slot.key}:${slot.state}`), keys.map((k) => `${k}:succeeded`))
      const nothing = s.run(["backfill", "cancel", id!])
      assert.strictEqual(nothing.status, 0, nothing.stderr)
      assert.include(nothing.stdout, `backfill ${id} is not running (succeeded); nothing to cancel`)
      const again = s.run(["backfill", s.file, "--from", "2026-01-01", "--to", "2026-01-04", "--dry-run"])
      assert.include(again.stdout, "would run 0 slots, skip 3")
    }, 90_000)

    it("cancel stops a running backfill (its process polls the journal); resume finishes it", async () => {
      const s = setup()
      // Long enough that the first slot is still running when the cancel arrives, however loaded the machine.
      const child = s.start({ SLOT_MS: "30000" })
      await waitUntil(() => s.lines("start").length >= 1, 30_000)
      const [id] = s.query("SELECT id FROM backfills")
      const cancel = s.run(["backfill", "cancel", id!])
      assert.strictEqual(cancel.status, 0, cancel.stdout + cancel.stderr)
      assert.include(cancel.stdout, `backfill ${id}: asked pid ${child.process.pid} on ${os.hostname()} to stop`)
      assert.include(cancel.stdout, `backfill ${id}: cancelled`)
      const stopped = await child.done
      assert.notStrictEqual(stopped.status, 0)
      assert.deepStrictEqual(s.query("SELECT state FROM backfills"), ["cancelled"])
      assert.deepStrictEqual(s.lines("done"), [], "the running slot was interrupted")
      const resumed = s.run(["backfill", "resume", id!], { SLOT_MS: "10" })
      assert.strictEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
      assert.deepStrictEqual([...s.lines("done")].sort(), keys)
      assert.deepStrictEqual(s.query("SELECT count(*) FROM runs"), ["3"], "the interrupted slot's run was resumed, not doubled")
    }, 90_000)
  })

  describe("runner ui", () => {
    it("serves the dashboard's pages and JSON API from PostgreSQL, read-only; never shows the password", async () => {
      const { name, url } = database()
      const journal = withPassword(url)
      const failed = runner(["test/fixtures/pg-flaky.ts", "--journal", journal], { env: { PG_FLAKY_FAIL: "1" } })
      assert.strictEqual(failed.status, 1, failed.stderr)
      const resumed = runner(["test/fixtures/pg-flaky.ts", "--journal", journal, "--key", "day-1"])
      assert.strictEqual(resumed.status, 0, resumed.stderr)
      const [keyed, first] = psql(name, "SELECT id FROM runs ORDER BY started_at DESC, rowid DESC").trim().split("\n")
      psql(name, `INSERT INTO logs (run_id, job_id, attempt, at, level, message) VALUES
        ('${first}', 'load', 1, 1, 'INFO', 'Needle in the PG log'), ('${first}', 'load', 1, 2, 'INFO', 'other line')`)
      const ui = await startUi(journal)
      try {
        const runs = await get(`${ui.url}/api/runs`)
        assert.strictEqual(runs.status, 200)
        assert.match(runs.type, /^application\/json/)
        const list = JSON.parse(runs.body)
        assert.deepStrictEqual(list.runs.map((r: { runId: string; status: string }) => `${r.runId}:${r.status}`), [
          `${keyed}:succeeded`,
          `${first}:failed`
        ])
        assert.deepStrictEqual(list.runs[1].failedJobs, ["load"])
        assert.strictEqual(list.runs[0].key, "day-1")
        // Paging by cursor: the second page starts after the first run.
        const page1 = JSON.parse((await get(`${ui.url}/api/runs?limit=1`)).body)
        assert.strictEqual(page1.runs[0].runId, keyed)
        const page2 = JSON.parse((await get(`${ui.url}/api/runs?limit=1&after=${page1.next}`)).body)
        assert.deepStrictEqual(page2.runs.map((r: { runId: string }) => r.runId), [first])
        assert.isNull(page2.next)
        const filtered = JSON.parse((await get(`${ui.url}/api/runs?status=failed`)).body)
        assert.deepStrictEqual(filtered.runs.map((r: { runId: string }) => r.runId), [first])

        const one = JSON.parse((await get(`${ui.url}/api/runs/${first}`)).body)
        assert.strictEqual(one.run.status, "failed")
        assert.deepStrictEqual(one.jobs.map((j: { jobId: string; status: string }) => `${j.jobId}:${j.status}`), [
          "fetch:succeeded",
          "load:failed"
        ])
        assert.deepStrictEqual(one.jobs[1].needs, ["fetch"])
        assert.strictEqual(one.attempts.length, 2)
        assert.strictEqual((await get(`${ui.url}/api/runs/no-such-run`)).status, 404)
        const grid = JSON.parse((await get(`${ui.url}/api/grid?dag=pg-flaky`)).body)
        assert.deepStrictEqual(grid.runs.map((r: { runId: string }) => r.runId), [keyed, first])
        assert.deepStrictEqual(grid.jobIds, ["fetch", "load"])
        assert.strictEqual(grid.cells[first!].load.status, "failed")

        const home = await get(`${ui.url}/`)
        assert.strictEqual(home.status, 200)
        assert.include(home.body, first!)
        // The log search runs on the server (PostgreSQL's strpos), case-insensitively.
        const found = await get(`${ui.url}/runs/${first}/logs?q=needle`)
        assert.strictEqual(found.status, 200)
        assert.include(found.body, "Needle in the PG log")
        assert.notInclude(found.body, "other line")
        const raw = await get(`${ui.url}/runs/${first}/logs.txt`)
        assert.include(raw.body, "Needle in the PG log")
        assert.include(raw.body, "other line")
        const events = await readEvents(`${ui.url}/runs/${first}/events`, {}, (es) => es.some((e) => e.event === "state"))
        assert.include(events.find((e) => e.event === "state")!.data, `"status":"failed"`)
        for (const body of [runs.body, home.body, found.body]) assert.notInclude(body, secret)
      } finally {
        await ui.stop()
      }
      assert.notInclude(ui.stderr(), secret)
    }, 60_000)

    it("the dashboard's connection is read-only: a write through it fails, the same write through a normal one lands", async () => {
      const { name, url } = database()
      const write = (readOnly: boolean) =>
        Effect.runPromise(Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          if (!readOnly) yield* JournalClient.migrate(url)
          yield* sql`INSERT INTO schedules (dag, last_slot, updated_at) VALUES (${readOnly ? "ro" : "rw"}, 1, 1)`
        }).pipe(
          Effect.provide(JournalClient.layer(url, { durability: "normal", readOnly })),
          Effect.exit
        ))
      const normal = await write(false)
      assert.isTrue(normal._tag === "Success", String(normal))
      const readOnly = await write(true)
      assert.isTrue(Exit.isFailure(readOnly))
      const why = Exit.isFailure(readOnly) ? Cause.pretty(readOnly.cause) : ""
      assert.match(why, /read-only transaction/, why)
      assert.strictEqual(psql(name, "SELECT string_agg(dag, ',') FROM schedules").trim(), "rw")
    }, 60_000)

    it("--ui serves the dashboard beside a live run on PostgreSQL, and stops with it", async () => {
      const { url } = database()
      const dir = tempDir()
      const release = path.join(dir, "release")
      const { done, process: child } = runnerAsync(
        ["test/fixtures/hold.ts", "--journal", url, "--ui", "--ui-port", "0"],
        { HOLD_LOG: path.join(dir, "hold.log"), RELEASE: release }
      )
      let stderr = ""
      child.stderr.on("data", (chunk) => (stderr += chunk))
      try {
        await waitUntil(() => /runner ui: http:\/\/\S+/.test(stderr) && fs.existsSync(path.join(dir, "hold.log")), 30_000)
        const base = /runner ui: (http:\/\/\S+)/.exec(stderr)![1]!
        assert.include(stderr, `(journal ${url}, read-only)`)
        const runs: Array<{ runId: string; dag: string; status: string }> = JSON.parse((await get(`${base}/api/runs`)).body).runs
        assert.deepStrictEqual(runs.map((r) => `${r.dag}:${r.status}`), ["hold:running"])
        const events = await readEvents(`${base}/runs/${runs[0]!.runId}/events`, {}, (es) => es.length > 0)
        assert.include(events[0]!.data, `"status":"running"`)
      } finally {
        fs.writeFileSync(release, "")
      }
      const result = await done
      assert.strictEqual(result.status, 0, result.stderr)
    }, 60_000)
  })
})
