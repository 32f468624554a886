/**
 * The journal's backends for tests that must hold on both: `describe.each(journalBackends())("on %s", (_, open) => ...)`
 * runs the same test bodies on a SQLite file and, when a server is reachable (test/support/postgres.ts), on a
 * PostgreSQL database; without one (and without CI) the PostgreSQL half is left out with one line saying so. Each
 * `open()` gives a new, empty journal, read from outside (another connection; psql for PostgreSQL) as a second opinion.
 */
import type * as Layer from "effect/Layer"
import { spawn } from "node:child_process"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import type * as Journal from "../../src/internal/Journal.ts"
import * as SqlJournal from "../../src/internal/sql/SqlJournal.ts"
import { databases, psql, requirePostgres } from "./postgres.ts"
import { waitUntil } from "./spawn.ts"
import { tempDirs } from "./tmp.ts"

/** A journal to test on one backend. */
export interface Backend {
  readonly name: "sqlite" | "postgres"
  /**
   * A Journal layer on this journal (each call a new instance, as another process would open it). `busyTimeoutMillis`
   * is SQLite's wait for another connection's write lock before the writer retries (PostgreSQL waits on the lock).
   */
  readonly layer: (options?: { readonly busyTimeoutMillis?: number }) => Layer.Layer<Journal.Journal, Journal.JournalError>
  /** Runs SQL on another connection; rows as their columns joined with `|` (NULL as ""). */
  readonly query: (sql: string) => Array<string>
  /**
   * Another connection takes the journal's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: LOCK TABLE of the tables
   * a run writes, EXCLUSIVE) and holds it for `millis`; resolves once it is held, with a promise of its release.
   */
  readonly holdWriteLock: (millis: number) => Promise<{ readonly released: Promise<void> }>
}

const sqlite = (file: string): Backend => ({
  name: "sqlite",
  layer: (options = {}) =>
    SqlJournal.layerSqlite({
      filename: file,
      durability: "normal",
      ...(options.busyTimeoutMillis === undefined ? {} : { busyTimeoutMillis: options.busyTimeoutMillis })
    }),
  query: (sql) => {
    const db = new DatabaseSync(file)
    try {
      const statement = db.prepare(sql)
      if (!/^\s*(SELECT|PRAGMA)/i.test(sql)) return (statement.run(), [])
      return statement.all().map((row) => Object.values(row).map((v) => v === null ? "" : String(v)).join("|"))
    } finally {
      db.close()
    }
  },
  holdWriteLock: (millis) => Promise.resolve({ released: holdSqliteWriteLock(file, millis) })
})

/** Takes a SQLite journal's write lock from a second connection, released after `millis` (a timer: the event loop must turn). */
export const holdSqliteWriteLock = (file: string, millis: number): Promise<void> => {
  const db = new DatabaseSync(file)
  // The runner may be committing at this very moment: wait for it like any writer.
  db.exec("PRAGMA busy_timeout = 5000")
  db.exec("BEGIN IMMEDIATE")
  return new Promise<void>((resolve) =>
    setTimeout(() => {
      db.exec("COMMIT")
      db.close()
      resolve()
    }, millis)
  )
}

/** The tables a run's commits write: locking them all stops every commit, as SQLite's write lock does. */
const written = ["runs", "jobs", "attempts", "logs", "checkpoints", "locks"]

const postgres = (name: string, url: string): Backend => ({
  name: "postgres",
  layer: () => SqlJournal.layerPostgres(url),
  query: (sql) => psql(name, sql).split("\n").filter((line) => line !== ""),
  holdWriteLock: async (millis) => {
    // The schema must exist to be locked: a journal opened once has it.
    const server = new URL(url)
    const locker = spawn("psql", [
      "-h", server.hostname, "-p", server.port || "5432", "-U", decodeURIComponent(server.username || "postgres"), "-d", name,
      "-v", "ON_ERROR_STOP=1", "-c",
      `BEGIN; LOCK TABLE ${written.join(", ")} IN EXCLUSIVE MODE; SELECT pg_sleep(${millis / 1000}); COMMIT;`
    ], { stdio: "ignore" })
    const released = new Promise<void>((resolve) => locker.on("close", () => resolve()))
    await waitUntil(() =>
      psql(name, `SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                  WHERE c.relname IN (${written.map((t) => `'${t}'`).join(", ")}) AND l.mode = 'ExclusiveLock' AND l.granted`)
        .trim() === String(written.length)
    )
    return { released }
  }
})

/**
 * Call at the top of a test file. The backends to run the journal's tests on, as `[name, open]` pairs for
 * `describe.each`: SQLite always, PostgreSQL when reachable (required when CI is set).
 */
export const journalBackends = (): ReadonlyArray<readonly [string, () => Backend]> => {
  const tempDir = tempDirs("runner-backend-")
  const pg = requirePostgres()
  const database = databases()
  return [
    ["sqlite", () => sqlite(path.join(tempDir(), "journal.db"))],
    ...(pg.skip ? [] : [["postgres", () => {
      const { name, url } = database()
      return postgres(name, url)
    }] as const])
  ]
}
