/** Reads (or changes) a journal file directly, as a second opinion on what the runner reports. */
import { DatabaseSync } from "node:sqlite"

export const withDb = <A>(file: string, f: (db: DatabaseSync) => A): A => {
  const db = new DatabaseSync(file)
  try {
    return f(db)
  } finally {
    db.close()
  }
}
