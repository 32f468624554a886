/**
 * Following a run from its journal: what the journal holds about one run becomes RunEvents and log lines for the
 * Reporter, as they are committed, so the submitter of a cluster run shows the usual live view, log lines and summary
 * (pretty, plain or json, as a local run does) though its jobs run in other processes. Only reads, with parameterised
 * SQL both dialects run (SQLite and PostgreSQL); it renders nothing of its own.
 *
 * What the journal cannot give back is approximated and said so: a retried attempt's delay is the time between the
 * failure and the next start (the failure is shown when that start is seen), an open wait shows only once it ended,
 * a failure's Cause is its rendered text (typed causes do not cross processes), and whether a job is critical is not
 * journaled: jobs are taken as critical (the default) except those that failed in a run that succeeded, and those the
 * caller names (`nonCritical`: the submitter knows them from the task file).
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import { JournalError } from "../Journal.ts"
import { type LogEntry, Reporter } from "../reporter/Reporter.ts"
import type * as RunEvent from "../RunEvent.ts"

/** How often the journal is read while the run goes. Default 250 ms. */
const POLL_MILLIS = 250

/** Log lines read per query: a job may print millions. */
const LOG_PAGE = 5000

export interface Options {
  /** Completes when the run has ended (or following should stop): then one last read, and the summary. */
  readonly until: Effect.Effect<void>
  /** Milliseconds between reads of the journal. Default: 250. */
  readonly pollMillis?: number
  /**
   * The jobs declared `critical: false`, when the follower knows the task file (the submitter does): the journal does
   * not keep it. Default: none known (see the module's note).
   */
  readonly nonCritical?: ReadonlyArray<string>
}

/**
 * Replays to the Reporter what the journal holds about the run's latest execution (a run that already ended is
 * replayed whole), then what is committed, every `pollMillis`, until `until` completes; then reads once more and
 * reports the RunFinished made from the final rows. Returns it, or undefined when the journal does not say the run
 * ended (it goes on elsewhere: the submitter detached).
 */
export const follow = (
  runId: string,
  options: Options
): Effect.Effect<RunEvent.RunFinished | undefined, JournalError, Reporter | SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const reporter = yield* Reporter
    const sql = yield* SqlClient.SqlClient
    const cursor = new Cursor(runId, sql.onDialectOrElse({ pg: () => SETTLE_MILLIS, orElse: () => 0 }))
    // A read is never cut in half: what was shown and what the cursor says stay the same.
    const poll = Effect.uninterruptible(read(sql, reporter, cursor, false))
    yield* Effect.raceFirst(
      Effect.forever(Effect.andThen(poll, Effect.sleep(options.pollMillis ?? POLL_MILLIS))),
      options.until
    )
    yield* read(sql, reporter, cursor, true)
    const finished = yield* summarize(sql, cursor, new Set(options.nonCritical ?? []))
    if (finished !== undefined) yield* reporter.event(finished)
    return finished
  }).pipe(
    Effect.catchTag("SqlError", (error) =>
      Effect.fail(new JournalError({ operation: `follow run ${runId}`, reason: error.message }))),
    Effect.withSpan("Follow.follow")
  )

interface RunRow {
  readonly dag: string
  readonly status: string
  readonly started_at: number
  readonly ended_at: number | null
  readonly executions: string
}

interface JobRow {
  readonly job_id: string
  readonly status: string
  readonly started_at: number | null
  readonly ended_at: number | null
  readonly needs: string | null
  readonly error: string | null
  readonly reason: string | null
  readonly cached_from: string | null
}

interface AttemptRow {
  readonly id: number
  readonly job_id: string
  readonly attempt: number
  readonly status: string
  readonly started_at: number
  readonly ended_at: number | null
  readonly error: string | null
}

interface WaitRow {
  readonly id: number
  readonly job_id: string
  readonly attempt: number
  readonly resource: string
  readonly kind: string
  readonly call: number
  readonly started_at: number
  readonly ended_at: number
}

/**
 * The rows of one table read so far, by id. On SQLite one writer commits at a time, so ids become visible in order and
 * the next read starts after the last id. On PostgreSQL several writers (workers) commit concurrently, and an id taken
 * earlier can become visible after a later one: ids are read again for `settleMillis` after a higher one was seen
 * (the journal's transactions are short), and each is shown once.
 */
class Tail {
  /** Every id up to this one was read, or will never be visible. */
  low = 0
  private max = 0
  private readonly seen = new Set<number>()
  private readonly marks: Array<{ readonly at: number; readonly max: number }> = []
  readonly settleMillis: number
  constructor(settleMillis: number) {
    this.settleMillis = settleMillis
  }
  /** True while the id was never read (without marking it read). */
  unread(id: number): boolean {
    return id > this.low && !this.seen.has(id)
  }
  /** True the first time the id is read. */
  fresh(id: number): boolean {
    if (id <= this.low || this.seen.has(id)) return false
    if (this.settleMillis > 0) this.seen.add(id)
    if (id > this.max) this.max = id
    return true
  }
  /**
   * After a read at `now`: the ids up to the highest seen `settleMillis` ago are all visible now, up to `cap` (an id
   * that must be read again whatever: a held log line).
   */
  settle(now: number, cap = Number.POSITIVE_INFINITY): void {
    this.marks.push({ at: now, max: this.max })
    while (this.marks.length > 0 && this.marks[0]!.at <= now - this.settleMillis) {
      if (this.marks[0]!.max > cap) {
        this.low = Math.max(this.low, cap)
        break
      }
      this.low = Math.max(this.low, this.marks.shift()!.max)
    }
    for (const id of this.seen) if (id <= this.low) this.seen.delete(id)
  }
}

/** How long an id of PostgreSQL's is read again after a higher one was seen (see Tail). */
const SETTLE_MILLIS = 2000

/**
 * How long a log line may wait for its attempt's start to become visible. On PostgreSQL the line and the attempt row
 * are committed by different transactions, and the line's can become visible first: shown at once, a job's line came
 * before its own AttemptStarted. The line (and every line after it) waits for the row, at most this long.
 */
const HOLD_MILLIS = 5000

/** What was shown of the run so far: the next read starts after it. */
class Cursor {
  readonly runId: string
  dag = ""
  /** When the followed execution began: rows older than it belong to an earlier execution of the run. */
  since = 0
  started = false
  readonly attempts: Tail
  /** Attempt rows whose start was shown and whose end was not: read again until it is (a few: those running). */
  readonly openAttempts = new Set<number>()
  readonly waits: Tail
  readonly logs: Tail
  /** Jobs whose end without an attempt of its own (skipped, cached, interrupted while waiting) was shown. */
  readonly jobsEnded = new Set<string>()
  /** The number of each job's latest attempt seen. */
  readonly lastAttemptOf = new Map<string, number>()
  /** Log lines waiting for their attempt's start (see HOLD_MILLIS): id -> when this follower first held it. */
  readonly held = new Map<number, number>()
  constructor(runId: string, settleMillis: number) {
    this.runId = runId
    this.attempts = new Tail(settleMillis)
    this.waits = new Tail(settleMillis)
    this.logs = new Tail(settleMillis)
  }
}

/** The order of events of the same millisecond: starts before the lines they log, ends after, skips last. */
const rank = (event: RunEvent.RunEvent): number => {
  switch (event._tag) {
    case "RunStarted":
      return 0
    case "JobRestored":
      return 1
    case "JobWaiting":
      return 2
    case "JobAdmitted":
      return 3
    case "AttemptStarted":
      return 4
    case "AttemptFailed":
    case "AttemptSucceeded":
    case "JobInterrupted":
      return 6
    default:
      return 7
  }
}
/** Where log lines go in that order. */
const LOG_RANK = 5

const orUndefined = <A>(a: A | null): A | undefined => a === null ? undefined : a

/** Journaled JSON as a value for display, without the job's schema (the follower has none). */
const decodeOutput = (json: string | null): unknown => {
  if (json === null) return undefined
  try {
    return JSON.parse(json)
  } catch {
    return json
  }
}

/** The audit records of the run (runs.executions): the start of the latest, and the options it ran with. */
const latestExecution = (run: RunRow) => {
  let records: ReadonlyArray<Record<string, unknown>> = []
  try {
    const parsed: unknown = JSON.parse(run.executions)
    if (Array.isArray(parsed)) records = parsed.filter((r): r is Record<string, unknown> => typeof r === "object" && r !== null)
  } catch {
    // a malformed record says nothing: the run's own start stands
  }
  const last = records[records.length - 1]
  const at = records.length > 1 && typeof last?.["at"] === "number" ? last["at"] : run.started_at
  const concurrency = typeof last?.["concurrency"] === "number" ? last["concurrency"] : 0
  const mode = last?.["failureMode"]
  const failureMode: RunEvent.FailureMode = mode === "kill" || mode === "continue" ? mode : "no-new"
  return { at, resumed: records.length > 1, concurrency, failureMode }
}

const readRun = (sql: SqlClient.SqlClient, runId: string) =>
  Effect.map(
    sql<RunRow>`SELECT dag, status, started_at, ended_at, executions FROM runs WHERE id = ${runId}`,
    (rows) => rows[0]
  )

const readJobs = (sql: SqlClient.SqlClient, runId: string) =>
  sql<JobRow>`SELECT job_id, status, started_at, ended_at, needs, error, reason, cached_from FROM jobs
              WHERE run_id = ${runId} ORDER BY rowid`

const readAttempts = (sql: SqlClient.SqlClient, runId: string, since: number) =>
  sql<AttemptRow>`SELECT id, job_id, attempt, status, started_at, ended_at, error FROM attempts
                  WHERE run_id = ${runId} AND started_at >= ${since} ORDER BY id`

/** The attempts begun after the last read, and those read before whose end was not shown. */
const readNewAttempts = (sql: SqlClient.SqlClient, cursor: Cursor) =>
  Effect.gen(function*() {
    const fresh = yield* sql<AttemptRow>`SELECT id, job_id, attempt, status, started_at, ended_at, error FROM attempts
      WHERE run_id = ${cursor.runId} AND id > ${cursor.attempts.low} AND started_at >= ${cursor.since} ORDER BY id`
    const known = fresh.filter((row) => cursor.openAttempts.has(row.id))
    const older = [...cursor.openAttempts].filter((id) => id <= cursor.attempts.low)
    const open = older.length === 0 ? [] : yield* sql<AttemptRow>`
      SELECT id, job_id, attempt, status, started_at, ended_at, error FROM attempts
      WHERE run_id = ${cursor.runId} AND id IN ${sql.in(older)}`
    // Open attempts (read again for their end) and the ones never read; not those already shown to their end.
    const rows = [...open, ...known, ...fresh.filter((row) => !cursor.openAttempts.has(row.id) && cursor.attempts.fresh(row.id))]
    return rows.sort((a, b) => a.id - b.id)
  })

/**
 * One read of the journal: the run's start (once its jobs are journaled), then the attempts, waits and job ends not
 * shown yet, merged by time with the new log lines. `final`: the run has ended, so a failure that waits to learn if it
 * is retried is shown as the last.
 */
const read = (sql: SqlClient.SqlClient, reporter: Reporter["Service"], cursor: Cursor, final: boolean) =>
  Effect.gen(function*() {
    const run = yield* readRun(sql, cursor.runId)
    if (run === undefined) return
    const jobs = yield* readJobs(sql, cursor.runId)
    if (!cursor.started) {
      // RunStarted inserts the jobs' rows: before them the run has only begun (or its DAG has no job).
      if (jobs.length === 0 && !(final && run.ended_at !== null)) return
      const execution = latestExecution(run)
      cursor.dag = run.dag
      cursor.since = execution.at
      cursor.started = true
      const needs = jobs.map((job) => parseNeeds(job.needs))
      yield* reporter.event({
        _tag: "RunStarted",
        runId: cursor.runId,
        resumed: execution.resumed,
        dag: run.dag,
        at: execution.at,
        jobIds: jobs.map((job) => job.job_id),
        ...(needs.every((n) => n !== undefined) ? { needs: needs as ReadonlyArray<ReadonlyArray<string>> } : {}),
        concurrency: execution.concurrency,
        failureMode: execution.failureMode
      })
      for (const job of jobs) {
        if (job.status === "succeeded" && job.ended_at !== null && job.ended_at < cursor.since) {
          cursor.jobsEnded.add(job.job_id)
          yield* reporter.event({ _tag: "JobRestored", runId: cursor.runId, jobId: job.job_id, at: execution.at })
        }
      }
    }
    const events = [
      ...yield* attemptEvents(sql, cursor, jobs, final),
      ...yield* waitEvents(sql, cursor),
      ...jobEndEvents(cursor, jobs)
    ].sort((a, b) => a.at - b.at || rank(a) - rank(b))
    let next = 0
    const before = (at: number) => {
      const out: Array<RunEvent.RunEvent> = []
      while (next < events.length && (events[next]!.at < at || (events[next]!.at === at && rank(events[next]!) < LOG_RANK))) {
        out.push(events[next++]!)
      }
      return out
    }
    const now = yield* Clock.currentTimeMillis
    /** A line of an attempt whose start is not visible yet waits (see HOLD_MILLIS): true for the first such line. */
    const waitsForItsAttempt = (line: { readonly id: number; readonly job_id: string | null; readonly attempt: number | null }) => {
      if (final || line.job_id === null || line.attempt === null) return false
      if ((cursor.lastAttemptOf.get(line.job_id) ?? 0) >= line.attempt) return false
      const since = cursor.held.get(line.id)
      if (since === undefined) cursor.held.set(line.id, now)
      return since === undefined || now - since < HOLD_MILLIS
    }
    let after = cursor.logs.low
    let holding = false
    while (!holding) {
      const lines = yield* sql<{
        readonly id: number
        readonly at: number
        readonly job_id: string | null
        readonly attempt: number | null
        readonly level: string
        readonly message: string
      }>`SELECT id, at, job_id, attempt, level, message FROM logs
         WHERE run_id = ${cursor.runId} AND id > ${after} AND at >= ${cursor.since} ORDER BY id LIMIT ${LOG_PAGE}`
      for (const line of lines) {
        if (cursor.logs.unread(line.id) && waitsForItsAttempt(line)) {
          // Order within a job comes first: this line and the ones after it are read again at the next poll.
          holding = true
          break
        }
        after = line.id
        cursor.held.delete(line.id)
        if (!cursor.logs.fresh(line.id)) continue
        for (const event of before(line.at)) yield* reporter.event(event)
        reporter.log({
          at: line.at,
          level: line.level as LogEntry["level"],
          message: line.message,
          jobId: orUndefined(line.job_id),
          attempt: orUndefined(line.attempt),
          runId: cursor.runId
        })
      }
      if (lines.length < LOG_PAGE) break
    }
    for (const event of events.slice(next)) yield* reporter.event(event)
    // Settled as of the end of the reads (`now` is their start, when the held lines' waits are measured from).
    const readAt = yield* Clock.currentTimeMillis
    cursor.attempts.settle(readAt)
    cursor.waits.settle(readAt)
    cursor.logs.settle(readAt, cursor.held.size === 0 ? undefined : Math.min(...cursor.held.keys()) - 1)
  })

const parseNeeds = (json: string | null): ReadonlyArray<string> | undefined => {
  if (json === null) return undefined
  try {
    const parsed: unknown = JSON.parse(json)
    return Array.isArray(parsed) ? parsed.map(String) : undefined
  } catch {
    return undefined
  }
}

/** The starts and ends of attempts not shown yet. */
const attemptEvents = (sql: SqlClient.SqlClient, cursor: Cursor, jobs: ReadonlyArray<JobRow>, final: boolean) =>
  Effect.gen(function*() {
    const rows = yield* readNewAttempts(sql, cursor)
    const jobOf = new Map(jobs.map((job) => [job.job_id, job]))
    const events: Array<RunEvent.RunEvent> = []
    const { runId } = cursor
    for (const [i, row] of rows.entries()) {
      const e = { runId, jobId: row.job_id, attempt: row.attempt }
      cursor.lastAttemptOf.set(row.job_id, row.attempt)
      if (!cursor.openAttempts.has(row.id)) {
        cursor.openAttempts.add(row.id)
        events.push({ _tag: "AttemptStarted", ...e, at: row.started_at })
      }
      if (row.status === "running" || row.ended_at === null) continue
      const job = jobOf.get(row.job_id)
      const ended = (event: RunEvent.RunEvent) => {
        cursor.openAttempts.delete(row.id)
        events.push(event)
      }
      switch (row.status) {
        case "succeeded": {
          // The job's row holds the output of its success (committed in the same transaction as this row).
          const output = yield* sql<{ readonly output: string | null }>`
            SELECT output FROM jobs WHERE run_id = ${runId} AND job_id = ${row.job_id}`
          const json = output[0]?.output ?? null
          ended({ _tag: "AttemptSucceeded", ...e, at: row.ended_at, output: decodeOutput(json), json: orUndefined(json) })
          break
        }
        case "interrupted":
          cursor.jobsEnded.add(row.job_id)
          ended({ _tag: "JobInterrupted", ...e, at: row.ended_at, ...(row.error === null ? {} : { reason: row.error }) })
          break
        default: {
          // Failed (or closed by another status): retried when a later attempt of the job follows, the last when the
          // job ended; until one or the other is journaled the failure waits, so its retry delay can be told.
          const retry = rows.slice(i + 1).find((r) => r.job_id === row.job_id)
          const jobEnded = job !== undefined && job.status !== "running" && job.status !== "pending"
          if (retry === undefined && !jobEnded && !final) continue
          const error = row.status === "failed" ? row.error ?? "failed" : `${row.status}${row.error === null ? "" : `: ${row.error}`}`
          ended({
            _tag: "AttemptFailed",
            ...e,
            at: row.ended_at,
            error,
            cause: Cause.fail(error),
            retryInMillis: retry === undefined ? undefined : Math.max(0, retry.started_at - row.ended_at)
          })
        }
      }
    }
    return events
  })

/** Waits for permits and rate-limit slots that ended (the journal keeps no open wait): each as a wait and its end. */
const waitEvents = (sql: SqlClient.SqlClient, cursor: Cursor) =>
  Effect.gen(function*() {
    const rows = yield* sql<WaitRow>`
      SELECT id, job_id, attempt, resource, kind, call, started_at, ended_at FROM waits
      WHERE run_id = ${cursor.runId} AND id > ${cursor.waits.low} AND started_at >= ${cursor.since} ORDER BY id`
    const events: Array<RunEvent.RunEvent> = []
    for (const row of rows) {
      if (!cursor.waits.fresh(row.id)) continue
      const kind = row.kind === "rate" ? "rate" : "permit"
      const e = { runId: cursor.runId, jobId: row.job_id, attempt: row.attempt, resource: row.resource, kind, call: row.call !== 0 } as const
      events.push({ _tag: "JobWaiting", ...e, at: row.started_at, until: undefined })
      events.push({ _tag: "JobAdmitted", ...e, at: row.ended_at, waitedMillis: Math.max(0, row.ended_at - row.started_at) })
    }
    return events
  })

/** Jobs that ended without an attempt of theirs saying so: skipped, cached, interrupted between attempts. */
const jobEndEvents = (cursor: Cursor, jobs: ReadonlyArray<JobRow>): Array<RunEvent.RunEvent> => {
  const events: Array<RunEvent.RunEvent> = []
  const { runId } = cursor
  for (const job of jobs) {
    if (cursor.jobsEnded.has(job.job_id) || job.ended_at === null || job.ended_at < cursor.since) continue
    const at = job.ended_at
    switch (job.status) {
      case "skipped":
        cursor.jobsEnded.add(job.job_id)
        events.push({ _tag: "JobSkipped", runId, jobId: job.job_id, at, reason: job.reason ?? "not started" })
        break
      case "cached":
        cursor.jobsEnded.add(job.job_id)
        events.push({
          _tag: "JobCached",
          runId,
          jobId: job.job_id,
          at,
          fromRunId: job.cached_from ?? "",
          // The reused success's own time is the other run's; the follower shows the job's as it is journaled.
          cachedAt: at,
          output: undefined,
          json: undefined,
          key: ""
        })
        break
      case "interrupted":
        // An attempt row ended interrupted says it (attemptEvents); this is a job interrupted between attempts (its
        // last one failed, the retry had not started) or before its first.
        cursor.jobsEnded.add(job.job_id)
        events.push({
          _tag: "JobInterrupted",
          runId,
          jobId: job.job_id,
          attempt: cursor.lastAttemptOf.get(job.job_id) ?? 0,
          at,
          ...(job.reason === null ? {} : { reason: job.reason })
        })
        break
    }
  }
  return events
}

/** The RunFinished of an ended run, from its final rows; undefined while the journal says it runs. */
const summarize = (sql: SqlClient.SqlClient, cursor: Cursor, nonCritical: ReadonlySet<string>) =>
  Effect.gen(function*() {
    const run = yield* readRun(sql, cursor.runId)
    if (run === undefined || run.ended_at === null) return undefined
    const status = run.status
    if (status !== "succeeded" && status !== "failed" && status !== "interrupted") return undefined
    const since = cursor.started ? cursor.since : latestExecution(run).at
    const jobs = yield* readJobs(sql, cursor.runId)
    const attempts = yield* readAttempts(sql, cursor.runId, since)
    const waits = yield* sql<{ readonly job_id: string; readonly started_at: number; readonly ended_at: number }>`
      SELECT job_id, started_at, ended_at FROM waits
      WHERE run_id = ${cursor.runId} AND call = 0 AND started_at >= ${since}`
    const summaries = jobs.map((job): RunEvent.JobSummary => {
      const own = attempts.filter((a) => a.job_id === job.job_id)
      const waited = waits.filter((w) => w.job_id === job.job_id)
      const waitedMillis = waited.reduce((sum, w) => sum + Math.max(0, w.ended_at - w.started_at), 0)
      const restored = job.status === "succeeded" && job.ended_at !== null && job.ended_at < since
      const jobStatus: RunEvent.JobStatus = restored
        ? "restored"
        : job.status === "succeeded" || job.status === "cached" || job.status === "failed" || job.status === "interrupted"
        ? job.status
        : "skipped"
      // From its first wait or attempt in this execution to its end, as the executor measures it.
      const firsts = [...own.map((a) => a.started_at), ...waited.map((w) => w.started_at)]
      const start = firsts.length === 0 ? job.started_at : Math.min(...firsts)
      const durationMillis = restored || job.ended_at === null || start === null ? 0 : Math.max(0, job.ended_at - start)
      const lastAttempt = own[own.length - 1]
      return {
        jobId: job.job_id,
        status: jobStatus,
        // Not journaled: jobs are critical unless declared otherwise, and a job that failed in a run that succeeded
        // was not (without `nonCritical`, a failed run's non-critical failures are shown as critical).
        critical: !nonCritical.has(job.job_id) &&
          !(status === "succeeded" && (jobStatus === "failed" || jobStatus === "interrupted")),
        attempts: lastAttempt?.attempt ?? 0,
        durationMillis,
        waitedMillis,
        detail: detailOf(job, jobStatus, status),
        ...(job.cached_from === null ? {} : { cachedFrom: job.cached_from })
      }
    })
    // A first execution starts when the run began; a resumed one's start is not journaled (its audit record is made
    // before the task file loads): its first attempt or wait stands for it.
    const firsts = [...attempts.map((a) => a.started_at), ...waits.map((w) => w.started_at)]
    const start = since === run.started_at || firsts.length === 0 ? since : Math.min(...firsts)
    return {
      _tag: "RunFinished",
      runId: cursor.runId,
      dag: run.dag,
      at: run.ended_at,
      status,
      durationMillis: Math.max(0, run.ended_at - start),
      jobs: summaries
    } satisfies RunEvent.RunFinished
  })

/** Why a job failed or was skipped, as the executor's summary says it. */
const detailOf = (job: JobRow, status: RunEvent.JobStatus, runStatus: string): string | undefined => {
  switch (status) {
    case "failed":
      return orUndefined(job.error)
    case "skipped":
      return job.reason ?? (runStatus === "interrupted" ? "not started: the run was interrupted" : "not started")
    case "interrupted":
      return job.reason === null ? "interrupted" : `interrupted: ${job.reason}`
    default:
      return undefined
  }
}
