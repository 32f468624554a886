/**
 * What the operator commands (history, show, logs, prune, doctor, backfill status, ui) share: opening an existing
 * journal (a SQLite file or a PostgreSQL database) without ever creating one, the `--json` flag, and how times, durations and tables are printed.
 */
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as SqlClient from "effect/sql/SqlClient"
import { isSqlError, type SqlError } from "effect/sql/SqlError"
import * as fs from "node:fs"
import * as path from "node:path"
import { InvalidOption } from "../../Errors.ts"
import { JobNotInRun, JournalNotFound, JournalUnreadable, RunNotFound } from "../SetupErrors.ts"
import { formatMillis } from "../reporter/format.ts"
import { JournalError } from "../Journal.ts"
import * as migrations from "../sql/migrations.ts"
import * as SqliteClient from "../sql/SqliteClient.ts"
import { isPostgresUrl, redact } from "../sql/Dialect.ts"
import * as pgMigrations from "../sql/pgMigrations.ts"
import * as SqlJournal from "../sql/SqlJournal.ts"
import { journalPath } from "./common.ts"

/** `--json`: one JSON document on stdout instead of text. */
export const jsonFlag = Flag.Boolean("json").pipe(
  Flag.withDescription("print one JSON document (fields documented in the README) instead of text"),
  Flag.withDefault(false)
)

/** The messages of an error and its causes, without repeats: SqlError's own message hides SQLite's. */
export const describeError = (error: unknown): string => {
  const messages: Array<string> = []
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const message = (current as { message?: unknown }).message
    if (typeof message === "string" && message !== "" && !messages.some((m) => m.includes(message))) messages.push(message)
    current = (current as { cause?: unknown }).cause
  }
  return messages.length > 0 ? messages.join(": ") : String(error)
}

/**
 * The journal file the flag (or RUNNER_JOURNAL, or the default) names, if it exists: operator commands never create
 * one, so a mistyped path is reported instead of showing an empty history. A postgres:// URL is returned as given
 * (whether its database exists is known only once connected).
 */
export const existingJournal = (flag: Option.Option<string>): Effect.Effect<string, JournalNotFound | InvalidOption> =>
  Effect.suspend((): Effect.Effect<string, JournalNotFound | InvalidOption> => {
    const file = journalPath(flag)
    if (isPostgresUrl(file)) return Effect.succeed(file)
    if (file === "none") {
      return Effect.fail(new InvalidOption({ where: "--journal", reason: "none keeps no journal, so there is nothing to read" }))
    }
    return fs.existsSync(file) ? Effect.succeed(file) : Effect.fail(new JournalNotFound({ path: file }))
  })

/**
 * Runs `use` against an existing journal, opened as the runner opens it (durability full) and migrated, so a journal
 * written by an older runner can be read. The connection is closed when `use` ends. On a postgres:// journal `use`
 * is given the URL with its password redacted.
 */
export const withJournal = <A, E>(
  flag: Option.Option<string>,
  use: (file: string) => Effect.Effect<A, E, SqlClient.SqlClient>
): Effect.Effect<A, Exclude<E, SqlError | JournalError> | JournalNotFound | InvalidOption | JournalUnreadable> => {
  const url = journalPath(flag)
  if (isPostgresUrl(url)) return withPostgres(url, use)
  return Effect.flatMap(existingJournal(flag), (file) =>
    Effect.andThen(
      migrations.run().pipe(
        Effect.mapError((error) => new JournalUnreadable({ path: file, reason: `cannot migrate: ${describeError(error)}` }))
      ),
      use(file)
    ).pipe(
      Effect.provide(SqliteClient.layer({ filename: file, durability: "full" })),
      // A malformed record (JournalQueries decodes what it reads with Schemas) makes the journal unreadable too.
      Effect.mapError((error): Exclude<E, SqlError | JournalError> | JournalUnreadable =>
        isSqlError(error) || error instanceof JournalError
          ? new JournalUnreadable({ path: file, reason: describeError(error) })
          : error as Exclude<E, SqlError | JournalError> | JournalUnreadable
      )
    ))
}

/** `withJournal` on a PostgreSQL journal: the database must exist; its schema is migrated as a run would. */
const withPostgres = <A, E>(
  url: string,
  use: (file: string) => Effect.Effect<A, E, SqlClient.SqlClient>
): Effect.Effect<A, Exclude<E, SqlError | JournalError> | JournalUnreadable> => {
  const shown = redact(url)
  return Effect.scoped(Effect.gen(function*() {
    const client = yield* SqlJournal.postgresClient(url)
    return yield* Effect.andThen(
      pgMigrations.run().pipe(
        Effect.mapError((error) => new JournalUnreadable({ path: shown, reason: `cannot migrate: ${describeError(error)}` }))
      ),
      use(shown)
    ).pipe(Effect.provideService(SqlClient.SqlClient, client))
  })).pipe(
    Effect.provide(Reactivity.layer),
    Effect.mapError((error): Exclude<E, SqlError | JournalError> | JournalUnreadable =>
      isSqlError(error) || error instanceof JournalError
        ? new JournalUnreadable({ path: shown, reason: describeError(error).split(url).join(shown) })
        : error as Exclude<E, SqlError | JournalError> | JournalUnreadable
    )
  )
}

/** Writes one JSON document to stdout. */
export const printJson = (value: unknown) => Effect.sync(() => process.stdout.write(JSON.stringify(value, null, 2) + "\n"))

/** The absolute path of a journal, as reported in JSON (a PostgreSQL journal's URL, password redacted, as it is). */
export const absolute = (file: string): string => isPostgresUrl(file) ? redact(file) : path.resolve(file)

const pad2 = (n: number) => String(n).padStart(2, "0")

/** A time as ISO 8601 in the local time zone, with its offset: `2026-11-30T14:05:09+01:00`. */
export const localTime = (millis: number, withMillis = false): string => {
  const d = new Date(millis)
  const offset = -d.getTimezoneOffset()
  const sign = offset < 0 ? "-" : "+"
  const abs = Math.abs(offset)
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}` +
    `T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}` +
    (withMillis ? `.${String(d.getMilliseconds()).padStart(3, "0")}` : "") +
    `${sign}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`
}

/** A time for JSON: ISO 8601 in UTC with milliseconds, or null. */
export { isoTime } from "../sql/JournalQueries.ts"

/** The milliseconds between two times, or undefined when either is unknown. */
export const durationMillis = (start: number | undefined, end: number | undefined): number | undefined =>
  start === undefined || end === undefined ? undefined : Math.max(0, end - start)

/** A duration as the run summary prints it (`39ms`, `1.2s`, `3m5s`), or `-`. */
export const formatDuration = (millis: number | undefined): string => millis === undefined ? "-" : formatMillis(millis)

/** Columns padded to their widest cell; columns listed in `right` are right-aligned; no trailing spaces. */
export const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  right: ReadonlyArray<number> = []
): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, i) =>
      i === cells.length - 1 && !right.includes(i)
        ? cell
        : right.includes(i)
        ? cell.padStart(widths[i]!)
        : cell.padEnd(widths[i]!)
    ).join("  ").trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}
