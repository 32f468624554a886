/**
 * What the cache commands read from (and prune in) the SQL journal: kept successes by key and by job, the file-hash
 * memo, and their trimming. Plain Effect functions over the current `SqlClient`, with parameterised statements only.
 * `--dry-run` and `runner why` read through these rather than through the Journal service, so a preview never writes
 * (the Journal's file-hash memo queues its updates for the next commit). Pruning never touches runs or jobs.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as SqlClient from "effect/sql/SqlClient"
import type * as FileHashes from "../cache/FileHashes.ts"
import type * as Journal from "../Journal.ts"

interface CacheRow {
  readonly cache_key: string
  readonly dag: string
  readonly job_id: string
  readonly run_id: string
  readonly output: string | null
  readonly manifest: string
  readonly created_at: number
}

const entryOf = (row: CacheRow): Journal.CacheEntry => ({
  key: row.cache_key,
  dag: row.dag,
  jobId: row.job_id,
  runId: row.run_id,
  json: row.output ?? undefined,
  manifest: row.manifest,
  createdAt: Number(row.created_at)
})

/** The success kept under a cache key, if any. */
export const entry = Effect.fn("CacheQueries.entry")(function*(key: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<CacheRow>`
    SELECT cache_key, dag, job_id, run_id, output, manifest, created_at FROM cache_entries WHERE cache_key = ${key}`
  return Option.map(Option.fromNullishOr(rows[0]), entryOf)
})

/** The newest success kept for a job of a DAG, whatever its key (as `Journal.latestCached`). */
export const latest = Effect.fn("CacheQueries.latest")(function*(dag: string, jobId: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<CacheRow>`
    SELECT cache_key, dag, job_id, run_id, output, manifest, created_at FROM cache_entries
    WHERE job_id = ${jobId} AND dag = ${dag} ORDER BY created_at DESC, rowid DESC LIMIT 1`
  return Option.map(Option.fromNullishOr(rows[0]), entryOf)
})

/** The whole file-hash memo, by absolute path. */
export const fileHashes = Effect.fn("CacheQueries.fileHashes")(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ path: string; size: number; mtime_ns: string; ino: string; sha256: string }>`
    SELECT path, size, mtime_ns, ino, sha256 FROM file_hashes`
  const known = new Map<string, FileHashes.Known>()
  for (const row of rows) known.set(row.path, { size: Number(row.size), mtimeNs: row.mtime_ns, ino: row.ino, sha256: row.sha256 })
  return known
})

/** What `prune` did. */
export interface Pruned {
  /** Cache entries deleted. */
  readonly removed: number
  /** Cache entries left. */
  readonly kept: number
  /** File-hash memo rows deleted (their files no longer exist). */
  readonly fileHashesRemoved: number
}

export interface PruneRequest {
  /** Delete entries created before this time (epoch ms). */
  readonly cutoff: number | undefined
  /** Keep at most this many entries per DAG and job, the newest. */
  readonly keep: number | undefined
  /** Whether a memoised file still exists (the memo of a deleted file is dropped). */
  readonly exists: (path: string) => boolean
}

/** SQLite's default limit of bound parameters is 999 on old builds: stay below it. */
const CHUNK = 500

/**
 * Deletes the cache entries created before `cutoff` and those beyond the newest `keep` of their DAG and job, and the
 * memo rows of files that no longer exist, in one write transaction (a run's success written meanwhile is not lost
 * between the count and the delete). Runs and their jobs are not touched: `runner history` and `show` still list a
 * job reused from a pruned entry.
 */
export const prune = Effect.fn("CacheQueries.prune")(function*(request: PruneRequest) {
  // The CASTs type the parameters for PostgreSQL, which cannot infer the type of a bare `$1 IS NOT NULL`.
  const sql = yield* SqlClient.SqlClient
  return yield* sql.withTransaction(Effect.gen(function*() {
    const cutoff = request.cutoff ?? null
    const keep = request.keep ?? null
    const deleted = yield* sql<{ readonly n: number }>`
      WITH ranked AS (
        SELECT rowid AS id, created_at,
               ROW_NUMBER() OVER (PARTITION BY dag, job_id ORDER BY created_at DESC, rowid DESC) AS newest
        FROM cache_entries
      )
      DELETE FROM cache_entries
      WHERE rowid IN (
        SELECT id FROM ranked
        WHERE (CAST(${cutoff} AS BIGINT) IS NOT NULL AND created_at < CAST(${cutoff} AS BIGINT))
           OR (CAST(${keep} AS BIGINT) IS NOT NULL AND newest > CAST(${keep} AS BIGINT))
      )
      RETURNING 1 AS n`
    const left = yield* sql<{ readonly n: number }>`SELECT count(*) AS n FROM cache_entries`
    const paths = yield* sql<{ readonly path: string }>`SELECT path FROM file_hashes`
    const gone = paths.map((row) => row.path).filter((p) => !request.exists(p))
    for (let i = 0; i < gone.length; i += CHUNK) {
      yield* sql`DELETE FROM file_hashes WHERE path IN ${sql.in(gone.slice(i, i + CHUNK))}`
    }
    return { removed: deleted.length, kept: Number(left[0]?.n ?? 0), fileHashesRemoved: gone.length } satisfies Pruned
  }))
})
