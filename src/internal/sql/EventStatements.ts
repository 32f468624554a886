/**
 * The journal's writes for each run event, as SQL text with `?` placeholders and parameters: what the executor
 * reports becomes rows. Pure: SqlJournal's writer commits them in batches behind the run's lock.
 */
import type * as RunEvent from "../RunEvent.ts"

/** One SQL statement of the journal: fixed SQLite text with `?` placeholders, and its parameters. */
export type Statement = readonly [sql: string, params: ReadonlyArray<unknown>]

export const statement = (text: string, ...params: ReadonlyArray<unknown>): Statement => [text, params]

/** Ends the latest try of an attempt (a resumed run may have several rows for one attempt number). */
const updateAttempt = (e: { runId: string; jobId: string; attempt: number }, status: string, at: number, error: string | null) =>
  statement(
    `UPDATE attempts SET status = ?, ended_at = ?, error = ?
     WHERE id = (SELECT max(id) FROM attempts WHERE run_id = ? AND job_id = ? AND attempt = ?)`,
    status, at, error, e.runId, e.jobId, e.attempt
  )

/**
 * What an event changes in the journal; `owner` is this process, journaled on the run it starts. `existing`: for a
 * `RunStarted`, the ids of the jobs the run already has rows for (a resumed run), whose rows are left as they are.
 */
export const statements = (
  event: RunEvent.RunEvent,
  definitionHash: string | undefined,
  owner: { readonly host: string; readonly pid: number },
  existing?: ReadonlySet<string>
): ReadonlyArray<Statement> => {
  switch (event._tag) {
    case "RunStarted": {
      const running = statement(`UPDATE runs SET status = 'running', host = ?, pid = ?, ended_at = NULL WHERE id = ?`, owner.host, owner.pid, event.runId)
      // A resumed run's rows are there already (the same plan, as a rule): the JSON of the others only, and no INSERT
      // when there are none. Writing all 10,000 of a resumed run for SQLite to ignore took ~15 ms before its first
      // job (the JSON, then a lookup of each row).
      const jobIds = existing === undefined ? event.jobIds : event.jobIds.filter((id) => !existing.has(id))
      if (jobIds.length === 0) return [running]
      const needs = event.needs === undefined || existing === undefined
        ? event.needs
        : event.jobIds.flatMap((id, i) => existing.has(id) ? [] : [event.needs![i] ?? []])
      return [
        running,
        // One statement for all the jobs' rows (10,000 single-row INSERTs took ~0.1 s before the first job started),
        // each with the ids it needs as JSON (NULL when the event does not say).
        needs === undefined
          ? statement(
            `INSERT OR IGNORE INTO jobs (run_id, job_id, status) SELECT ?, value, 'pending' FROM json_each(?)`,
            event.runId, JSON.stringify(jobIds)
          )
          : statement(
            // An object id → needs, written by hand to keep the plan's order (JSON.stringify would put ids like "1"
            // first): json_each reads it in one pass, each row's value already the needs' JSON text.
            `INSERT OR IGNORE INTO jobs (run_id, job_id, status, needs) SELECT ?, key, 'pending', value FROM json_each(?)`,
            event.runId,
            `{${jobIds.map((id, i) => `${JSON.stringify(id)}:${JSON.stringify(needs[i] ?? [])}`).join(",")}}`
          )
      ]
    }
    case "AttemptStarted":
      return [
        statement(
          `INSERT INTO attempts (run_id, job_id, attempt, status, started_at) VALUES (?, ?, ?, 'running', ?)`,
          event.runId, event.jobId, event.attempt, event.at
        ),
        statement(
          `UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = coalesce(started_at, ?),
           error = NULL, reason = NULL WHERE run_id = ? AND job_id = ?`,
          event.at, event.runId, event.jobId
        )
      ]
    case "AttemptFailed":
      return [
        updateAttempt(event, "failed", event.at, event.error),
        ...(event.retryInMillis !== undefined ? [] : [statement(
          `UPDATE jobs SET status = 'failed', ended_at = ?, error = ? WHERE run_id = ? AND job_id = ?`,
          event.at, event.error, event.runId, event.jobId
        )])
      ]
    case "AttemptSucceeded":
      return [
        updateAttempt(event, "succeeded", event.at, null),
        statement(
          `UPDATE jobs SET status = 'succeeded', ended_at = ?, output = ?, definition_hash = ?, error = NULL
           WHERE run_id = ? AND job_id = ?`,
          event.at, event.json ?? null, definitionHash ?? null, event.runId, event.jobId
        ),
        // In the same transaction as the success: a key is never reused for a success that was not committed.
        ...(event.cache === undefined ? [] : [statement(
          `INSERT OR REPLACE INTO cache_entries (cache_key, dag, job_id, run_id, output, manifest, created_at)
           SELECT ?, dag, ?, ?, ?, ?, ? FROM runs WHERE id = ?`,
          event.cache.key, event.jobId, event.runId, event.json ?? null, event.cache.manifest, event.at, event.runId
        )])
      ]
    case "JobCached":
      return [statement(
        `UPDATE jobs SET status = 'cached', started_at = ?, ended_at = ?, output = ?, definition_hash = ?,
         cached_from = ?, error = NULL, reason = NULL WHERE run_id = ? AND job_id = ?`,
        event.at, event.at, event.json ?? null, definitionHash ?? null, event.fromRunId, event.runId, event.jobId
      )]
    case "JobSkipped":
      return [statement(
        `UPDATE jobs SET status = 'skipped', reason = ?, ended_at = ? WHERE run_id = ? AND job_id = ? AND status NOT IN ('succeeded', 'cached')`,
        event.reason, event.at, event.runId, event.jobId
      )]
    case "JobInterrupted":
      return [
        // Only an attempt still running was interrupted: one that failed before a retry delay keeps its error.
        statement(
          `UPDATE attempts SET status = 'interrupted', ended_at = ?, error = ?
           WHERE id = (SELECT max(id) FROM attempts WHERE run_id = ? AND job_id = ? AND attempt = ?) AND status = 'running'`,
          event.at, event.reason ?? null, event.runId, event.jobId, event.attempt
        ),
        statement(
          `UPDATE jobs SET status = 'interrupted', ended_at = ?, reason = ? WHERE run_id = ? AND job_id = ?`,
          event.at, event.reason ?? null, event.runId, event.jobId
        )
      ]
    case "JobAdmitted":
      // A wait that ended, for the dashboard's timeline (a wait still open is only in the live view).
      return [statement(
        `INSERT INTO waits (run_id, job_id, attempt, resource, kind, call, started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        event.runId, event.jobId, event.attempt, event.resource, event.kind, event.call ? 1 : 0,
        event.at - event.waitedMillis, event.at
      )]
    case "JobRestored":
    case "JobWaiting":
      return []
    case "RunFinished":
      return [statement(`UPDATE runs SET status = ?, ended_at = ? WHERE id = ?`, event.status, event.at, event.runId)]
  }
}
