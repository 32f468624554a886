/**
 * The journal's health, as `runner doctor` reports it: on SQLite its integrity check and connection settings, on
 * PostgreSQL the server, its durability settings and the tables' sizes; on both the migrations applied, the run locks
 * held and how many runs it holds. Reads only, over the current `SqlClient`.
 */
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import * as migrations from "./migrations.ts"

/** The lines of `PRAGMA integrity_check`: exactly `["ok"]` for a sound database. */
export const integrityCheck = Effect.fn("JournalHealth.integrityCheck")(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly integrity_check: string }>`PRAGMA integrity_check`
  return rows.map((row) => row.integrity_check)
})

/** The connection settings the runner opens the journal with, as SQLite reports them. */
export interface Settings {
  readonly journalMode: string
  /** 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. */
  readonly synchronous: number
  readonly busyTimeoutMillis: number
  readonly foreignKeys: boolean
}

export const settings = Effect.fn("JournalHealth.settings")(function*() {
  const sql = yield* SqlClient.SqlClient
  const one = <A>(rows: ReadonlyArray<Record<string, unknown>>, fallback: A): A =>
    rows[0] === undefined ? fallback : Object.values(rows[0])[0] as A
  return {
    journalMode: String(one(yield* sql`PRAGMA journal_mode`, "unknown")),
    synchronous: Number(one(yield* sql`PRAGMA synchronous`, -1)),
    busyTimeoutMillis: Number(one(yield* sql`PRAGMA busy_timeout`, -1)),
    foreignKeys: Number(one(yield* sql`PRAGMA foreign_keys`, 0)) === 1
  } satisfies Settings
})

/** A migration recorded as applied in the journal. */
export interface AppliedMigration {
  readonly id: number
  readonly name: string
  readonly appliedAt: string
}

/** The applied migrations, in order; the last id is the schema version. */
export const appliedMigrations = Effect.fn("JournalHealth.appliedMigrations")(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly migration_id: number; readonly name: string; readonly created_at: string }>`
    SELECT migration_id, name, created_at FROM ${sql(migrations.table)} ORDER BY migration_id`
  // SQLite records "YYYY-MM-DD HH:MM:SS" (UTC) as text; PostgreSQL a timestamptz, read as a Date.
  return rows.map((row): AppliedMigration => ({
    id: Number(row.migration_id),
    name: row.name,
    appliedAt: (row.created_at as unknown) instanceof Date ? (row.created_at as unknown as Date).toISOString() : String(row.created_at)
  }))
})

/** How many runs the journal holds. */
export const countRuns = Effect.fn("JournalHealth.countRuns")(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly n: number }>`SELECT count(*) AS n FROM runs`
  return Number(rows[0]?.n ?? 0)
})

/** A run lock recorded in the journal (`locks`): held by a live runner, or left by one that stopped renewing it. */
export interface LockRow {
  readonly lockKey: string
  readonly runId: string
  readonly pid: number
  readonly host: string
  readonly heartbeatAt: number
}

/** The run locks the journal holds, oldest first. Both backends: the locks are rows with a heartbeat on both. */
export const locks = Effect.fn("JournalHealth.locks")(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ lock_key: string; run_id: string; pid: number; host: string; heartbeat_at: number }>`
    SELECT lock_key, run_id, pid, host, heartbeat_at FROM locks ORDER BY since, lock_key`
  return rows.map((row): LockRow => ({
    lockKey: row.lock_key,
    runId: row.run_id,
    pid: Number(row.pid),
    host: row.host,
    heartbeatAt: Number(row.heartbeat_at)
  }))
})

/** The PostgreSQL server and the settings a journal's durability depends on. */
export interface PgServer {
  readonly version: string
  /** `off` loses committed transactions on a crash of the server's machine. */
  readonly fsync: string
  /** `off` (or `local` on a replica set-up) may lose the last commits reported as done. */
  readonly synchronousCommit: string
  /** The database's size on disk, in bytes. */
  readonly databaseBytes: number
}

export const pgServer = Effect.fn("JournalHealth.pgServer")(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ version: string; fsync: string; synchronous_commit: string; bytes: number }>`
    SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync,
           current_setting('synchronous_commit') AS synchronous_commit,
           pg_database_size(current_database()) AS bytes`
  const row = rows[0]!
  return {
    version: row.version,
    fsync: row.fsync,
    synchronousCommit: row.synchronous_commit,
    databaseBytes: Number(row.bytes)
  } satisfies PgServer
})

/** A table of the journal's schema and its size on disk with its indexes. */
export interface TableSize {
  readonly table: string
  readonly bytes: number
}

/** The journal's tables on PostgreSQL (those of the connection's schema), largest first. */
export const pgTableSizes = Effect.fn("JournalHealth.pgTableSizes")(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ name: string; bytes: number }>`
    SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind = 'r'
    ORDER BY bytes DESC, name`
  return rows.map((row): TableSize => ({ table: row.name, bytes: Number(row.bytes) }))
})
