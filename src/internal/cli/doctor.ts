/**
 * `runner doctor`: checks the journal — SQLite's integrity check, the file's mode, the settings the runner opens it
 * with, the schema version and the number of runs. Exit 0 when the integrity check says "ok", 2 otherwise.
 */
import * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as JournalHealth from "../sql/JournalHealth.ts"
import * as migrations from "../sql/migrations.ts"
import * as SqliteClient from "../sql/SqliteClient.ts"
import { journalFlag, print } from "./common.ts"
import { JournalUnhealthy } from "./exit.ts"
import { absolute, describeError, existingJournal, jsonFlag, printJson } from "./operator.ts"

/** What the doctor found. Fields it could not read (the file is not a database, say) are undefined. */
export interface Report {
  readonly journal: string
  /** The lines of `PRAGMA integrity_check` (exactly `["ok"]` when sound), or why it could not run. */
  readonly integrity: ReadonlyArray<string>
  /** The file's permission bits before the doctor opened it, e.g. `0600`. */
  readonly fileMode: string
  readonly settings: JournalHealth.Settings | undefined
  readonly migrations: ReadonlyArray<JournalHealth.AppliedMigration> | undefined
  /** The migrations this check applied (a journal written by an older runner). */
  readonly migratedNow: ReadonlyArray<string>
  readonly runs: number | undefined
}

export const isHealthy = (report: Report): boolean => report.integrity.length === 1 && report.integrity[0] === "ok"

const synchronousNames = ["OFF", "NORMAL", "FULL", "EXTRA"]

/** Inspects the journal at `file` (which exists); SQL failures become part of the report, never a crash. */
export const examine = (file: string): Effect.Effect<Report> =>
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
      const migratedNow = sound
        ? yield* migrations.run().pipe(
          Effect.map((applied) => applied.map(([id, name]) => migrationName(id, name))),
          Effect.catch((error) => Effect.succeed([`failed: ${describeError(error)}`]))
        )
        : []
      const applied = yield* Effect.option(JournalHealth.appliedMigrations())
      const runs = yield* Effect.option(JournalHealth.countRuns())
      return {
        journal: absolute(file),
        integrity,
        fileMode,
        settings: settings._tag === "Some" ? settings.value : undefined,
        migrations: applied._tag === "Some" ? applied.value : undefined,
        migratedNow,
        runs: runs._tag === "Some" ? runs.value : undefined
      } satisfies Report
    })
    return yield* inspect.pipe(
      Effect.provide(SqliteClient.layer({ filename: file, durability: "full" })),
      Effect.catch((error) =>
        Effect.succeed({
          journal: absolute(file),
          integrity: [`cannot open: ${describeError(error)}`],
          fileMode,
          settings: undefined,
          migrations: undefined,
          migratedNow: [],
          runs: undefined
        } satisfies Report)
      )
    )
  })

const migrationName = (id: number, name: string) => `${String(id).padStart(4, "0")}_${name}`

// The Migrator records CURRENT_TIMESTAMP: UTC, as "YYYY-MM-DD HH:MM:SS".
const sqliteUtc = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/

/** The `--json` document. */
export const toJson = (report: Report) => ({
  journal: report.journal,
  ok: isHealthy(report),
  integrity: report.integrity,
  fileMode: report.fileMode,
  fileModeOk: report.fileMode === "0600",
  journalMode: report.settings?.journalMode ?? null,
  synchronous: report.settings?.synchronous ?? null,
  busyTimeoutMillis: report.settings?.busyTimeoutMillis ?? null,
  foreignKeys: report.settings?.foreignKeys ?? null,
  schemaVersion: report.migrations === undefined ? null : report.migrations.at(-1)?.id ?? 0,
  migrations: report.migrations?.map((m) => ({
    id: m.id,
    name: migrationName(m.id, m.name),
    appliedAt: sqliteUtc.test(m.appliedAt) ? `${m.appliedAt.replace(" ", "T")}Z` : m.appliedAt
  })) ?? null,
  migratedNow: report.migratedNow,
  runs: report.runs ?? null
})

export const render = (report: Report): string => {
  const unknown = "unknown"
  const s = report.settings
  const rows: ReadonlyArray<readonly [string, string]> = [
    ["journal", report.journal],
    ["integrity", report.integrity.join("\n" + " ".repeat(16))],
    [
      "file mode",
      report.fileMode === "0600"
        ? report.fileMode
        : `${report.fileMode} (should be 0600: readable by others; opening the journal has now set 0600)`
    ],
    ["journal_mode", s?.journalMode ?? unknown],
    ["synchronous", s === undefined ? unknown : `${s.synchronous} (${synchronousNames[s.synchronous] ?? "?"})`],
    ["busy_timeout", s === undefined ? unknown : `${s.busyTimeoutMillis} ms`],
    ["foreign_keys", s === undefined ? unknown : s.foreignKeys ? "on" : "off"],
    [
      "schema",
      report.migrations === undefined
        ? unknown
        : `version ${report.migrations.at(-1)?.id ?? 0} (${
          report.migrations.map((m) => migrationName(m.id, m.name)).join(", ") || "no migrations"
        })` + (report.migratedNow.length === 0 ? "" : `; migrated now: ${report.migratedNow.join(", ")}`)
    ],
    ["runs", report.runs === undefined ? unknown : String(report.runs)]
  ]
  return rows.map(([name, value]) => `${name.padEnd(14)}  ${value}`).join("\n")
}

export const command = Command.make("doctor", { journal: journalFlag, json: jsonFlag }, ({ journal, json }) =>
  Effect.gen(function*() {
    const report = yield* examine(yield* existingJournal(journal))
    yield* json ? printJson(toJson(report)) : print(render(report))
    if (!isHealthy(report)) return yield* new JournalUnhealthy({ journal: report.journal })
  })).pipe(
    Command.withDescription("Check the journal: integrity, file mode, settings, schema version, number of runs")
  )
