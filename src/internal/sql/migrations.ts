/**
 * The journal's schema, as numbered migrations run by effect/sql's Migrator. Never edit a released migration: add
 * the next one. A journal written by an older runner opens and migrates forward.
 */
import * as Effect from "effect/Effect"
import * as Migrator from "effect/sql/Migrator"
import * as SqlClient from "effect/sql/SqlClient"

const v1 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    dag TEXT NOT NULL,
    run_key TEXT,
    status TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    runner_version TEXT NOT NULL,
    definition_hash TEXT NOT NULL
  )`
  yield* sql`CREATE INDEX runs_by_dag ON runs (dag, started_at)`
  yield* sql`CREATE INDEX runs_by_key ON runs (dag, run_key, started_at)`
  yield* sql`CREATE TABLE jobs (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at INTEGER,
    ended_at INTEGER,
    definition_hash TEXT,
    output TEXT,
    error TEXT,
    reason TEXT,
    PRIMARY KEY (run_id, job_id)
  )`
  // Attempt numbers restart when a run resumes in a new process, so each attempt gets its own row id.
  yield* sql`CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    error TEXT
  )`
  yield* sql`CREATE INDEX attempts_by_job ON attempts (run_id, job_id, attempt)`
  yield* sql`CREATE TABLE checkpoints (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id TEXT NOT NULL,
    step TEXT NOT NULL,
    output TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (run_id, job_id, step)
  )`
  yield* sql`CREATE TABLE logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id TEXT,
    attempt INTEGER,
    at INTEGER NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
  )`
  yield* sql`CREATE TABLE locks (
    lock_key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    since INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
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
    dag TEXT PRIMARY KEY,
    last_slot INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
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
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    pgid INTEGER NOT NULL,
    host TEXT NOT NULL,
    start_time TEXT,
    started_at INTEGER NOT NULL,
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
    cache_key TEXT PRIMARY KEY,
    dag TEXT NOT NULL,
    job_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    output TEXT,
    manifest TEXT NOT NULL,
    created_at INTEGER NOT NULL
  )`
  yield* sql`CREATE INDEX cache_entries_by_job ON cache_entries (job_id, created_at)`
  yield* sql`CREATE TABLE file_hashes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
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
    id TEXT PRIMARY KEY,
    dag TEXT NOT NULL,
    file TEXT NOT NULL,
    range_from INTEGER NOT NULL,
    range_to INTEGER NOT NULL,
    identity TEXT NOT NULL,
    options TEXT NOT NULL,
    who TEXT,
    state TEXT NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    pid INTEGER,
    host TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    ended_at INTEGER
  )`
  yield* sql`CREATE INDEX backfills_by_identity ON backfills (dag, identity, created_at)`
  yield* sql`CREATE TABLE backfill_slots (
    backfill_id TEXT NOT NULL REFERENCES backfills (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    slot_key TEXT NOT NULL,
    slot_start INTEGER NOT NULL,
    slot_end INTEGER NOT NULL,
    state TEXT NOT NULL,
    run_id TEXT,
    note TEXT,
    started_at INTEGER,
    ended_at INTEGER,
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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    resource TEXT NOT NULL,
    kind TEXT NOT NULL,
    call INTEGER NOT NULL DEFAULT 0,
    started_at INTEGER NOT NULL,
    ended_at INTEGER NOT NULL
  )`
  yield* sql`CREATE INDEX waits_by_run ON waits (run_id, job_id)`
})

/**
 * v12: cluster mode's leases. `job_leases`: each leased job's epoch, the fencing token its holder's writes are
 * committed behind (bumped by every takeover, never reset: a row is kept for the life of its run). `resource_leases`:
 * a Resource of concurrency n shared by a cluster is n slots, each held until `expires_at` unless renewed.
 * `rate_slots`: the starts of a rate limit shared by a cluster, a sliding window over `at`.
 */
const v12 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE job_leases (
    run_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    holder TEXT NOT NULL,
    taken_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, job_id)
  )`
  yield* sql`CREATE TABLE resource_leases (
    resource TEXT NOT NULL,
    slot INTEGER NOT NULL,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (resource, slot)
  )`
  yield* sql`CREATE TABLE rate_slots (
    resource TEXT NOT NULL,
    at INTEGER NOT NULL
  )`
  yield* sql`CREATE INDEX rate_slots_by_resource ON rate_slots (resource, at)`
})

/**
 * v13: which cluster execution of a job holds its lease (its placement number), so that a coordinator replayed on
 * another worker joins the executions already running instead of starting their jobs again.
 */
const v13 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE job_leases ADD COLUMN placement INTEGER`
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

/** The table the Migrator records applied migrations in. */
export const table = "effect_runner_migrations"

/**
 * Migrates the journal to the newest schema (or only up to `upTo`, for tests of older versions); returns what was
 * applied. A journal already at (or past) that schema is only read: the Migrator takes the write lock (BEGIN
 * IMMEDIATE) to find there is nothing to do, which every run paid at start (and waited for behind another runner's
 * commit). Anything unexpected in that read (no table yet, a damaged file) is left to the Migrator, which says why.
 */
export const run = (upTo?: number) => {
  const wanted = Object.entries(all).filter(([id]) => upTo === undefined || Number(id.slice(0, 4)) <= upTo)
  const newest = Math.max(0, ...wanted.map(([id]) => Number(id.slice(0, 4))))
  const migrate = Migrator.make({})({ loader: Migrator.fromRecord(Object.fromEntries(wanted)), table })
  return Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const current = yield* sql<{ readonly id: number | null }>`SELECT max(migration_id) AS id FROM ${sql(table)}`.pipe(
      Effect.map((rows) => Number(rows[0]?.id ?? 0)),
      Effect.orElseSucceed(() => 0)
    )
    if (newest > 0 && current >= newest) {
      yield* Effect.logDebug(`journal schema ${current} is current: no migration to run`)
      return [] as ReadonlyArray<readonly [id: number, name: string]>
    }
    return yield* migrate
  })
}
