/**
 * What operators read from (and prune in) the SQL journal: run history, one run with its jobs, a run's logs, and the
 * journal's own health. Plain Effect functions over the current `SqlClient`, with parameterised statements only; the
 * executor never uses them, so data flows one way: the Journal writes, these read.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import * as Audit from "../Audit.ts"
import * as Encoding from "../Encoding.ts"
import { JournalError } from "../Journal.ts"
import type * as ClusterPrune from "./ClusterPrune.ts"
import { BEGIN_LOCK } from "./Dialect.ts"

/** A run as listed by `runner history`. */
export interface RunSummary {
  readonly runId: string
  readonly dag: string
  readonly key: string | undefined
  readonly status: string
  readonly trigger: string
  /** Epoch milliseconds. */
  readonly startedAt: number
  readonly endedAt: number | undefined
  /**
   * How long the run ran: the sum of its executions' times (a run resumed after a failure or a crash has several),
   * without the time between them; undefined while it runs. Equal to the wall-clock span for a run never resumed.
   */
  readonly activeMillis: number | undefined
  /** How many times the run was started or resumed (0 in journals older than the executions record). */
  readonly executionCount: number
  /** The ids of the jobs that failed, in plan order. */
  readonly failedJobs: ReadonlyArray<string>
  /** How many jobs the run has, and how they ended up: ran, reused from an earlier run (cached), skipped. */
  readonly jobCounts: JobCounts
}

/** A run's jobs by what became of them (`countJobs` in reporter/format.ts says the same of a list of jobs). */
export interface JobCounts {
  readonly total: number
  readonly ran: number
  readonly cached: number
  readonly skipped: number
}

/** A run with everything the journal knows about it, for `runner show`. */
export interface RunDetail extends Omit<RunSummary, "failedJobs" | "activeMillis" | "executionCount" | "jobCounts"> {
  readonly activeMillis: number | undefined
  readonly host: string
  readonly pid: number
  readonly runnerVersion: string
  readonly definitionHash: string
  /** Who and what executed the run, one entry per start or resume (Audit.ts), oldest first. */
  readonly executions: ReadonlyArray<Record<string, unknown>>
}

/** One job of a run. */
export interface JobDetail {
  readonly jobId: string
  readonly status: string
  readonly attempts: number
  readonly startedAt: number | undefined
  readonly endedAt: number | undefined
  /**
   * How long the job ran: from its first attempt to the end of its last within each execution of the run, summed
   * (backoff between attempts counts, the time between a failed run and its resume does not). Undefined if it never
   * ended.
   */
  readonly activeMillis: number | undefined
  /** The rendered error of a failed job, in full (defects carry their stack). */
  readonly error: string | undefined
  /** Why the job was skipped. */
  readonly reason: string | undefined
  /** For a `cached` job: the run whose success it reused. */
  readonly cachedFrom: string | undefined
}

/** A time for JSON: ISO 8601 in UTC with milliseconds, or null (`--json` output and the dashboard's API). */
export const isoTime = (millis: number | undefined): string | null =>
  millis === undefined ? null : new Date(millis).toISOString()

/** A job as `runner show --json` and the dashboard's API give it: times ISO 8601 UTC, null for what is unknown. */
export const jobDocument = (job: JobDetail) => ({
  jobId: job.jobId,
  status: job.status,
  attempts: job.attempts,
  startedAt: isoTime(job.startedAt),
  endedAt: isoTime(job.endedAt),
  durationMillis: job.activeMillis ?? null,
  error: job.error ?? null,
  skipReason: job.reason ?? null,
  cachedFrom: job.cachedFrom ?? null
})

/** One log line of a run. */
export interface LogLine {
  readonly at: number
  readonly jobId: string | undefined
  readonly attempt: number | undefined
  readonly level: string
  readonly message: string
}

/** The statuses of a run that has ended; only these are pruned. */
export const finishedStatuses: ReadonlyArray<string> = ["succeeded", "failed", "interrupted"]

const orUndefined = <A>(a: A | null): A | undefined => a === null ? undefined : a

interface RunRow {
  readonly id: string
  readonly dag: string
  readonly run_key: string | null
  readonly status: string
  readonly trigger: string
  readonly started_at: number
  readonly ended_at: number | null
  readonly host: string
  readonly pid: number
  readonly runner_version: string
  readonly definition_hash: string
  readonly executions?: string
}

/** What history and show both say of a run. */
const runOf = (row: RunRow): Omit<RunSummary, "failedJobs" | "activeMillis" | "executionCount" | "jobCounts"> => ({
  runId: row.id,
  dag: row.dag,
  key: orUndefined(row.run_key),
  status: row.status,
  trigger: row.trigger,
  startedAt: row.started_at,
  endedAt: orUndefined(row.ended_at)
})

/**
 * A run's audit records (Audit.ts writes one per start or resume), decoded with their Schema; a malformed column fails
 * with a JournalError naming the run and what is wrong, instead of a crash.
 */
const executionsOf = (row: RunRow): Effect.Effect<ReadonlyArray<typeof Audit.Record.Type>, JournalError> =>
  Schema.decodeUnknownEffect(Audit.Executions)(row.executions ?? "[]").pipe(
    Effect.mapError((error) =>
      new JournalError({
        operation: "read",
        reason: `run ${row.id}: its audit records (runs.executions) are malformed: ${Encoding.schemaMessage(error)}`
      })
    )
  )

/** When each execution of a run began: the run's start, then each resume. */
const executionStarts = (row: RunRow, executions: ReadonlyArray<typeof Audit.Record.Type>): ReadonlyArray<number> => [
  row.started_at,
  ...executions.slice(1).map((e) => e.at)
]

/**
 * How long a run ran: each execution from its start to its end, summed. The journal keeps only the last execution's
 * end (the run's `ended_at`); an earlier one ended with the last attempt it recorded (a crash leaves no other trace).
 */
const activeMillis = Effect.fn("JournalQueries.activeMillis")(function*(
  row: RunRow,
  executions: ReadonlyArray<typeof Audit.Record.Type>
) {
  if (row.ended_at === null) return undefined
  const starts = executionStarts(row, executions)
  if (starts.length <= 1) return Math.max(0, row.ended_at - row.started_at)
  const sql = yield* SqlClient.SqlClient
  let total = 0
  for (let i = 0; i < starts.length; i++) {
    const start = starts[i]!
    const next = starts[i + 1]
    if (next === undefined) {
      total += Math.max(0, row.ended_at - start)
      break
    }
    const last = yield* sql<{ readonly at: number | null }>`
      SELECT max(coalesce(ended_at, started_at)) AS at FROM attempts
      WHERE run_id = ${row.id} AND started_at >= ${start} AND started_at < ${next}`
    total += Math.max(0, Math.min(last[0]?.at ?? start, next) - start)
  }
  return total
})

/** The newest runs first, of one DAG or of all, with the ids of their failed jobs. */
export const history = Effect.fn("JournalQueries.history")(function*(
  options: { readonly dag: string | undefined; readonly limit: number }
) {
  const sql = yield* SqlClient.SqlClient
  const where = options.dag === undefined ? sql`` : sql`WHERE dag = ${options.dag}`
  const runs = yield* sql<RunRow>`
    SELECT id, dag, run_key, status, trigger, started_at, ended_at, host, pid, runner_version, definition_hash, executions
    FROM runs ${where} ORDER BY started_at DESC, rowid DESC LIMIT ${options.limit}`
  // One query for the failed jobs of every listed run; jobs' rowid order is the plan order (RunStarted inserts them).
  const failed = yield* sql<{ readonly run_id: string; readonly job_id: string }>`
    SELECT j.run_id, j.job_id FROM jobs j
    JOIN (SELECT id FROM runs ${where} ORDER BY started_at DESC, rowid DESC LIMIT ${options.limit}) r ON r.id = j.run_id
    WHERE j.status = 'failed' ORDER BY j.rowid`
  const byRun = new Map<string, Array<string>>()
  for (const row of failed) {
    const list = byRun.get(row.run_id)
    if (list === undefined) byRun.set(row.run_id, [row.job_id])
    else list.push(row.job_id)
  }
  // And one for their job counts, as `countJobs` (reporter/format.ts) makes them.
  const counted = yield* sql<{ readonly run_id: string } & JobCounts>`
    SELECT j.run_id, count(*) AS total,
           sum(CASE WHEN j.status NOT IN ('cached', 'skipped') AND j.attempts > 0 THEN 1 ELSE 0 END) AS ran,
           sum(CASE WHEN j.status = 'cached' THEN 1 ELSE 0 END) AS cached,
           sum(CASE WHEN j.status = 'skipped' THEN 1 ELSE 0 END) AS skipped
    FROM jobs j
    JOIN (SELECT id FROM runs ${where} ORDER BY started_at DESC, rowid DESC LIMIT ${options.limit}) r ON r.id = j.run_id
    GROUP BY j.run_id`
  const counts = new Map(counted.map(({ run_id, ...c }) => [run_id, c]))
  return yield* Effect.forEach(runs, (row) =>
    Effect.gen(function*() {
      const executions = yield* executionsOf(row)
      return {
        ...runOf(row),
        activeMillis: yield* activeMillis(row, executions),
        executionCount: executions.length,
        failedJobs: byRun.get(row.id) ?? [],
        jobCounts: counts.get(row.id) ?? { total: 0, ran: 0, cached: 0, skipped: 0 }
      } satisfies RunSummary
    }))
})

/** One run, if the journal has it. */
export const run = Effect.fn("JournalQueries.run")(function*(runId: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<RunRow>`
    SELECT id, dag, run_key, status, trigger, started_at, ended_at, host, pid, runner_version, definition_hash, executions
    FROM runs WHERE id = ${runId}`
  const row = rows[0]
  if (row === undefined) return Option.none<RunDetail>()
  const executions = yield* executionsOf(row)
  return Option.some<RunDetail>({
    ...runOf(row),
    activeMillis: yield* activeMillis(row, executions),
    host: row.host,
    pid: row.pid,
    runnerVersion: row.runner_version,
    definitionHash: row.definition_hash,
    executions
  })
})

/** The jobs of a run, in plan order. */
export const jobs = Effect.fn("JournalQueries.jobs")(function*(runId: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{
    readonly job_id: string
    readonly status: string
    readonly attempts: number
    readonly started_at: number | null
    readonly ended_at: number | null
    readonly error: string | null
    readonly reason: string | null
    readonly cached_from: string | null
  }>`SELECT job_id, status, attempts, started_at, ended_at, error, reason, cached_from FROM jobs
     WHERE run_id = ${runId} ORDER BY rowid`
  const attempts = yield* sql<{
    readonly job_id: string
    readonly attempt: number
    readonly started_at: number
    readonly ended_at: number | null
  }>`SELECT job_id, attempt, started_at, ended_at FROM attempts WHERE run_id = ${runId} ORDER BY id`
  const byJob = new Map<string, Array<(typeof attempts)[number]>>()
  for (const attempt of attempts) {
    const list = byJob.get(attempt.job_id)
    if (list === undefined) byJob.set(attempt.job_id, [attempt])
    else list.push(attempt)
  }
  return rows.map((row): JobDetail => ({
    jobId: row.job_id,
    status: row.status,
    attempts: row.attempts,
    startedAt: orUndefined(row.started_at),
    endedAt: orUndefined(row.ended_at),
    activeMillis: jobActiveMillis(byJob.get(row.job_id) ?? [], orUndefined(row.started_at), orUndefined(row.ended_at)),
    error: orUndefined(row.error),
    reason: orUndefined(row.reason),
    cachedFrom: orUndefined(row.cached_from)
  }))
})


/**
 * How long a job ran, from its attempts in order: attempt numbers restart at each execution of the run, so each
 * execution's attempts are a stretch from the first one's start to the last one's end; the stretches are summed. The
 * last stretch ends when the job did; an earlier one with the end of its last attempt (its start, after a crash).
 */
const jobActiveMillis = (
  attempts: ReadonlyArray<{ readonly attempt: number; readonly started_at: number; readonly ended_at: number | null }>,
  startedAt: number | undefined,
  endedAt: number | undefined
): number | undefined => {
  if (endedAt === undefined) return undefined
  if (attempts.length === 0) return startedAt === undefined ? undefined : Math.max(0, endedAt - startedAt)
  let total = 0
  let from = attempts[0]!.started_at
  attempts.forEach((attempt, i) => {
    const next = attempts[i + 1]
    if (next === undefined) total += Math.max(0, (attempt.ended_at ?? endedAt) - from)
    else if (next.attempt <= attempt.attempt) {
      total += Math.max(0, (attempt.ended_at ?? attempt.started_at) - from)
      from = next.started_at
    }
  })
  return total
}

/** A log line with its row id, the cursor of the next page. */
export interface LogRow extends LogLine {
  readonly id: number
}

/**
 * One page of a run's log lines in the order they were written (optionally of one job only): at most `limit` lines
 * after the row `afterId`. A job can print millions of lines, so readers page through them instead of loading all.
 */
export const logPage = Effect.fn("JournalQueries.logPage")(function*(
  runId: string,
  jobId: string | undefined,
  afterId: number,
  limit: number
) {
  const sql = yield* SqlClient.SqlClient
  const job = jobId === undefined ? sql`` : sql`AND job_id = ${jobId}`
  const rows = yield* sql<{
    readonly id: number
    readonly at: number
    readonly job_id: string | null
    readonly attempt: number | null
    readonly level: string
    readonly message: string
  }>`SELECT id, at, job_id, attempt, level, message FROM logs
     WHERE run_id = ${runId} ${job} AND id > ${afterId} ORDER BY id LIMIT ${limit}`
  return rows.map((row): LogRow => ({
    id: row.id,
    at: row.at,
    jobId: orUndefined(row.job_id),
    attempt: orUndefined(row.attempt),
    level: row.level,
    message: row.message
  }))
})

/** The widest `job#attempt` (`-` for the run's own lines) and level of a run's log lines, to align them page by page. */
export const logWidths = Effect.fn("JournalQueries.logWidths")(function*(runId: string, jobId: string | undefined) {
  const sql = yield* SqlClient.SqlClient
  const job = jobId === undefined ? sql`` : sql`AND job_id = ${jobId}`
  const rows = yield* sql<{ readonly who: number | null; readonly level: number | null; readonly n: number }>`
    SELECT max(CASE WHEN job_id IS NULL THEN 1 WHEN attempt IS NULL THEN length(job_id)
                    ELSE length(job_id) + 1 + length(CAST(attempt AS TEXT)) END) AS who,
           max(length(level)) AS level, count(*) AS n
    FROM logs WHERE run_id = ${runId} ${job}`
  const row = rows[0]
  return { who: row?.who ?? 0, level: row?.level ?? 0, count: row?.n ?? 0 }
})

/** What `prune` did. */
export interface Pruned {
  /** The deleted runs, oldest first. */
  readonly runIds: ReadonlyArray<string>
  /** Runs started before the cutoff that were kept because they are unfinished or locked. */
  readonly kept: number
  /** Cluster mode's rows deleted with them (ClusterPrune.ts). */
  readonly cluster: ClusterPrune.ClusterPruned
}

/**
 * Deletes the finished runs that ended before `cutoff` (epoch millis), with their jobs, attempts, checkpoints and logs
 * (foreign keys cascade). A run that is unfinished, or whose lock is held, is never deleted.
 */
export const prune = Effect.fn("JournalQueries.prune")(function*(cutoff: number) {
  const sql = yield* SqlClient.SqlClient
  // Loaded by `runner prune` only: the operator commands that read (history, show, logs) do not need cluster code.
  const ClusterPrune = yield* Effect.promise(() => import("./ClusterPrune.ts"))
  // One write transaction (BEGIN IMMEDIATE): a runner cannot take a lock on a run between the check and the delete.
  return yield* sql.withTransaction(Effect.gen(function*() {
    // PostgreSQL: the lock every begin takes (SqlJournal), for the same guarantee.
    yield* sql.onDialectOrElse({ pg: () => sql`SELECT pg_advisory_xact_lock(${BEGIN_LOCK})`, orElse: () => Effect.void })
    const deleted = yield* sql<{ readonly id: string }>`
      DELETE FROM runs
      WHERE status IN ${sql.in(finishedStatuses)} AND ended_at IS NOT NULL AND ended_at < ${cutoff}
        AND id NOT IN (SELECT run_id FROM locks)
      RETURNING id, started_at`
    const kept = yield* sql<{ readonly n: number }>`
      SELECT count(*) AS n FROM runs
      WHERE started_at < ${cutoff} AND (status NOT IN ${sql.in(finishedStatuses)} OR id IN (SELECT run_id FROM locks))`
    const ordered = [...deleted] as Array<{ readonly id: string; readonly started_at: number }>
    ordered.sort((a, b) => a.started_at - b.started_at || (a.id < b.id ? -1 : 1))
    const cluster = yield* ClusterPrune.prune(cutoff)
    return { runIds: ordered.map((row) => row.id), kept: Number(kept[0]?.n ?? 0), cluster } satisfies Pruned
  }))
})
