/**
 * The runner's JSON log lines as Schemas — the contract of what machines read: a line of `--log-format json` (the
 * Reporter's json view writes one per event or log entry) and the `runner logs --json` document. Writers build them
 * with plain JSON (200,000 lines must stay cheap); readers — a log shipper written in TypeScript, the tests — decode
 * with these and get an error naming the malformed field instead of a crash. Neither format has a version field:
 * fields are only ever added, so both accept fields they do not name.
 */
import * as Schema from "effect/Schema"

const Level = Schema.Literals(["trace", "debug", "info", "warn", "error", "fatal"])

/**
 * One line of `--log-format json`: `{"ts":"2026-11-30T01:00:00.000Z","level":"info","dag":"nightly","runId":"...",
 * "jobId":"copy","attempt":1,"event":"AttemptStarted","message":"..."}`. `event` is a RunEvent tag or `Log` (a line a
 * job logged); absent values are left out; events add their facts (`status`, `error`, `retryInMillis`, `reason`, ...).
 */
export const JsonLine = Schema.StructWithRest(
  Schema.Struct({
    ts: Schema.String,
    level: Level,
    dag: Schema.optionalKey(Schema.String),
    runId: Schema.optionalKey(Schema.String),
    jobId: Schema.optionalKey(Schema.String),
    attempt: Schema.optionalKey(Schema.Number),
    event: Schema.String,
    message: Schema.String
  }),
  [Schema.Record(Schema.String, Schema.Unknown)]
)

/** A `--log-format json` line as text, both ways. */
export const JsonLineText = Schema.fromJsonString(JsonLine)

/** One entry of the `runner logs --json` document's `lines`. */
export const JournalLine = Schema.Struct({
  /** ISO 8601, local time with its offset. */
  time: Schema.String,
  jobId: Schema.NullOr(Schema.String),
  attempt: Schema.NullOr(Schema.Number),
  level: Schema.String,
  message: Schema.String
})

/** The `runner logs --json` document. */
export const JournalLines = Schema.Struct({
  journal: Schema.String,
  runId: Schema.String,
  jobId: Schema.NullOr(Schema.String),
  lines: Schema.Array(JournalLine)
})

/** The `runner logs --json` document as text, both ways. */
export const JournalLinesText = Schema.fromJsonString(JournalLines)
