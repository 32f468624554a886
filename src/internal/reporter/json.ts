/**
 * The json view: one JSON object per line, for machines. Every line parses, whatever an event or a log carries, and
 * carries the run it belongs to (`runner schedule` reports overlapping runs through one reporter).
 */
import * as Effect from "effect/Effect"
import * as render from "../render.ts"
import type * as RunEvent from "../RunEvent.ts"
import { describeEvent } from "./format.ts"
import type { Level, Output, View } from "./Reporter.ts"

/** How many runs' DAG names the view remembers: a daemon reports runs for months, and lines come after RunFinished. */
const REMEMBERED_RUNS = 1000

export const view = (out: Output): View => {
  const dags = new Map<string, string>()
  const line = (fields: Record<string, unknown>) => out.write(render.json(fields) + "\n")
  /** Writes one event's line (see `event` and `events`). */
  const show = (event: RunEvent.RunEvent) => {
    if (event._tag === "RunStarted") {
      dags.delete(event.runId)
      dags.set(event.runId, event.dag)
      if (dags.size > REMEMBERED_RUNS) dags.delete(dags.keys().next().value!)
    }
    const base = {
      ts: new Date(event.at).toISOString(),
      level: levelOfEvent(event),
      dag: event._tag === "RunFinished" ? event.dag : dags.get(event.runId),
      runId: event.runId,
      jobId: "jobId" in event ? event.jobId : undefined,
      attempt: "attempt" in event ? event.attempt : undefined,
      event: event._tag,
      message: describeEvent(event)
    }
    switch (event._tag) {
      case "RunFinished":
        return line({ ...base, status: event.status, durationMillis: event.durationMillis, jobs: event.jobs })
      case "AttemptFailed":
        return line({ ...base, error: event.error, retryInMillis: event.retryInMillis })
      case "JobSkipped":
        return line({ ...base, reason: event.reason })
      case "JobCached":
        // The run whose success is reused and when it was recorded; the key, to match with `runner why`.
        return line({
          ...base,
          fromRunId: event.fromRunId,
          cachedAt: new Date(event.cachedAt).toISOString(),
          cacheKey: event.key
        })
      case "JobWaiting":
        return line({
          ...base,
          resource: event.resource,
          kind: event.kind,
          call: event.call,
          until: event.until === undefined ? undefined : new Date(event.until).toISOString()
        })
      case "JobAdmitted":
        return line({ ...base, resource: event.resource, kind: event.kind, call: event.call, waitedMillis: event.waitedMillis })
      default:
        return line(base)
    }
  }
  return {
    refresh: Effect.void,
    log: (entry) =>
      line({
        ts: new Date(entry.at).toISOString(),
        level: entry.level,
        dag: entry.runId === undefined ? undefined : dags.get(entry.runId),
        runId: entry.runId,
        jobId: entry.jobId,
        attempt: entry.attempt,
        event: "Log",
        message: entry.message
      }),
    event: (event) => Effect.sync(() => show(event)),
    events: (events) =>
      Effect.sync(() => {
        for (const event of events) show(event)
      })
  }
}

const levelOfEvent = (event: RunEvent.RunEvent): Level => {
  switch (event._tag) {
    case "AttemptFailed":
      return event.retryInMillis === undefined ? "error" : "warn"
    case "JobInterrupted":
    case "JobSkipped":
      return "warn"
    case "RunFinished":
      return event.status === "succeeded" ? "info" : "error"
    default:
      return "info"
  }
}
