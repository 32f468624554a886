/**
 * What the dashboard reads from the journal. Every page is a fixed, small number of statements whatever the number of
 * runs (no query per run): the runs list is read by keyset (newest first, from a cursor) on the indexes of migration
 * 0010, and the grid reads its runs' jobs in one statement. One run's header and jobs reuse JournalQueries (the
 * statements of `runner show`), its log lines JournalQueries.logPage's order and cursor.
 */
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import type * as JournalQueries from "../sql/JournalQueries.ts"

/** The filters of the runs list (`/` and `/api/runs`). */
export interface RunFilters {
  readonly dag?: string | undefined
  readonly status?: string | undefined
  readonly key?: string | undefined
  readonly trigger?: string | undefined
  /** Epoch millis: runs started at or after. */
  readonly from?: number | undefined
  /** Epoch millis: runs started before. */
  readonly to?: number | undefined
}

/** A position in the runs list: the last run shown (its start and row id). */
export interface Cursor {
  readonly startedAt: number
  readonly rowid: number
}

export const formatCursor = (cursor: Cursor): string => `${cursor.startedAt}.${cursor.rowid}`

export const parseCursor = (text: string | undefined): Cursor | undefined => {
  const match = text === undefined ? null : /^(\d+)\.(\d+)$/.exec(text)
  return match === null ? undefined : { startedAt: Number(match[1]), rowid: Number(match[2]) }
}

/** A run in the list. */
export interface RunItem {
  readonly runId: string
  readonly dag: string
  readonly key: string | undefined
  readonly status: string
  readonly trigger: string
  readonly startedAt: number
  readonly endedAt: number | undefined
  /** From start to end (wall clock); undefined while it runs. */
  readonly wallClockMillis: number | undefined
  readonly failedJobs: ReadonlyArray<string>
}

const orUndefined = <A>(a: A | null): A | undefined => a === null ? undefined : a

interface ListRow {
  readonly rowid: number
  readonly id: string
  readonly dag: string
  readonly run_key: string | null
  readonly status: string
  readonly trigger: string
  readonly started_at: number
  readonly ended_at: number | null
}

/** A runs-list row as the pages show it, with its failed jobs (read by `failedJobsOf`). */
const itemOf = (row: ListRow, failed: ReadonlyMap<string, ReadonlyArray<string>>): RunItem => ({
  runId: row.id,
  dag: row.dag,
  key: orUndefined(row.run_key),
  status: row.status,
  trigger: row.trigger,
  startedAt: row.started_at,
  endedAt: orUndefined(row.ended_at),
  wallClockMillis: row.ended_at === null ? undefined : Math.max(0, row.ended_at - row.started_at),
  failedJobs: failed.get(row.id) ?? []
})

/** Failed jobs of the given runs, in plan order, in one statement. */
const failedJobsOf = Effect.fn("UiQueries.failedJobsOf")(function*(runIds: ReadonlyArray<string>) {
  const sql = yield* SqlClient.SqlClient
  const byRun = new Map<string, Array<string>>()
  if (runIds.length === 0) return byRun
  const rows = yield* sql<{ readonly run_id: string; readonly job_id: string }>`
    SELECT run_id, job_id FROM jobs WHERE run_id IN ${sql.in(runIds)} AND status = 'failed' ORDER BY rowid`
  for (const row of rows) {
    const list = byRun.get(row.run_id)
    if (list === undefined) byRun.set(row.run_id, [row.job_id])
    else list.push(row.job_id)
  }
  return byRun
})

/** One page of runs, newest first, and the cursor of the next page (if there is one). */
export const listRuns = Effect.fn("UiQueries.listRuns")(function*(
  filters: RunFilters,
  after: Cursor | undefined,
  limit: number
) {
  const sql = yield* SqlClient.SqlClient
  const conditions = [
    filters.dag === undefined ? undefined : sql`dag = ${filters.dag}`,
    filters.status === undefined ? undefined : sql`status = ${filters.status}`,
    filters.key === undefined ? undefined : sql`run_key = ${filters.key}`,
    filters.trigger === undefined ? undefined : sql`trigger = ${filters.trigger}`,
    filters.from === undefined ? undefined : sql`started_at >= ${filters.from}`,
    filters.to === undefined ? undefined : sql`started_at < ${filters.to}`,
    after === undefined
      ? undefined
      // Written so that SQLite seeks the index to the cursor (an OR of the two cases alone makes it scan from the top).
      : sql`started_at <= ${after.startedAt} AND (started_at < ${after.startedAt} OR rowid < ${after.rowid})`
  ].filter((c) => c !== undefined)
  const where = conditions.length === 0 ? sql`` : sql`WHERE ${sql.and(conditions)}`
  const rows = yield* sql<ListRow>`
    SELECT rowid, id, dag, run_key, status, trigger, started_at, ended_at FROM runs ${where}
    ORDER BY started_at DESC, rowid DESC LIMIT ${limit + 1}`
  const page = rows.slice(0, limit)
  const failed = yield* failedJobsOf(page.map((row) => row.id))
  const last = page[page.length - 1]
  return {
    runs: page.map((row) => itemOf(row, failed)),
    next: rows.length > limit && last !== undefined ? { startedAt: last.started_at, rowid: last.rowid } : undefined
  }
})

/** The given runs of one DAG (a grid's refresh of its unfinished runs), newest first, in one statement. */
export const runsByIds = Effect.fn("UiQueries.runsByIds")(function*(dag: string, runIds: ReadonlyArray<string>) {
  const sql = yield* SqlClient.SqlClient
  if (runIds.length === 0) return []
  const rows = yield* sql<ListRow>`
    SELECT rowid, id, dag, run_key, status, trigger, started_at, ended_at FROM runs
    WHERE id IN ${sql.in(runIds)} AND dag = ${dag} ORDER BY started_at DESC, rowid DESC`
  const failed = yield* failedJobsOf(rows.map((row) => row.id))
  return rows.map((row) => itemOf(row, failed))
})

/** The DAG names in the journal (for the filters), read from the index on (dag, started_at). */
export const dagNames = Effect.fn("UiQueries.dagNames")(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly dag: string }>`SELECT DISTINCT dag FROM runs ORDER BY dag LIMIT 500`
  return rows.map((row) => row.dag)
})

/** One cell of the grid: a job of a run. */
export interface GridCell {
  readonly status: string
  readonly attempts: number
  readonly durationMillis: number | undefined
}

/** The grid's rows (runs, newest first) and columns (jobs, in the plan order of the newest run that has them). */
export interface Grid {
  readonly runs: ReadonlyArray<RunItem>
  readonly jobIds: ReadonlyArray<string>
  /** runId → jobId → cell. */
  readonly cells: Readonly<Record<string, Readonly<Record<string, GridCell>>>>
}

/** The cells of the given runs, in one statement. */
export const gridCells = Effect.fn("UiQueries.gridCells")(function*(runIds: ReadonlyArray<string>) {
  const sql = yield* SqlClient.SqlClient
  const cells: Record<string, Record<string, GridCell>> = {}
  const jobIds: Array<string> = []
  if (runIds.length === 0) return { cells, jobIds }
  const rows = yield* sql<{
    readonly run_id: string
    readonly job_id: string
    readonly status: string
    readonly attempts: number
    readonly started_at: number | null
    readonly ended_at: number | null
  }>`SELECT run_id, job_id, status, attempts, started_at, ended_at FROM jobs WHERE run_id IN ${sql.in(runIds)}
     ORDER BY rowid`
  const seen = new Set<string>()
  for (const row of rows) {
    ;(cells[row.run_id] ??= {})[row.job_id] = {
      status: row.status,
      attempts: row.attempts,
      durationMillis: row.started_at === null || row.ended_at === null ? undefined : row.ended_at - row.started_at
    }
  }
  // Columns in the order of the newest run first, then jobs only older runs had.
  for (const runId of runIds) {
    for (const row of rows) {
      if (row.run_id === runId && !seen.has(row.job_id)) {
        seen.add(row.job_id)
        jobIds.push(row.job_id)
      }
    }
  }
  return { cells, jobIds }
})

/** The grid of a DAG's newest runs: two statements whatever the number of runs. */
export const grid = Effect.fn("UiQueries.grid")(function*(dag: string, limit: number) {
  const { runs } = yield* listRuns({ dag }, undefined, limit)
  const { cells, jobIds } = yield* gridCells(runs.map((run) => run.runId))
  return { runs, jobIds, cells } satisfies Grid
})

/** Every attempt of a run, for the Gantt chart, in the order they started. */
export interface AttemptRow {
  readonly jobId: string
  readonly attempt: number
  readonly status: string
  readonly startedAt: number
  readonly endedAt: number | undefined
}

export const attempts = Effect.fn("UiQueries.attempts")(function*(runId: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{
    readonly job_id: string
    readonly attempt: number
    readonly status: string
    readonly started_at: number
    readonly ended_at: number | null
  }>`SELECT job_id, attempt, status, started_at, ended_at FROM attempts WHERE run_id = ${runId} ORDER BY id`
  return rows.map((row): AttemptRow => ({
    jobId: row.job_id,
    attempt: row.attempt,
    status: row.status,
    startedAt: row.started_at,
    endedAt: orUndefined(row.ended_at)
  }))
})

/**
 * Each job's needs (job ids), or undefined for a run journaled before they were (migration 0011): the drawing then
 * has no edges.
 */
export const needs = Effect.fn("UiQueries.needs")(function*(runId: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly job_id: string; readonly needs: string }>`
    SELECT job_id, needs FROM jobs WHERE run_id = ${runId} AND needs IS NOT NULL`
  if (rows.length === 0) return undefined
  const byJob = new Map<string, ReadonlyArray<string>>()
  for (const row of rows) {
    try {
      const ids: unknown = JSON.parse(row.needs)
      if (Array.isArray(ids)) byJob.set(row.job_id, ids.filter((id): id is string => typeof id === "string"))
    } catch {
      // A damaged value draws the job without its edges rather than failing the page.
    }
  }
  return byJob
})

/** A wait of a job for a resource that ended (JobAdmitted): a permit, or a rate-limit slot. */
export interface WaitRow {
  readonly jobId: string
  readonly attempt: number
  readonly resource: string
  readonly kind: string
  /** True when the running attempt waited (`r.use`), false when the attempt waited to start (`uses`). */
  readonly call: boolean
  readonly startedAt: number
  readonly endedAt: number
}

/** Every journaled wait of a run, in the order they ended. */
export const waits = Effect.fn("UiQueries.waits")(function*(runId: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{
    readonly job_id: string
    readonly attempt: number
    readonly resource: string
    readonly kind: string
    readonly call: number
    readonly started_at: number
    readonly ended_at: number
  }>`SELECT job_id, attempt, resource, kind, call, started_at, ended_at FROM waits WHERE run_id = ${runId} ORDER BY id`
  return rows.map((row): WaitRow => ({
    jobId: row.job_id,
    attempt: row.attempt,
    resource: row.resource,
    kind: row.kind,
    call: row.call !== 0,
    startedAt: row.started_at,
    endedAt: row.ended_at
  }))
})

/** The journaled outputs of a run's jobs (JSON text, already masked: the journal never holds a secret in clear). */
export const outputs = Effect.fn("UiQueries.outputs")(function*(runId: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly job_id: string; readonly output: string | null }>`
    SELECT job_id, output FROM jobs WHERE run_id = ${runId} AND output IS NOT NULL ORDER BY rowid`
  return new Map(rows.map((row) => [row.job_id, row.output!]))
})

/** The filters of a log page. */
export interface LogFilters {
  readonly jobId?: string | undefined
  /** Text searched in messages, case-insensitively, on the server (the whole log, not only what is on screen). */
  readonly q?: string | undefined
  readonly level?: string | undefined
}

/** `lower(message)` contains `needle` (a plain substring, never a pattern): SQLite's instr, PostgreSQL's strpos. */
const contains = (sql: SqlClient.SqlClient, needle: string) =>
  sql.onDialectOrElse({
    pg: () => sql`strpos(lower(message), ${needle}) > 0`,
    orElse: () => sql`instr(lower(message), ${needle}) > 0`
  })

/** One page of a run's log lines after the line `afterId`, with the cursor of the next page. */
export const logPage = Effect.fn("UiQueries.logPage")(function*(
  runId: string,
  filters: LogFilters,
  afterId: number,
  limit: number
) {
  const sql = yield* SqlClient.SqlClient
  const conditions = [
    sql`run_id = ${runId}`,
    sql`id > ${afterId}`,
    filters.jobId === undefined ? undefined : sql`job_id = ${filters.jobId}`,
    filters.level === undefined ? undefined : sql`level = ${filters.level}`,
    filters.q === undefined ? undefined : contains(sql, filters.q.toLowerCase())
  ].filter((c) => c !== undefined)
  const rows = yield* sql<{
    readonly id: number
    readonly at: number
    readonly job_id: string | null
    readonly attempt: number | null
    readonly level: string
    readonly message: string
  }>`SELECT id, at, job_id, attempt, level, message FROM logs WHERE ${sql.and(conditions)} ORDER BY id
     LIMIT ${limit + 1}`
  const lines = rows.slice(0, limit).map((row): JournalQueries.LogRow => ({
    id: row.id,
    at: row.at,
    jobId: orUndefined(row.job_id),
    attempt: orUndefined(row.attempt),
    level: row.level,
    message: row.message
  }))
  return { lines, next: rows.length > limit ? lines[lines.length - 1]!.id : undefined }
})

/** What the live view needs to know changed: the run's status, its jobs' states, its last log line. */
export interface RunState {
  readonly status: string
  readonly endedAt: number | undefined
  readonly jobs: ReadonlyArray<{ readonly jobId: string; readonly status: string; readonly attempts: number }>
  readonly lastLogId: number
}

export const runState = Effect.fn("UiQueries.runState")(function*(runId: string) {
  const sql = yield* SqlClient.SqlClient
  const run = yield* sql<{ readonly status: string; readonly ended_at: number | null }>`
    SELECT status, ended_at FROM runs WHERE id = ${runId}`
  const row = run[0]
  if (row === undefined) return undefined
  const jobs = yield* sql<{ readonly job_id: string; readonly status: string; readonly attempts: number }>`
    SELECT job_id, status, attempts FROM jobs WHERE run_id = ${runId} ORDER BY rowid`
  const last = yield* sql<{ readonly id: number | null }>`SELECT max(id) AS id FROM logs WHERE run_id = ${runId}`
  return {
    status: row.status,
    endedAt: orUndefined(row.ended_at),
    jobs: jobs.map((job) => ({ jobId: job.job_id, status: job.status, attempts: job.attempts })),
    lastLogId: last[0]?.id ?? 0
  } satisfies RunState
})

/** Whether a run's status means it may still change. */
export const isLive = (status: string): boolean => status === "running" || status === "pending" || status === "queued"
