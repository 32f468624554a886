/**
 * The journal's schema on PostgreSQL: the same numbered migrations as migrations.ts (same ids, so a journal's schema
 * version means the same on both backends), in PostgreSQL's DDL. Times are BIGINT (milliseconds), AUTOINCREMENT ids
 * are BIGSERIAL, and every other table has a `rowid BIGSERIAL` column: the journal's queries order rows by SQLite's
 * implicit rowid (insertion order), and on PostgreSQL they read this explicit column of the same name. Never edit a
 * released migration: add the next one here and in migrations.ts.
 */
import * as Effect from "effect/Effect"
import * as Migrator from "effect/sql/Migrator"
import * as SqlClient from "effect/sql/SqlClient"

const v1 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE runs (
    rowid BIGSERIAL,
    id TEXT PRIMARY KEY,
    dag TEXT NOT NULL,
    run_key TEXT,
    status TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    runner_version TEXT NOT NULL,
    definition_hash TEXT NOT NULL
  )`
  yield* sql`CREATE INDEX runs_by_dag ON runs (dag, started_at)`
  yield* sql`CREATE INDEX runs_by_key ON runs (dag, run_key, started_at)`
  yield* sql`CREATE TABLE jobs (
    rowid BIGSERIAL,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    started_at BIGINT,
    ended_at BIGINT,
    definition_hash TEXT,
    output TEXT,
    error TEXT,
    reason TEXT,
    PRIMARY KEY (run_id, job_id)
  )`
  // Attempt numbers restart when a run resumes in a new process, so each attempt gets its own row id.
  yield* sql`CREATE TABLE attempts (
    rowid BIGSERIAL,
    id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    status TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    error TEXT
  )`
  yield* sql`CREATE INDEX attempts_by_job ON attempts (run_id, job_id, attempt)`
  yield* sql`CREATE TABLE checkpoints (
    rowid BIGSERIAL,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id TEXT NOT NULL,
    step TEXT NOT NULL,
    output TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (run_id, job_id, step)
  )`
  yield* sql`CREATE TABLE logs (
    rowid BIGSERIAL,
    id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id TEXT,
    attempt BIGINT,
    at BIGINT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
  )`
  yield* sql`CREATE TABLE locks (
    rowid BIGSERIAL,
    lock_key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    pid BIGINT NOT NULL,
    host TEXT NOT NULL,
    since BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
  )`
})

/** v2: who started a run (cli, schedule, ...) and logs found by run. */
const v2 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE runs ADD COLUMN trigger TEXT NOT NULL DEFAULT 'cli'`
  yield* sql`CREATE INDEX logs_by_run ON logs (run_id, id)`
})

/** v3: the last slot `runner schedule` fired for each scheduled DAG, so a restart knows what it missed. */
const v3 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE schedules (
    rowid BIGSERIAL,
    dag TEXT PRIMARY KEY,
    last_slot BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  )`
})

/** v4: who and what executed a run, one JSON object per start or resume (see Audit.ts). */
const v4 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE runs ADD COLUMN executions TEXT NOT NULL DEFAULT '[]'`
})

/** v5: the hash of a job's inputs each checkpoint was made with: a step made for other inputs is not reused. */
const v5 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE checkpoints ADD COLUMN input_hash TEXT`
})

/**
 * v6: each taking of a run lock has a random token, checked by every write of the run (fencing: a runner that lost
 * its lock while stopped writes nothing more), and the holder's pid namespace (a pid means nothing across containers).
 */
const v6 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE locks ADD COLUMN token TEXT`
  yield* sql`ALTER TABLE locks ADD COLUMN pid_namespace TEXT`
})

/**
 * v7: the process groups of shell jobs while they run (see internal/processes.ts): a resumed run ends those a killed
 * runner left behind. A row is deleted when its group has exited.
 */
const v7 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE processes (
    rowid BIGSERIAL,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    pid BIGINT NOT NULL,
    pgid BIGINT NOT NULL,
    host TEXT NOT NULL,
    start_time TEXT,
    started_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, host, pid)
  )`
})

/**
 * v8: up-to-date skipping (see internal/cache/). A cached job's success is kept by its key with its own copy of the
 * output and the manifest it was made from (so pruning runs never loses it, and `runner why` can name differences);
 * the latest success of a key replaces the one before. Declared files' hashes are memoised by path with the stat they
 * were read at. A job reused from another run is journaled as `cached` with that run's id.
 */
const v8 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE cache_entries (
    rowid BIGSERIAL,
    cache_key TEXT PRIMARY KEY,
    dag TEXT NOT NULL,
    job_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    output TEXT,
    manifest TEXT NOT NULL,
    created_at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX cache_entries_by_job ON cache_entries (job_id, created_at)`
  yield* sql`CREATE TABLE file_hashes (
    rowid BIGSERIAL,
    path TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    mtime_ns TEXT NOT NULL,
    ino TEXT NOT NULL,
    sha256 TEXT NOT NULL
  )`
  yield* sql`ALTER TABLE jobs ADD COLUMN cached_from TEXT`
})

/**
 * v9: backfills (see internal/backfill/). A backfill is journaled like a run: its range and options (to continue it
 * by running the same command again, or `runner backfill resume <id>`), who started it, which process runs it, and
 * each slot's state and run id, so that a backfill killed mid-way resumes without running a slot twice.
 */
const v9 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE backfills (
    rowid BIGSERIAL,
    id TEXT PRIMARY KEY,
    dag TEXT NOT NULL,
    file TEXT NOT NULL,
    range_from BIGINT NOT NULL,
    range_to BIGINT NOT NULL,
    identity TEXT NOT NULL,
    options TEXT NOT NULL,
    who TEXT,
    state TEXT NOT NULL,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    pid BIGINT,
    host TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    ended_at BIGINT
  )`
  yield* sql`CREATE INDEX backfills_by_identity ON backfills (dag, identity, created_at)`
  yield* sql`CREATE TABLE backfill_slots (
    rowid BIGSERIAL,
    backfill_id TEXT NOT NULL REFERENCES backfills (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    slot_key TEXT NOT NULL,
    slot_start BIGINT NOT NULL,
    slot_end BIGINT NOT NULL,
    state TEXT NOT NULL,
    run_id TEXT,
    note TEXT,
    started_at BIGINT,
    ended_at BIGINT,
    PRIMARY KEY (backfill_id, slot_key)
  )`
})

/**
 * v10: indexes for `runner ui` at scale (100,000 runs): the runs list newest first with or without a status or key
 * filter, read by keyset without sorting, and one job's log lines of a run without scanning the others'.
 */
const v10 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at)`
  yield* sql`CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, started_at)`
  yield* sql`CREATE INDEX IF NOT EXISTS runs_by_run_key ON runs (run_key, started_at)`
  yield* sql`CREATE INDEX IF NOT EXISTS logs_by_job ON logs (run_id, job_id, id)`
})

/**
 * v11: for the dashboard's drawings: each job's needs (job ids, JSON; NULL in runs journaled before), and each wait
 * for a resource that ended (permit or rate-limit slot; `call` when a running attempt waited in `r.use`).
 */
const v11 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE jobs ADD COLUMN needs TEXT`
  yield* sql`CREATE TABLE waits (
    rowid BIGSERIAL,
    id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    resource TEXT NOT NULL,
    kind TEXT NOT NULL,
    call BIGINT NOT NULL DEFAULT 0,
    started_at BIGINT NOT NULL,
    ended_at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX waits_by_run ON waits (run_id, job_id)`
})

/** v12: cluster mode's leases (see migrations.ts). */
const v12 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE job_leases (
    rowid BIGSERIAL,
    run_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    holder TEXT NOT NULL,
    taken_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, job_id)
  )`
  yield* sql`CREATE TABLE resource_leases (
    rowid BIGSERIAL,
    resource TEXT NOT NULL,
    slot BIGINT NOT NULL,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (resource, slot)
  )`
  yield* sql`CREATE TABLE rate_slots (
    rowid BIGSERIAL,
    resource TEXT NOT NULL,
    at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX rate_slots_by_resource ON rate_slots (resource, at)`
})

/** v13: the placement of the execution holding a job's lease (see migrations.ts). */
const v13 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE job_leases ADD COLUMN placement BIGINT`
})

/** Every migration, by id. */
export const all = {
  "0001_journal": v1,
  "0002_trigger_and_log_index": v2,
  "0003_schedules": v3,
  "0004_executions": v4,
  "0005_checkpoint_inputs": v5,
  "0006_lock_tokens": v6,
  "0007_processes": v7,
  "0008_cache": v8,
  "0009_backfills": v9,
  "0010_ui_indexes": v10,
  "0011_needs_and_waits": v11,
  "0012_leases": v12,
  "0013_lease_placements": v13
} as const

/** The table the Migrator records applied migrations in (the same as SQLite's). */
export const table = "effect_runner_migrations"

/**
 * Migrates to the newest schema (or only up to `upTo`, for tests of older versions). Behind a transaction-scoped
 * advisory lock: two runners opening an empty database at once would otherwise both create the tables.
 */
export const run = (upTo?: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return yield* sql.withTransaction(Effect.andThen(
      sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`,
      Migrator.make({})({
        loader: Migrator.fromRecord(Object.fromEntries(
          Object.entries(all).filter(([id]) => upTo === undefined || Number(id.slice(0, 4)) <= upTo)
        )),
        table
      })
    ))
  })

/** The advisory lock key migrations are serialised on (an arbitrary constant of this runner's). */
const MIGRATION_LOCK = 0x72756e6e
