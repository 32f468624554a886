/**
 * Tests against a PostgreSQL server (default 127.0.0.1:5432, user postgres, trust auth; `RUNNER_TEST_PG` overrides the
 * base URL). Each test file creates its own databases (`runner_test_<random>`) and drops them when done. Without a
 * reachable server, and without `CI`, the tests are skipped with one line; with `CI` set a missing server fails
 * (.ci/run installs and starts PostgreSQL).
 */
import { spawnSync } from "node:child_process"
import * as crypto from "node:crypto"
import { afterAll, it } from "vitest"
import { isCI, onPath } from "./tools.ts"

/** The server's base URL, without a database. */
export const base = process.env["RUNNER_TEST_PG"] ?? "postgres://postgres@127.0.0.1:5432"
const server = new URL(base)
const connection = ["-h", server.hostname, "-p", server.port || "5432", "-U", decodeURIComponent(server.username || "postgres")]

const reachable = (): boolean =>
  onPath("pg_isready") && onPath("psql") && spawnSync("pg_isready", connection, { encoding: "utf8" }).status === 0

/** Call at the top of a test file: `const pg = requirePostgres()`, then `describe.skipIf(pg.skip)(...)`. */
export const requirePostgres = (): { readonly skip: boolean } => {
  if (reachable()) return { skip: false }
  if (isCI()) {
    it("PostgreSQL is reachable (required because CI is set)", () => {
      throw new Error(`PostgreSQL not reachable at ${base} (or psql/pg_isready missing): apt-get install postgresql`)
    })
    return { skip: false }
  }
  process.stderr.write(`skipped: PostgreSQL not reachable at ${base} (apt-get install postgresql); CI=1 makes it required\n`)
  return { skip: true }
}

/** Runs SQL with psql in `database`; returns its unaligned, tuples-only output (`|`-separated columns). */
export const psql = (database: string, sql: string): string => {
  const result = spawnSync("psql", [...connection, "-d", database, "-v", "ON_ERROR_STOP=1", "-Atqc", sql], {
    encoding: "utf8"
  })
  if (result.status !== 0) throw new Error(`psql ${database}: ${result.stderr}`)
  return result.stdout
}

/**
 * Call at the top of a test file: `const database = databases()`, then `const { name, url } = database()` in a test
 * gives a new empty database, dropped after the file's tests.
 */
export const databases = (): () => { readonly name: string; readonly url: string } => {
  const made: Array<string> = []
  afterAll(() => {
    for (const name of made) {
      try {
        psql("postgres", `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } catch {
        // the server went away: nothing to drop
      }
    }
  })
  return () => {
    const name = `runner_test_${crypto.randomBytes(6).toString("hex")}`
    psql("postgres", `CREATE DATABASE ${name}`)
    made.push(name)
    return { name, url: `${base}/${name}` }
  }
}
