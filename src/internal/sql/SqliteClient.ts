/**
 * A `SqlClient` for SQLite through `node:sqlite`, which Node 24, Bun and Deno all provide: no native addon. One
 * connection, serialized by a semaphore; prepared statements cached. Kept in this one file so it can be replaced by
 * an official Effect 4 driver once one loads against the pinned effect version.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Semaphore from "effect/Semaphore"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlConnection from "effect/sql/SqlConnection"
import { classifySqliteError, SqlError } from "effect/sql/SqlError"
import * as Statement from "effect/sql/Statement"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync, type StatementSync } from "node:sqlite"

export type Durability = "full" | "normal"

export interface Options {
  /** The database file; created (with its folder) if missing, mode 0600. */
  readonly filename: string
  /** `full`: every commit reaches the disk (survives power loss). `normal`: survives a crash of the process. */
  readonly durability: Durability
  /** How long to wait for another process's write lock. Default: 5000 ms. */
  readonly busyTimeoutMillis?: number
  /**
   * Open an existing file for reading only (`runner ui`): never created, `query_only` set, so a reader beside a running
   * runner can never write or take the write lock. The journal is already in WAL mode, so readers never block it.
   */
  readonly readOnly?: boolean
}

const error = (cause: unknown, message: string, operation: string) =>
  new SqlError({ reason: classifySqliteError(withErrno(cause), { message, operation }) })

// node:sqlite reports SQLite's code as `errcode`; the classifier reads `errno`.
const withErrno = (cause: unknown): unknown =>
  typeof cause === "object" && cause !== null && "errcode" in cause && !("errno" in cause)
    ? { cause, errno: (cause as { errcode: unknown }).errcode, message: (cause as { message?: unknown }).message }
    : cause

/**
 * Creates a folder and its missing parents, mode 0700. Not `mkdirSync({ recursive: true })`: Node's loops forever at
 * 100% CPU on a path like /proc/nope (mkdir says ENOENT while the parent exists), and it hides which part failed.
 */
const ensureDir = (dir: string): void => {
  try {
    fs.mkdirSync(dir, { mode: 0o700 })
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    if (code === "EEXIST") {
      if (fs.statSync(dir).isDirectory()) return
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}' (a file has that name)`), { code: "ENOTDIR" })
    }
    const parent = path.dirname(dir)
    if (code !== "ENOENT" || parent === dir) throw cause
    ensureDir(parent)
    // Once: if the parent now exists and mkdir still says ENOENT (/proc), that is the answer.
    fs.mkdirSync(dir, { mode: 0o700 })
  }
}

/** SQLite's codes for a file that is not a database, or a damaged one. */
const SQLITE_CORRUPT = 11
const SQLITE_NOTADB = 26

/** The SQLite result code (primary) carried by an error, or somewhere in its causes. */
const sqliteCode = (cause: unknown): number | undefined => {
  for (let u = cause, depth = 0; typeof u === "object" && u !== null && depth < 8; depth++) {
    const errcode = (u as { errcode?: unknown }).errcode
    if (typeof errcode === "number") return errcode & 0xff
    u = (u as { cause?: unknown }).cause ?? (u as { reason?: unknown }).reason
  }
  return undefined
}

/** The innermost message of an error and its causes: the operating system's or SQLite's own words. */
const innermost = (cause: unknown): string => {
  let message = String(cause)
  for (let u = cause, depth = 0; typeof u === "object" && u !== null && depth < 8; depth++) {
    const m = (u as { message?: unknown }).message
    if (typeof m === "string" && m !== "") message = m
    u = (u as { cause?: unknown }).cause ?? (u as { reason?: unknown }).reason
  }
  return message
}

/**
 * Why a journal file cannot be used, for a person: the system's reason (ENOTDIR, EACCES, EROFS...) as is, and for a
 * damaged file or one that is not a database, what to do about it.
 */
export const describeError = (filename: string, cause: unknown): string => {
  const code = sqliteCode(cause)
  const reason = innermost(cause)
  // Deno's node:sqlite gives no result code: its message is SQLite's own text for the code.
  const damaged = code === undefined
    ? /file is not a database|database disk image is malformed/.test(reason)
    : code === SQLITE_CORRUPT || code === SQLITE_NOTADB
  if (!damaged) return reason
  return `${reason}: ${filename} is damaged or is not a journal. Move it aside (or restore it from a backup) and ` +
    `run again to start a new journal; \`runner doctor --journal ${filename}\` shows what SQLite finds in it`
}

/** Opens the database file with the journal's settings: WAL, the chosen durability, busy timeout, foreign keys. */
export const open = (options: Options): DatabaseSync => {
  if (options.readOnly === true) {
    const db = new DatabaseSync(options.filename, { readOnly: true })
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMillis ?? 5000))}`)
    db.exec("PRAGMA query_only = ON")
    return db
  }
  ensureDir(path.dirname(path.resolve(options.filename)))
  // Create the file ourselves so it is never world-readable, whatever the umask; SQLite gives -wal/-shm the same mode.
  fs.closeSync(fs.openSync(options.filename, "a", 0o600))
  fs.chmodSync(options.filename, 0o600)
  const db = new DatabaseSync(options.filename)
  db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMillis ?? 5000))}`)
  db.exec("PRAGMA journal_mode = WAL")
  db.exec(`PRAGMA synchronous = ${options.durability === "full" ? "FULL" : "NORMAL"}`)
  db.exec("PRAGMA foreign_keys = ON")
  return db
}

/**
 * The connection's way to run many fixed statements at once, where it has one (this client's connections do): the
 * journal's writer runs a batch of tens of statements per commit, and one Effect for the batch instead of three per
 * statement allocates less (objects that wait on the commit's fsync live long enough to be promoted, then die) and
 * takes less CPU. Throws nothing: a failure is the SqlError `execute` would give.
 */
export const RunMany: unique symbol = Symbol.for("effect-runner/SqliteClient/RunMany")

export type RunMany = (statements: ReadonlyArray<readonly [sql: string, params: ReadonlyArray<unknown>]>) => Effect.Effect<void, SqlError>

/** The connection's `RunMany`, or undefined for another client's connection (PostgreSQL's). */
export const runManyOf = (connection: SqlConnection.Connection): RunMany | undefined =>
  (connection as SqlConnection.Connection & { readonly [RunMany]?: RunMany })[RunMany]

/**
 * A prepared statement, whether it returns rows, and the row shape it was last set to. Both are kept rather than asked
 * of node:sqlite at each run: on Deno, `columns()` and `setReturnArrays()` cost 1.1-1.7 µs a statement (the run itself
 * ~2), on Node and Bun ~0.1; a 10,000-job run executes ~50,000 statements.
 */
interface Prepared {
  readonly statement: StatementSync
  readonly returnsRows: boolean
  arrays: boolean | undefined
}

const entryOf = (statement: StatementSync): Prepared => ({ statement, returnsRows: statement.columns().length > 0, arrays: undefined })

const makeConnection = (db: DatabaseSync): SqlConnection.Connection & { readonly [RunMany]: RunMany } => {
  const cache = new Map<string, Prepared>()
  const prepare = (sql: string): Prepared => {
    let entry = cache.get(sql)
    if (entry === undefined) {
      entry = entryOf(db.prepare(sql))
      if (cache.size >= 500) cache.delete(cache.keys().next().value!)
      cache.set(sql, entry)
    }
    return entry
  }
  /** Runs a prepared statement: its rows when it returns any, else none. Throws what node:sqlite throws. */
  const executeSync = (entry: Prepared, params: ReadonlyArray<unknown>, arrays: boolean): ReadonlyArray<any> => {
    if (!entry.returnsRows) {
      entry.statement.run(...(params as Array<any>))
      return []
    }
    if (entry.arrays !== arrays) {
      entry.statement.setReturnArrays(arrays)
      entry.arrays = arrays
    }
    return entry.statement.all(...(params as Array<any>)) as ReadonlyArray<any>
  }
  const run = (entry: Prepared, params: ReadonlyArray<unknown>, arrays: boolean) =>
    Effect.try({
      try: () => executeSync(entry, params, arrays),
      catch: (cause) => error(cause, "Failed to execute statement", "execute")
    })
  const prepared = (sql: string) =>
    Effect.try({ try: () => prepare(sql), catch: (cause) => error(cause, "Failed to prepare statement", "prepare") })
  const runMany: RunMany = (statements) =>
    Effect.try({
      try: () => {
        for (const [sql, params] of statements) executeSync(prepare(sql), params, false)
      },
      catch: (cause) => error(cause, "Failed to execute statement", "execute")
    })
  return {
    [RunMany]: runMany,
    execute: (sql, params, transformRows) =>
      Effect.flatMap(prepared(sql), (s) => run(s, params, false)).pipe(
        Effect.map((rows) => transformRows === undefined ? rows : transformRows(rows))
      ),
    executeRaw: (sql, params) =>
      Effect.flatMap(prepared(sql), (s) =>
        Effect.try({
          try: () => s.statement.run(...(params as Array<any>)),
          catch: (cause) => error(cause, "Failed to execute statement", "execute")
        })),
    executeValues: (sql, params) => Effect.flatMap(prepared(sql), (s) => run(s, params, true)),
    executeValuesUnprepared: (sql, params) => run(entryOf(db.prepare(sql)), params, true),
    executeUnprepared: (sql, params, transformRows) =>
      run(entryOf(db.prepare(sql)), params, false).pipe(
        Effect.map((rows) => transformRows === undefined ? rows : transformRows(rows))
      ),
    executeStream: () => Stream.die("effect-runner's SQLite client does not stream")
  }
}

/** A SqlClient over one `node:sqlite` connection, closed when the scope closes. */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const db = yield* Effect.acquireRelease(
      Effect.try({ try: () => open(options), catch: (cause) => error(cause, describeError(options.filename, cause), "open") }),
      (db) => Effect.sync(() => db.isOpen && db.close())
    )
    const connection = makeConnection(db)
    const semaphore = yield* Semaphore.make(1)
    const acquirers = SqlClient.makeSqliteAcquirers({
      connection: Effect.succeed(connection),
      semaphore,
      isTransaction: () => db.isTransaction
    })
    return yield* SqlClient.make({
      ...acquirers,
      compiler: Statement.makeCompilerSqlite(),
      driver: "node:sqlite",
      spanAttributes: [["db.system.name", "sqlite"]],
      prepareTransactionControls: true,
      // Take the write lock up front: two runners never deadlock upgrading a read transaction.
      beginTransaction: "BEGIN IMMEDIATE"
    })
  })

/** The SqlClient layer for a journal file. */
export const layer = (options: Options): Layer.Layer<SqlClient.SqlClient, SqlError> =>
  Layer.effect(SqlClient.SqlClient)(make(options)).pipe(Layer.provide(Reactivity.layer))
