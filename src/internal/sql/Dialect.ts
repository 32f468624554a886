/**
 * The journal's SQL for PostgreSQL. The writer's statements (EventStatements.ts, SqlJournal.ts) are written once, in
 * SQLite's syntax with `?` placeholders; on a PostgreSQL journal each text is rewritten here, once (memoised: the same
 * few dozen texts are executed thousands of times). Only the constructs the journal uses are rewritten; a text with
 * one this module does not know fails loudly at its first use (a test runs every statement on both backends).
 */

/** Which database a journal is in. */
export type Dialect = "sqlite" | "pg"

/** The primary key of each table an `INSERT OR REPLACE` writes: PostgreSQL's upsert names its conflict target. */
const primaryKeys: Readonly<Record<string, ReadonlyArray<string>>> = {
  checkpoints: ["run_id", "job_id", "step"],
  processes: ["run_id", "host", "pid"],
  cache_entries: ["cache_key"],
  file_hashes: ["path"],
  locks: ["lock_key"]
}

/**
 * PostgreSQL: the advisory lock every begin takes for its transaction (an arbitrary constant of this runner's), and
 * `prune` too, so a run is never deleted while a runner takes its lock.
 */
export const BEGIN_LOCK = 0x72756e62

const cache = new Map<string, string>()

/** `text` (SQLite, `?` placeholders) as PostgreSQL runs it (`$1`, upserts, JSON functions). */
export const toPostgres = (text: string): string => {
  const known = cache.get(text)
  if (known !== undefined) return known
  let out = text
  // SQLite's json_each over an array gives `value` as text for strings; over an object, `value` is the member's JSON.
  out = out.replace(/SELECT \?, value, 'pending' FROM json_each\(\?\)/, "SELECT ?, value, 'pending' FROM json_array_elements_text(?::json)")
  out = out.replace(/SELECT \?, key, 'pending', value FROM json_each\(\?\)/, "SELECT ?, key, 'pending', value::text FROM json_each(?::json)")
  if (/\bjson_each\(\?\)|\bjson_insert\b/.test(out)) throw new Error(`no PostgreSQL form for: ${text}`)
  const ignore = /^\s*INSERT OR IGNORE INTO/.test(out)
  if (ignore) out = out.replace(/INSERT OR IGNORE INTO/, "INSERT INTO") + " ON CONFLICT DO NOTHING"
  const replace = /^\s*INSERT OR REPLACE INTO (\w+) \(([^)]*)\)/.exec(out)
  if (replace !== null) {
    const table = replace[1]!
    const key = primaryKeys[table]
    if (key === undefined) throw new Error(`no primary key known for ${table} in: ${text}`)
    const columns = replace[2]!.split(",").map((c) => c.trim()).filter((c) => !key.includes(c))
    out = out.replace(/INSERT OR REPLACE INTO/, "INSERT INTO") +
      ` ON CONFLICT (${key.join(", ")}) DO ` +
      (columns.length === 0 ? "NOTHING" : `UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(", ")}`)
  }
  // The schedule's upsert keeps the later slot: SQLite's scalar max is PostgreSQL's greatest.
  out = out.replace(/max\(last_slot, excluded\.last_slot\)/, "greatest(schedules.last_slot, excluded.last_slot)")
  let n = 0
  out = out.replace(/\?/g, () => `$${++n}`)
  cache.set(text, out)
  return out
}

/** PostgreSQL URLs (`postgres://` or `postgresql://`) name a PostgreSQL journal; anything else is a SQLite file. */
export const isPostgresUrl = (path: string): boolean => /^postgres(ql)?:\/\//i.test(path)

/** A journal's name as people may see it: a URL's password is replaced by `***` (never printed, logged or journaled). */
export const redact = (path: string): string =>
  isPostgresUrl(path) ? path.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/i, "$1:***@") : path
