/**
 * The fsync floor the journal is compared with: one small write transaction committed on a WAL file through
 * node:sqlite, as the journal commits (used by bench/inprocess.ts and bench/journal.ts, on every runtime).
 */
import { DatabaseSync } from "node:sqlite"

/** The time of each of `commits` one-row write transactions on a new database `file`, in µs. The caller removes it. */
export const commitMicros = (file: string, commits: number, synchronous: "FULL" | "NORMAL"): Array<number> => {
  const db = new DatabaseSync(file)
  try {
    db.exec("PRAGMA journal_mode = WAL")
    db.exec(`PRAGMA synchronous = ${synchronous}`)
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    const insert = db.prepare("INSERT INTO t (v) VALUES (?)")
    const times: Array<number> = []
    for (let i = 0; i < commits; i++) {
      const start = performance.now()
      db.exec("BEGIN IMMEDIATE")
      insert.run(`row ${i}`)
      db.exec("COMMIT")
      times.push((performance.now() - start) * 1000)
    }
    return times
  } finally {
    db.close()
  }
}
