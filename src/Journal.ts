/**
 * The Journal records every state change of a run. The executor writes to it through this service only, so the
 * SQL journal (durable, resumable) and the in-memory one (tests, `--journal none`) are interchangeable.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as RunEvent from "./RunEvent.ts"

/** The journal could not be read or written. */
export class JournalError extends Schema.TaggedError<JournalError>()("JournalError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `journal ${this.operation} failed: ${this.reason}`
  }
}

export class Journal extends Context.Service<Journal, {
  /** Records one event. A job's success is recorded (durably, for durable journals) before dependents start. */
  readonly record: (event: RunEvent.RunEvent) => Effect.Effect<void, JournalError>
  /** The events of a run, in the order they were recorded. */
  readonly events: (runId: string) => Effect.Effect<ReadonlyArray<RunEvent.RunEvent>, JournalError>
}>()("effect-runner/Journal") {}

/** A journal kept in memory for the life of the process. */
export const layerMemory: Layer.Layer<Journal> = Layer.sync(Journal)(() => {
  const runs = new Map<string, Array<RunEvent.RunEvent>>()
  return Journal.of({
    record: (event) =>
      Effect.sync(() => {
        const list = runs.get(event.runId)
        if (list === undefined) runs.set(event.runId, [event])
        else list.push(event)
      }),
    events: (runId) => Effect.sync(() => runs.get(runId) ?? [])
  })
})
