/** The journal's schema migrations and the settings a journal file is opened with. */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as SqlClient from "effect/sql/SqlClient"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as Journal from "../src/internal/Journal.ts"
import * as migrations from "../src/internal/sql/migrations.ts"
import * as SqliteClient from "../src/internal/sql/SqliteClient.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-migrations-")

/** Reads a closed journal file with a connection of its own. */
const inspect = <A>(file: string, f: (db: DatabaseSync) => A): A => {
  const db = new DatabaseSync(file, { readOnly: true })
  try {
    return f(db)
  } finally {
    db.close()
  }
}
const names = (db: DatabaseSync, type: "table" | "index") =>
  (db.prepare(`SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' ORDER BY name`)
    .all(type) as Array<{ name: string }>).map((r) => r.name)
const migrationIds = (db: DatabaseSync) =>
  (db.prepare(`SELECT migration_id FROM ${migrations.table} ORDER BY migration_id`).all() as Array<{ migration_id: number }>)
    .map((r) => Number(r.migration_id))
/** Every migration's number, newest last (1, 2, ...). */
const allIds = Object.keys(migrations.all).map((id) => Number(id.slice(0, 4)))

const columns = (db: DatabaseSync, table: string) =>
  (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string; dflt_value: string | null; notnull: number }>)

const clientLayer = (file: string, durability: SqliteClient.Durability = "full") =>
  SqliteClient.layer({ filename: file, durability })

const newestTables = ["attempts", "backfill_slots", "backfills", "cache_entries", "checkpoints", "effect_runner_migrations", "file_hashes", "job_leases", "jobs", "locks", "logs", "processes", "rate_slots", "resource_leases", "runs", "schedules", "waits"]

describe("journal migrations", () => {
  it.effect("an empty file migrates to the newest schema", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "empty.db")
      fs.writeFileSync(file, "") // an existing, empty file: what a crash between create and first write leaves
      assert.strictEqual(fs.statSync(file).size, 0)
      const applied = yield* migrations.run().pipe(Effect.provide(clientLayer(file)))
      assert.deepStrictEqual(applied.map(([id]) => id), allIds)
      inspect(file, (db) => {
        assert.deepStrictEqual(names(db, "table"), newestTables)
        assert.includeMembers(names(db, "index"), ["runs_by_dag", "runs_by_key", "attempts_by_job", "logs_by_run"])
        assert.deepStrictEqual(migrationIds(db), allIds)
        const trigger = columns(db, "runs").find((c) => c.name === "trigger")
        assert.isDefined(trigger, "runs.trigger exists")
        assert.strictEqual(trigger!.dflt_value, "'cli'")
        assert.strictEqual(trigger!.notnull, 1)
        // 0011: each job's needs (nullable: runs journaled before have none), and the waits for resources.
        const needs = columns(db, "jobs").find((c) => c.name === "needs")
        assert.isDefined(needs, "jobs.needs exists")
        assert.strictEqual(needs!.notnull, 0)
        assert.deepStrictEqual(
          columns(db, "waits").map((c) => c.name),
          ["id", "run_id", "job_id", "attempt", "resource", "kind", "call", "started_at", "ended_at"]
        )
        assert.include(names(db, "index"), "waits_by_run")
      })
      // Migrating again is a no-op.
      const again = yield* migrations.run().pipe(Effect.provide(clientLayer(file)))
      assert.deepStrictEqual(again, [])
    }))

  it.effect("the SQL journal migrates an empty file when it opens", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "journal.db")
      yield* Effect.scoped(Effect.asVoid(Layer.build(SqlJournal.layerSqlite({ filename: file, durability: "full" }))))
      inspect(file, (db) => {
        assert.deepStrictEqual(names(db, "table"), newestTables)
        assert.deepStrictEqual(migrationIds(db), allIds)
      })
    }))

  it.effect("a journal at schema version 1 opens with the full migrations; its runs survive, trigger defaults to 'cli'", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "v1.db")
      // A journal written by a runner that only knew migration 1.
      yield* Effect.gen(function*() {
        const applied = yield* migrations.run(1)
        assert.deepStrictEqual(applied.map(([id]) => id), [1])
        const sql = yield* SqlClient.SqlClient
        yield* sql`INSERT INTO runs (id, dag, run_key, status, started_at, ended_at, host, pid, runner_version, definition_hash)
                   VALUES ('old-run', 'nightly', 'k1', 'failed', 1000, 2000, 'h', 1, '0.0.1', 'abc')`
        yield* sql`INSERT INTO jobs (run_id, job_id, status, attempts, definition_hash, output)
                   VALUES ('old-run', 'extract', 'succeeded', 1, 'def1', '{"files":["a.csv"]}')`
        yield* sql`INSERT INTO logs (run_id, job_id, attempt, at, level, message)
                   VALUES ('old-run', 'extract', 1, 1500, 'info', 'hello')`
      }).pipe(Effect.provide(clientLayer(file)))
      inspect(file, (db) => {
        assert.deepStrictEqual(migrationIds(db), [1], "the file is at version 1")
        assert.isUndefined(columns(db, "runs").find((c) => c.name === "trigger"), "no trigger column before v2")
        assert.notInclude(names(db, "index"), "logs_by_run")
      })

      // The current runner opens it: the journal migrates it, and what was there is still readable through it.
      const succeeded = yield* Effect.scoped(Effect.gen(function*() {
        const journal = yield* Journal.Journal
        return yield* journal.succeeded("old-run")
      })).pipe(Effect.provide(SqlJournal.layerSqlite({ filename: file, durability: "full" })))
      assert.deepStrictEqual(succeeded, [{ jobId: "extract", json: `{"files":["a.csv"]}`, definitionHash: "def1" }])

      inspect(file, (db) => {
        assert.deepStrictEqual(migrationIds(db), allIds)
        assert.include(names(db, "index"), "logs_by_run")
        const run = db.prepare("SELECT id, dag, run_key, status, started_at, ended_at, trigger FROM runs").all()
        assert.deepStrictEqual(run.map((r) => ({ ...r })), [{
          id: "old-run",
          dag: "nightly",
          run_key: "k1",
          status: "failed",
          started_at: 1000,
          ended_at: 2000,
          trigger: "cli"
        }])
        assert.strictEqual((db.prepare("SELECT count(*) AS n FROM logs").get() as { n: number }).n, 1)
      })
    }))

  it.effect("a journal at version 10 gains jobs.needs (NULL for its jobs) and waits; deleting a run deletes its waits", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "v10.db")
      yield* Effect.gen(function*() {
        yield* migrations.run(10)
        const sql = yield* SqlClient.SqlClient
        yield* sql`INSERT INTO runs (id, dag, status, started_at, host, pid, runner_version, definition_hash)
                   VALUES ('old-run', 'nightly', 'succeeded', 1000, 'h', 1, '0.0.1', 'abc')`
        yield* sql`INSERT INTO jobs (run_id, job_id, status) VALUES ('old-run', 'extract', 'succeeded')`
      }).pipe(Effect.provide(clientLayer(file)))
      inspect(file, (db) => assert.isUndefined(columns(db, "jobs").find((c) => c.name === "needs")))
      yield* Effect.gen(function*() {
        const applied = yield* migrations.run(11)
        assert.deepStrictEqual(applied.map(([id]) => id), [11])
        const sql = yield* SqlClient.SqlClient
        const jobs = yield* sql<{ needs: string | null }>`SELECT needs FROM jobs WHERE run_id = 'old-run'`
        assert.deepStrictEqual(jobs.map((j) => j.needs), [null])
        yield* sql`INSERT INTO waits (run_id, job_id, attempt, resource, kind, started_at, ended_at)
                   VALUES ('old-run', 'extract', 1, 'db', 'permit', 1000, 1500)`
        yield* sql`DELETE FROM runs WHERE id = 'old-run'`
        const left = yield* sql<{ n: number }>`SELECT count(*) AS n FROM waits`
        assert.strictEqual(left[0]!.n, 0)
      }).pipe(Effect.provide(clientLayer(file)))
    }))

  it.effect("a journal at version 12 gains job_leases.placement (NULL for its leases); a new lease records its placement", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "v12.db")
      yield* Effect.gen(function*() {
        yield* migrations.run(12)
        const sql = yield* SqlClient.SqlClient
        yield* sql`INSERT INTO job_leases (run_id, job_id, epoch, holder, taken_at) VALUES ('old-run', 'old-job', 4, 'w', 1000)`
      }).pipe(Effect.provide(clientLayer(file)))
      const placements = yield* Effect.scoped(Effect.gen(function*() {
        const journal = yield* Journal.Journal
        yield* journal.leaseJob("old-run", "new-job", "worker-b", 2)
        return [...yield* journal.placements("old-run")]
      })).pipe(Effect.provide(SqlJournal.layerSqlite({ filename: file, durability: "full" })))
      assert.deepStrictEqual(placements, [["new-job", 2]])
      inspect(file, (db) => {
        assert.deepStrictEqual(migrationIds(db), allIds)
        assert.deepStrictEqual(
          db.prepare("SELECT job_id, epoch, placement FROM job_leases ORDER BY job_id").all().map((row) => ({ ...row })),
          [{ job_id: "new-job", epoch: 1, placement: 2 }, { job_id: "old-job", epoch: 4, placement: null }]
        )
      })
    }))

  it.effect("a journal at version 11 gains the lease tables; its runs are untouched and a job of one can be leased", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "v11.db")
      yield* Effect.gen(function*() {
        yield* migrations.run(11)
        const sql = yield* SqlClient.SqlClient
        yield* sql`INSERT INTO runs (id, dag, status, started_at, host, pid, runner_version, definition_hash)
                   VALUES ('old-run', 'nightly', 'running', 1000, 'h', 1, '0.0.1', 'abc')`
        yield* sql`INSERT INTO jobs (run_id, job_id, status, attempts) VALUES ('old-run', 'extract', 'running', 1)`
        yield* sql`INSERT INTO attempts (run_id, job_id, attempt, status, started_at) VALUES ('old-run', 'extract', 1, 'running', 1000)`
      }).pipe(Effect.provide(clientLayer(file)))
      inspect(file, (db) => assert.notInclude(names(db, "table"), "job_leases"))
      const lease = yield* Effect.scoped(Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const { epoch, attempts } = yield* journal.leaseJob("old-run", "extract", "worker-b")
        return { epoch, attempts }
      })).pipe(Effect.provide(SqlJournal.layerSqlite({ filename: file, durability: "full" })))
      assert.deepStrictEqual(lease, { epoch: 1, attempts: 1 })
      inspect(file, (db) => {
        assert.deepStrictEqual(migrationIds(db), allIds)
        assert.deepStrictEqual(columns(db, "job_leases").map((c) => c.name), ["run_id", "job_id", "epoch", "holder", "taken_at", "placement"])
        assert.deepStrictEqual(columns(db, "resource_leases").map((c) => c.name), ["resource", "slot", "holder", "expires_at"])
        assert.deepStrictEqual(columns(db, "rate_slots").map((c) => c.name), ["resource", "at"])
        assert.include(names(db, "index"), "rate_slots_by_resource")
        assert.deepStrictEqual(
          { ...db.prepare("SELECT status, error FROM attempts").get() },
          { status: "interrupted", error: "its worker was lost; job taken over by worker-b" }
        )
        assert.strictEqual((db.prepare("SELECT status FROM runs").get() as { status: string }).status, "running")
      })
    }))

  it.effect("a migrated v1 run can be resumed by key", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "v1-resume.db")
      yield* Effect.gen(function*() {
        yield* migrations.run(1)
        const sql = yield* SqlClient.SqlClient
        yield* sql`INSERT INTO runs (id, dag, run_key, status, started_at, host, pid, runner_version, definition_hash)
                   VALUES ('old-run', 'nightly', 'k1', 'failed', 1000, 'h', 1, '0.0.1', 'abc')`
      }).pipe(Effect.provide(clientLayer(file)))
      const begun = yield* Effect.scoped(Effect.gen(function*() {
        const journal = yield* Journal.Journal
        return yield* journal.begin({
          dag: "nightly",
          target: { _tag: "Key", key: "k1", force: false },
          definitionHash: "abc",
          trigger: "cli",
          runnerVersion: "test",
          wait: false
        })
      })).pipe(Effect.provide(SqlJournal.layerSqlite({ filename: file, durability: "full" })))
      assert.deepStrictEqual(begun, { _tag: "Run", runId: "old-run", resumed: true, key: "k1" })
    }))
})

describe("journal file settings", () => {
  /** Opens the journal as layerSqlite does (SqliteClient.make, then SqlJournal.make) and reads its connection's pragmas. */
  const pragmasOf = (file: string, durability: SqliteClient.Durability) =>
    Effect.scoped(Effect.gen(function*() {
      const client = yield* SqliteClient.make({ filename: file, durability })
      yield* Effect.provideService(SqlJournal.make, SqlClient.SqlClient, client)
      const one = (pragma: string) =>
        Effect.map(client.unsafe<Record<string, unknown>>(`PRAGMA ${pragma}`), (rows) => Object.values(rows[0]!)[0])
      return {
        journal_mode: yield* one("journal_mode"),
        synchronous: yield* one("synchronous"),
        foreign_keys: yield* one("foreign_keys"),
        busy_timeout: yield* one("busy_timeout")
      }
    })).pipe(Effect.provide(Reactivity.layer))

  it.effect("durability full: WAL, synchronous FULL (2), foreign keys on, busy timeout 5000", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "full.db")
      const pragmas = yield* pragmasOf(file, "full")
      assert.deepStrictEqual(pragmas, { journal_mode: "wal", synchronous: 2, foreign_keys: 1, busy_timeout: 5000 })
      // WAL is a property of the file: another connection sees it too.
      inspect(file, (db) => assert.strictEqual((db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode, "wal"))
    }))

  it.effect("durability normal: synchronous NORMAL (1)", () =>
    Effect.gen(function*() {
      const pragmas = yield* pragmasOf(path.join(tempDir(), "normal.db"), "normal")
      assert.deepStrictEqual(pragmas, { journal_mode: "wal", synchronous: 1, foreign_keys: 1, busy_timeout: 5000 })
    }))

  it.effect("the file (and its WAL files) are created 0600, in a folder created 0700", () =>
    Effect.gen(function*() {
      const dir = path.join(tempDir(), "nested", "deeper")
      const file = path.join(dir, "journal.db")
      // Keep the journal open while checking, so the -wal and -shm files exist.
      yield* Effect.scoped(Effect.gen(function*() {
        const journal = yield* Layer.build(SqlJournal.layerSqlite({ filename: file, durability: "full" }))
        assert.isDefined(journal)
        assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
        for (const suffix of ["-wal", "-shm"]) {
          if (fs.existsSync(file + suffix)) assert.strictEqual(fs.statSync(file + suffix).mode & 0o777, 0o600, suffix)
        }
        assert.isTrue(fs.existsSync(file + "-wal"), "WAL mode keeps a -wal file while open")
      }))
      assert.strictEqual(fs.statSync(dir).mode & 0o777, 0o700)
    }))

  it.effect("an existing world-readable file is made 0600 when the journal opens it", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "loose.db")
      fs.writeFileSync(file, "")
      fs.chmodSync(file, 0o644)
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o644)
      yield* Effect.scoped(Effect.asVoid(Layer.build(SqlJournal.layerSqlite({ filename: file, durability: "full" }))))
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
    }))
})
