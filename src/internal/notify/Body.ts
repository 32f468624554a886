/**
 * The JSON a run's end is notified with: the `--notify-url` body (format json) and `--notify-command`'s stdin. A wire
 * format receivers parse, so it is a Schema: encoded with it, decodable with it (a receiver written in TypeScript, the
 * tests), and changed only with a new `version`. The README documents it. Version 1:
 *
 * ```jsonc
 * {
 *   "version": 1,
 *   "runId": "20261130-020000-abcdef",
 *   "dag": "nightly",
 *   "key": "2026-11-30" | null,            // the run key, null without one
 *   "status": "succeeded" | "failed" | "interrupted",
 *   "trigger": "cli" | "schedule" | ...,
 *   "resumed": false,
 *   "startedAt": "2026-11-30T01:00:00.000Z", // ISO 8601, UTC
 *   "finishedAt": "2026-11-30T01:00:12.500Z",
 *   "durationMillis": 12500,
 *   "host": "build-1",
 *   "failed": [{ "jobId": "upload", "critical": true, "error": "..." }],  // failed or interrupted jobs
 *   "jobs": [{ "jobId": "copy", "status": "succeeded", "critical": true, "attempts": 1, "durationMillis": 2000,
 *              "detail": null, "cachedFrom": null }]                     // every job, in plan order
 *   // status "cached": an earlier run's success reused without running (attempts 0); cachedFrom: that run's id
 * }
 * ```
 *
 * Absent values are `null`, never missing; errors and details are masked and cut at 4,000 characters.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as os from "node:os"
import type * as Observer from "../Observer.ts"
import { truncate } from "../truncate.ts"

const RunStatus = Schema.Literals(["succeeded", "failed", "interrupted"])
const JobStatus = Schema.Literals(["succeeded", "cached", "restored", "failed", "skipped", "interrupted"])

/** A failed or interrupted job, with its error. */
export const FailedJob = Schema.Struct({
  jobId: Schema.String,
  critical: Schema.Boolean,
  error: Schema.String
})

/**
 * A job of the run. `detail`: why it failed or was skipped. `cachedFrom`: for a `cached` job (up-to-date, not run), the
 * run whose success it reused; null for the others.
 */
export const JobEntry = Schema.Struct({
  jobId: Schema.String,
  status: JobStatus,
  critical: Schema.Boolean,
  attempts: Schema.Number,
  durationMillis: Schema.Number,
  detail: Schema.NullOr(Schema.String),
  cachedFrom: Schema.NullOr(Schema.String)
})

/** The body, version 1. The field order is the order written. */
export const Body = Schema.Struct({
  version: Schema.Literal(1),
  runId: Schema.String,
  dag: Schema.String,
  key: Schema.NullOr(Schema.String),
  status: RunStatus,
  trigger: Schema.String,
  resumed: Schema.Boolean,
  startedAt: Schema.String,
  finishedAt: Schema.String,
  durationMillis: Schema.Number,
  host: Schema.String,
  failed: Schema.Array(FailedJob),
  jobs: Schema.Array(JobEntry)
})

export type Body = typeof Body.Type

/** The body as JSON text, both ways. */
export const BodyJson = Schema.fromJsonString(Body)

const ERROR_CHARS = 4000

/** The body for a run summary. */
export const toBody = (summary: Observer.Summary, host: string = os.hostname()): Body => ({
  version: 1,
  runId: summary.runId,
  dag: summary.dag,
  key: summary.key ?? null,
  status: summary.status,
  trigger: summary.trigger,
  resumed: summary.resumed,
  startedAt: new Date(summary.startedAt).toISOString(),
  finishedAt: new Date(summary.finishedAt).toISOString(),
  durationMillis: summary.durationMillis,
  host,
  failed: summary.failed.map((f) => ({ jobId: f.jobId, critical: f.critical, error: truncate(f.error, ERROR_CHARS) })),
  jobs: summary.jobs.map((job) => ({
    jobId: job.jobId,
    status: job.status,
    critical: job.critical,
    attempts: job.attempts,
    durationMillis: job.durationMillis,
    detail: job.detail === undefined ? null : truncate(job.detail, ERROR_CHARS),
    cachedFrom: job.cachedFrom ?? null
  }))
})

/** The JSON text sent for a run summary (encoded with the Schema: a field the Schema lacks is never sent). */
export const encode = (summary: Observer.Summary, host?: string): string =>
  Schema.encodeSync(BodyJson)(toBody(summary, host))

/** Reads a body back (a receiver, a test); fails with a message naming what is malformed or of another version. */
export const decode = (json: string): Effect.Effect<Body, Schema.SchemaError> => Schema.decodeUnknownEffect(BodyJson)(json)
