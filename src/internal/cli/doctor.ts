/**
 * `runner doctor`: checks the journal. On both backends: the schema version (migrating a journal of an older runner),
 * the number of runs and the run locks held (a stale one is a runner that stopped renewing it). SQLite's own: the
 * integrity check, the file's mode and the settings the runner opens it with. PostgreSQL's own: the connection, the
 * server's version, the settings durability depends on (fsync, synchronous_commit) and the tables' sizes. Exit 0 when
 * the journal is sound (SQLite: the integrity check says "ok"; PostgreSQL: connected and migrated), 2 otherwise.
 */
import * as Command from "effect/cli/Command"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { formatMillis } from "../reporter/format.ts"
import { isPostgresUrl, redact } from "../sql/Dialect.ts"
import * as JournalClient from "../sql/JournalClient.ts"
import * as JournalHealth from "../sql/JournalHealth.ts"
import * as SqlJournal from "../sql/SqlJournal.ts"
import { journalFlag, print } from "./common.ts"
import { JournalUnhealthy } from "./exit.ts"
import { absolute, describeError, existingJournal, jsonFlag, printJson } from "./operator.ts"

/** What the doctor found on either backend. Fields it could not read are undefined. */
interface Common {
  readonly journal: string
  readonly migrations: ReadonlyArray<JournalHealth.AppliedMigration> | undefined
  /** The migrations this check applied (a journal written by an older runner). */
  readonly migratedNow: ReadonlyArray<string>
  readonly runs: number | undefined
  readonly locks: ReadonlyArray<JournalHealth.LockRow> | undefined
  /** When the doctor looked, and the staleness window then (`RUNNER_LOCK_STALE_AFTER`): which locks are stale. */
  readonly now: number
  readonly staleAfterMillis: number
}

/** A SQLite journal's report. */
export interface SqliteReport extends Common {
  readonly backend: "sqlite"
  /** The lines of `PRAGMA integrity_check` (exactly `["ok"]` when sound), or why it could not run. */
  readonly integrity: ReadonlyArray<string>
  /** The file's permission bits before the doctor opened it, e.g. `0600`. */
  readonly fileMode: string
  readonly settings: JournalHealth.Settings | undefined
}

/** A PostgreSQL journal's report. */
export interface PostgresReport extends Common {
  readonly backend: "postgres"
  /** `["ok"]` once connected, or why not (the password never shown). */
  readonly connection: ReadonlyArray<string>
  readonly server: JournalHealth.PgServer | undefined
  readonly tables: ReadonlyArray<JournalHealth.TableSize> | undefined
}

export type Report = SqliteReport | PostgresReport

/** The checks only one backend has, named in the output of the other so that nobody looks for them there. */
const sqliteOnlyChecks = "integrity_check, file mode, journal_mode, synchronous, busy_timeout, foreign_keys"

const migrationFailed = (report: Report) => report.migratedNow.some((m) => m.startsWith("failed: "))

/** Which check failed, or undefined when the journal is sound. */
export const failedCheck = (report: Report): string | undefined => {
  if (report.backend === "sqlite") {
    return report.integrity.length === 1 && report.integrity[0] === "ok" ? undefined : "integrity check"
  }
  if (!(report.connection.length === 1 && report.connection[0] === "ok")) return "connection check"
  return migrationFailed(report) || report.migrations === undefined ? "schema check" : undefined
}

export const isHealthy = (report: Report): boolean => failedCheck(report) === undefined

const synchronousNames = ["OFF", "NORMAL", "FULL", "EXTRA"]

/** What both backends read once connected: migrating (when `migrate`), then the schema, runs and locks. */
const common = (file: string, migrate: boolean) =>
  Effect.gen(function*() {
    const migratedNow = migrate
      ? yield* JournalClient.migrate(file).pipe(
        Effect.map((applied) => applied.map(([id, name]) => migrationName(id, name))),
        Effect.catch((error) => Effect.succeed([`failed: ${describeError(error)}`]))
      )
      : []
    const applied = yield* Effect.option(JournalHealth.appliedMigrations())
    const runs = yield* Effect.option(JournalHealth.countRuns())
    const locks = yield* Effect.option(JournalHealth.locks())
    return {
      journal: absolute(file),
      migratedNow,
      migrations: applied._tag === "Some" ? applied.value : undefined,
      runs: runs._tag === "Some" ? runs.value : undefined,
      locks: locks._tag === "Some" ? locks.value : undefined,
      now: yield* Clock.currentTimeMillis,
      staleAfterMillis: Duration.toMillis(yield* Effect.orDie(SqlJournal.staleAfter))
    }
  })

/** Inspects the SQLite journal at `file` (which exists); SQL failures become part of the report, never a crash. */
const examineSqlite = (file: string): Effect.Effect<SqliteReport> =>
  Effect.gen(function*() {
    // The mode as found: opening the journal sets 0600, so it must be read first.
    const fileMode = (fs.statSync(file).mode & 0o777).toString(8).padStart(4, "0")
    const inspect = Effect.gen(function*() {
      const integrity = yield* JournalHealth.integrityCheck().pipe(
        Effect.catch((error) => Effect.succeed([`integrity check failed: ${describeError(error)}`]))
      )
      const settings = yield* Effect.option(JournalHealth.settings())
      // Migrate only a sound journal: writing to a damaged file can make it worse.
      const sound = integrity.length === 1 && integrity[0] === "ok"
      return {
        backend: "sqlite",
        ...(yield* common(file, sound)),
        integrity,
        fileMode,
        settings: settings._tag === "Some" ? settings.value : undefined
      } satisfies SqliteReport
    })
    return yield* inspect.pipe(
      Effect.provide(JournalClient.layer(file, { durability: "full" })),
      Effect.catch((error) =>
        Effect.gen(function*() {
          return {
            backend: "sqlite",
            journal: absolute(file),
            integrity: [`cannot open: ${describeError(error)}`],
            fileMode,
            settings: undefined,
            migrations: undefined,
            migratedNow: [],
            runs: undefined,
            locks: undefined,
            now: yield* Clock.currentTimeMillis,
            staleAfterMillis: 0
          } satisfies SqliteReport
        })
      )
    )
  })

/** Inspects the PostgreSQL journal `url` names; a database that cannot be reached is a report, never a crash. */
const examinePostgres = (url: string): Effect.Effect<PostgresReport> =>
  Effect.gen(function*() {
    const server = yield* JournalHealth.pgServer()
    // Migrating is what a run would do first; PostgreSQL checks its own pages, so there is no damage to make worse.
    const found = yield* common(url, true)
    const tables = yield* Effect.option(JournalHealth.pgTableSizes())
    return {
      backend: "postgres",
      ...found,
      connection: ["ok"],
      server,
      tables: tables._tag === "Some" ? tables.value : undefined
    } satisfies PostgresReport
  }).pipe(
    Effect.provide(JournalClient.layer(url, { durability: "full" })),
    Effect.catch((error) =>
      Effect.gen(function*() {
        return {
          backend: "postgres",
          journal: redact(url),
          connection: [`cannot connect: ${scrub(url, describeError(error))}`],
          server: undefined,
          tables: undefined,
          migrations: undefined,
          migratedNow: [],
          runs: undefined,
          locks: undefined,
          now: yield* Clock.currentTimeMillis,
          staleAfterMillis: 0
        } satisfies PostgresReport
      })
    )
  )

/** The URL as given never appears in a report: only its redacted form. */
const scrub = (url: string, text: string) => text.split(url).join(redact(url))

/** Inspects the journal `file` names (an existing SQLite file, or a postgres:// URL). */
export const examine = (file: string): Effect.Effect<Report> => isPostgresUrl(file) ? examinePostgres(file) : examineSqlite(file)

const migrationName = (id: number, name: string) => `${String(id).padStart(4, "0")}_${name}`

// The Migrator records CURRENT_TIMESTAMP on SQLite: UTC, as "YYYY-MM-DD HH:MM:SS".
const sqliteUtc = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/

const isStale = (report: Report, lock: JournalHealth.LockRow) => report.now - lock.heartbeatAt > report.staleAfterMillis

/** The fields both backends report, as JSON. */
const commonJson = (report: Report) => ({
  schemaVersion: report.migrations === undefined ? null : report.migrations.at(-1)?.id ?? 0,
  migrations: report.migrations?.map((m) => ({
    id: m.id,
    name: migrationName(m.id, m.name),
    appliedAt: sqliteUtc.test(m.appliedAt) ? `${m.appliedAt.replace(" ", "T")}Z` : m.appliedAt
  })) ?? null,
  migratedNow: report.migratedNow,
  runs: report.runs ?? null,
  locks: report.locks?.map((lock) => ({
    lockKey: lock.lockKey,
    runId: lock.runId,
    pid: lock.pid,
    host: lock.host,
    heartbeatAt: new Date(lock.heartbeatAt).toISOString(),
    stale: isStale(report, lock)
  })) ?? null
})

/** The `--json` document. */
export const toJson = (report: Report) =>
  report.backend === "sqlite"
    ? {
      journal: report.journal,
      backend: report.backend,
      ok: isHealthy(report),
      integrity: report.integrity,
      fileMode: report.fileMode,
      fileModeOk: report.fileMode === "0600",
      journalMode: report.settings?.journalMode ?? null,
      synchronous: report.settings?.synchronous ?? null,
      busyTimeoutMillis: report.settings?.busyTimeoutMillis ?? null,
      foreignKeys: report.settings?.foreignKeys ?? null,
      ...commonJson(report)
    }
    : {
      journal: report.journal,
      backend: report.backend,
      ok: isHealthy(report),
      connection: report.connection,
      serverVersion: report.server?.version ?? null,
      fsync: report.server?.fsync ?? null,
      synchronousCommit: report.server?.synchronousCommit ?? null,
      databaseBytes: report.server?.databaseBytes ?? null,
      tables: report.tables ?? null,
      ...commonJson(report),
      notChecked: sqliteOnlyChecks.split(", ")
    }

const unknown = "unknown"

const bytes = (n: number): string =>
  n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(0)} kB` : `${(n / 1024 / 1024).toFixed(1)} MB`

const commonRows = (report: Report): ReadonlyArray<readonly [string, string]> => [
  [
    "schema",
    report.migrations === undefined
      ? unknown
      : `version ${report.migrations.at(-1)?.id ?? 0} (${
        report.migrations.map((m) => migrationName(m.id, m.name)).join(", ") || "no migrations"
      })` + (report.migratedNow.length === 0 ? "" : `; migrated now: ${report.migratedNow.join(", ")}`)
  ],
  ["runs", report.runs === undefined ? unknown : String(report.runs)],
  ["locks", report.locks === undefined ? unknown : locksText(report, report.locks)]
]

const locksText = (report: Report, locks: ReadonlyArray<JournalHealth.LockRow>): string => {
  if (locks.length === 0) return "none held"
  const stale = locks.filter((lock) => isStale(report, lock))
  const head = `${locks.length} held` + (stale.length === 0 ? "" : ` (${stale.length} stale: taken over by the next run of its key)`)
  return [head, ...locks.map((lock) =>
    `${lock.lockKey}: run ${lock.runId}, pid ${lock.pid} on ${lock.host === os.hostname() ? "this host" : lock.host}, ` +
    `heartbeat ${formatMillis(Math.max(0, report.now - lock.heartbeatAt))} ago${isStale(report, lock) ? " (stale)" : ""}`
  )].join("\n" + " ".repeat(16))
}

export const render = (report: Report): string => {
  const rows: ReadonlyArray<readonly [string, string]> = report.backend === "sqlite"
    ? [
      ["journal", report.journal],
      ["integrity", report.integrity.join("\n" + " ".repeat(16))],
      [
        "file mode",
        report.fileMode === "0600"
          ? report.fileMode
          : `${report.fileMode} (should be 0600: readable by others; opening the journal has now set 0600)`
      ],
      ["journal_mode", report.settings?.journalMode ?? unknown],
      [
        "synchronous",
        report.settings === undefined
          ? unknown
          : `${report.settings.synchronous} (${synchronousNames[report.settings.synchronous] ?? "?"})`
      ],
      ["busy_timeout", report.settings === undefined ? unknown : `${report.settings.busyTimeoutMillis} ms`],
      ["foreign_keys", report.settings === undefined ? unknown : report.settings.foreignKeys ? "on" : "off"],
      ...commonRows(report)
    ]
    : [
      ["journal", report.journal],
      ["connection", report.connection.join("\n" + " ".repeat(16))],
      ["server", report.server === undefined ? unknown : `PostgreSQL ${report.server.version}`],
      ["fsync", report.server === undefined ? unknown : report.server.fsync + (report.server.fsync === "on" ? "" : " (a crash of the server's machine can lose committed runs)")],
      [
        "sync commit",
        report.server === undefined
          ? unknown
          : report.server.synchronousCommit +
            (report.server.synchronousCommit === "off" ? " (the last commits reported done can be lost in a crash)" : "")
      ],
      ["database size", report.server === undefined ? unknown : bytes(report.server.databaseBytes)],
      ...commonRows(report),
      [
        "tables",
        report.tables === undefined ? unknown : report.tables.map((t) => `${t.table} ${bytes(t.bytes)}`).join(", ") || "none"
      ],
      ["not checked", `${sqliteOnlyChecks} (SQLite's own)`]
    ]
  return rows.map(([name, value]) => `${name.padEnd(14)}  ${value}`).join("\n")
}

export const command = Command.make("doctor", { journal: journalFlag, json: jsonFlag }, ({ journal, json }) =>
  Effect.gen(function*() {
    const report = yield* examine(yield* existingJournal(journal))
    yield* json ? printJson(toJson(report)) : print(render(report))
    const failed = failedCheck(report)
    if (failed !== undefined) return yield* new JournalUnhealthy({ journal: report.journal, check: failed })
  })).pipe(
    Command.withDescription(
      "Check the journal: schema version, runs, locks; SQLite: integrity, file mode, settings; PostgreSQL: connection, " +
        "server, durability settings, table sizes"
    )
  )
