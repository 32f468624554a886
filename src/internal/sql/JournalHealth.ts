/**
 * The journal's health, as `runner doctor` reports it: SQLite's integrity check, the connection settings, the
 * migrations applied and how many runs it holds. Reads only, over the current `SqlClient`.
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
  return rows.map((row): AppliedMigration => ({ id: row.migration_id, name: row.name, appliedAt: row.created_at }))
})

/** How many runs the journal holds. */
export const countRuns = Effect.fn("JournalHealth.countRuns")(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly n: number }>`SELECT count(*) AS n FROM runs`
  return rows[0]?.n ?? 0
})
