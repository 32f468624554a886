/**
 * The JSON the dashboard serves (`/api/runs`, `/api/runs/<runId>`, `/api/grid`), each document described by a Schema
 * and encoded through it, so what the README documents is what is sent. Times are ISO 8601 in UTC; durations in
 * milliseconds; absent values are null.
 */
import * as Schema from "effect/Schema"
import * as JournalQueries from "../sql/JournalQueries.ts"
import type { AttemptRow, Grid, RunItem, WaitRow } from "./Queries.ts"

const Time = Schema.NullOr(Schema.String)
const Millis = Schema.NullOr(Schema.Number)

export const RunSummary = Schema.Struct({
  runId: Schema.String,
  dag: Schema.String,
  key: Schema.NullOr(Schema.String),
  status: Schema.String,
  trigger: Schema.String,
  startedAt: Schema.String,
  endedAt: Time,
  wallClockMillis: Millis,
  failedJobs: Schema.Array(Schema.String)
})

/** `/api/runs`: a page of runs, newest first; `next` is the `after` of the next page. */
export const RunList = Schema.Struct({ runs: Schema.Array(RunSummary), next: Schema.NullOr(Schema.String) })

export const Job = Schema.Struct({
  jobId: Schema.String,
  status: Schema.String,
  attempts: Schema.Number,
  startedAt: Time,
  endedAt: Time,
  durationMillis: Millis,
  error: Schema.NullOr(Schema.String),
  skipReason: Schema.NullOr(Schema.String),
  cachedFrom: Schema.NullOr(Schema.String),
  output: Schema.NullOr(Schema.Unknown),
  /** The job ids it needs; null for a run journaled before needs were (migration 0011). */
  needs: Schema.NullOr(Schema.Array(Schema.String))
})

export const Attempt = Schema.Struct({
  jobId: Schema.String,
  attempt: Schema.Number,
  status: Schema.String,
  startedAt: Schema.String,
  endedAt: Time
})

export const Wait = Schema.Struct({
  jobId: Schema.String,
  attempt: Schema.Number,
  resource: Schema.String,
  kind: Schema.String,
  call: Schema.Boolean,
  startedAt: Schema.String,
  endedAt: Schema.String
})

/** `/api/runs/<runId>`: the run, its jobs in plan order, every attempt, and who executed it. */
export const RunDocument = Schema.Struct({
  run: Schema.Struct({
    runId: Schema.String,
    dag: Schema.String,
    key: Schema.NullOr(Schema.String),
    status: Schema.String,
    trigger: Schema.String,
    startedAt: Schema.String,
    endedAt: Time,
    durationMillis: Millis,
    host: Schema.String,
    pid: Schema.Number,
    runnerVersion: Schema.String
  }),
  jobs: Schema.Array(Job),
  attempts: Schema.Array(Attempt),
  /** Each ended wait for a resource (journaled since migration 0011). */
  waits: Schema.Array(Wait),
  executions: Schema.Array(Schema.Record(Schema.String, Schema.Unknown))
})

export const GridCell = Schema.Struct({ status: Schema.String, attempts: Schema.Number, durationMillis: Millis })

/** `/api/grid?dag=D[&only=id,id]`: the grid's runs, job columns and cells (runId → jobId → cell). */
export const GridDocument = Schema.Struct({
  runs: Schema.Array(RunSummary),
  jobIds: Schema.Array(Schema.String),
  cells: Schema.Record(Schema.String, Schema.Record(Schema.String, GridCell))
})

export const runSummary = (run: RunItem): typeof RunSummary.Type => ({
  runId: run.runId,
  dag: run.dag,
  key: run.key ?? null,
  status: run.status,
  trigger: run.trigger,
  startedAt: new Date(run.startedAt).toISOString(),
  endedAt: JournalQueries.isoTime(run.endedAt),
  wallClockMillis: run.wallClockMillis ?? null,
  failedJobs: run.failedJobs
})

const decodeOutput = (text: string | undefined): unknown => {
  if (text === undefined) return null
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export const runDocument = (
  run: JournalQueries.RunDetail,
  jobs: ReadonlyArray<JournalQueries.JobDetail>,
  attempts: ReadonlyArray<AttemptRow>,
  outputs: ReadonlyMap<string, string>,
  needs: ReadonlyMap<string, ReadonlyArray<string>> | undefined = undefined,
  waits: ReadonlyArray<WaitRow> = []
): typeof RunDocument.Type => ({
  run: {
    runId: run.runId,
    dag: run.dag,
    key: run.key ?? null,
    status: run.status,
    trigger: run.trigger,
    startedAt: new Date(run.startedAt).toISOString(),
    endedAt: JournalQueries.isoTime(run.endedAt),
    durationMillis: run.activeMillis ?? null,
    host: run.host,
    pid: run.pid,
    runnerVersion: run.runnerVersion
  },
  jobs: jobs.map((job) => ({
    ...JournalQueries.jobDocument(job),
    output: decodeOutput(outputs.get(job.jobId)),
    needs: needs === undefined ? null : needs.get(job.jobId) ?? []
  })),
  attempts: attempts.map((a) => ({
    jobId: a.jobId,
    attempt: a.attempt,
    status: a.status,
    startedAt: new Date(a.startedAt).toISOString(),
    endedAt: JournalQueries.isoTime(a.endedAt)
  })),
  waits: waits.map((w) => ({
    jobId: w.jobId,
    attempt: w.attempt,
    resource: w.resource,
    kind: w.kind,
    call: w.call,
    startedAt: new Date(w.startedAt).toISOString(),
    endedAt: new Date(w.endedAt).toISOString()
  })),
  executions: run.executions
})

export const gridDocument = (grid: Grid): typeof GridDocument.Type => ({
  runs: grid.runs.map(runSummary),
  jobIds: grid.jobIds,
  cells: Object.fromEntries(
    Object.entries(grid.cells).map(([runId, cells]) => [
      runId,
      Object.fromEntries(Object.entries(cells).map(([jobId, c]) => [jobId, { ...c, durationMillis: c.durationMillis ?? null }]))
    ])
  )
})

/** Encodes a document through its Schema (a shape that drifted from the documented one fails loudly). */
export const encode = <S extends Schema.Top>(schema: S, value: S["Type"]): unknown =>
  Schema.encodeUnknownSync(schema as any)(value)
