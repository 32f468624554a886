/**
 * A plain `SqlClient` to a journal, SQLite file or PostgreSQL database alike, for the commands that read or write
 * tables beside the Journal service (the backfill store, the dashboard, the doctor). Their statements are written
 * once, parameterised, in SQL both backends run (or chosen with `sql.onDialectOrElse`), so that which database a
 * journal is in is decided here and nowhere else. Not migrated: callers migrate as they need (`migrate`).
 */
import * as Layer from "effect/Layer"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as Journal from "../Journal.ts"
import { isPostgresUrl } from "./Dialect.ts"
import * as migrations from "./migrations.ts"
import * as pgMigrations from "./pgMigrations.ts"
import * as SqliteClient from "./SqliteClient.ts"
import * as SqlJournal from "./SqlJournal.ts"

/** How to open the journal: SQLite's durability, and whether the connection may only read. */
export interface Options {
  readonly durability: "full" | "normal"
  /**
   * SQLite: a read-only, `query_only` connection. PostgreSQL: every transaction of its sessions is read-only
   * (`default_transaction_read_only`), so the dashboard cannot write there either. Default: false.
   */
  readonly readOnly?: boolean
}

/** A client of the journal `path` names (a SQLite file, or a postgres:// URL: the password never shown in errors). */
export const layer = (path: string, options: Options): Layer.Layer<SqlClient.SqlClient, Journal.JournalError | SqlError> =>
  isPostgresUrl(path)
    ? Layer.effect(SqlClient.SqlClient)(SqlJournal.postgresClient(path, { readOnly: options.readOnly === true })).pipe(
      Layer.provide(Reactivity.layer)
    )
    : SqliteClient.layer({ filename: path, durability: options.durability, ...(options.readOnly === true ? { readOnly: true } : {}) })

/** Migrates the journal in context to the newest schema with its backend's migrations; returns what was applied. */
export const migrate = (path: string) => isPostgresUrl(path) ? pgMigrations.run() : migrations.run()
