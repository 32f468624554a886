/**
 * Where a run's events go: masked with the run's secrets, then journaled (durable when `emit` returns for the events
 * the journal syncs) and shown by the Reporter. Also how failures read as text: the same rendering and the same
 * masking for events, summaries and span statuses, so a secret kept out of the journal is kept out of traces too.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Encoding from "../Encoding.ts"
import { Journal, type LazyHash, recordInMemory } from "../Journal.ts"
import * as render from "../render.ts"
import * as Reporter from "../reporter/Reporter.ts"
import type * as RunEvent from "../RunEvent.ts"
import * as Secrets from "../Secrets.ts"

export interface Recorder {
  /**
   * Records one event (masked); `definitionHash` goes with an `AttemptSucceeded` or a `JobCached`, made when the
   * journal needs it if given as a function (a memory journal may never: see `Journal.recordInMemory`).
   */
  readonly emit: (event: RunEvent.RunEvent, definitionHash?: string | LazyHash) => Effect.Effect<void>
  /**
   * `emit` for a caller that runs the returned effect at once (from an effect already running): a memory journal
   * records the event now, and what is returned is the Reporter's part alone (no effect around the write, on every
   * job's path). Any other journal: the same as `emit`.
   */
  readonly emitNow: (event: RunEvent.RunEvent, definitionHash?: string | LazyHash) => Effect.Effect<void>
  /**
   * `emit` of several events in order, without hashes (a resume's restored jobs): those the journal keeps nothing of
   * go to the reporter in one effect (5,000 restored jobs, one effect each: ~10 ms before a resume's first new job).
   */
  readonly emitAll: (events: ReadonlyArray<RunEvent.RunEvent>) => Effect.Effect<void>
  /** The text with the run's secrets masked. */
  readonly mask: (text: string) => string
  readonly masker: Secrets.Masker
  readonly journal: Journal["Service"]
}

/** The recorder of the current journal, reporter and masker. */
export const make: Effect.Effect<Recorder, never, Journal | Reporter.Reporter> = Effect.gen(function*() {
  const journal = yield* Journal
  const reporter = yield* Reporter.Reporter
  const masker = yield* Secrets.CurrentMasker
  const inMemory = recordInMemory(journal)
  const emit = (raw: RunEvent.RunEvent, definitionHash?: string | LazyHash): Effect.Effect<void> => {
    const event = masker.empty ? raw : maskEvent(raw, masker)
    const hash = typeof definitionHash === "function" ? definitionHash() : definitionHash
    const recorded = journal.record(event, hash)
    // An event the journal keeps nothing of (a restored job, the start of a wait) goes to the reporter alone: a resumed
    // 10,000-job run emits 5,000 of them before its first new job, and the effects around nothing cost ~3 µs each
    // (with SqlJournal's `untraced` passing `Effect.void` on: resume to the first new job, CPU −45 ms on Node and Bun).
    return recorded === Effect.void ? reporter.event(event) : Effect.andThen(Effect.orDie(recorded), reporter.event(event))
  }
  const emitNow = inMemory === undefined ? emit : (raw: RunEvent.RunEvent, definitionHash?: string | LazyHash): Effect.Effect<void> => {
    const event = masker.empty ? raw : maskEvent(raw, masker)
    inMemory(event, definitionHash)
    return reporter.event(event)
  }
  const emitAll = (raw: ReadonlyArray<RunEvent.RunEvent>): Effect.Effect<void> =>
    Effect.suspend(() => {
      const events = masker.empty ? raw : raw.map((event) => maskEvent(event, masker))
      if (inMemory !== undefined) {
        for (const event of events) inMemory(event, undefined)
        return Reporter.showAll(reporter, events)
      }
      const recorded = events.map((event) => journal.record(event, undefined))
      return recorded.every((r) => r === Effect.void)
        ? Reporter.showAll(reporter, events)
        : Effect.forEach(events, (event, i) => Effect.andThen(Effect.orDie(recorded[i]!), reporter.event(event)), { discard: true })
    })
  return {
    emit: inMemory === undefined ? emit : (raw, definitionHash) => Effect.suspend(() => emitNow(raw, definitionHash)),
    emitNow,
    emitAll,
    mask: (text) => masker.empty ? text : masker.mask(text),
    masker,
    journal
  }
})

/**
 * The event with the run's secrets masked. An output or checkpoint that held a secret in clear is journaled as
 * unrestorable (its job or step runs again on resume) rather than with `***` in place of the value. The causes an
 * event carries for in-process consumers are left as they are: they are never journaled or shown.
 */
export const maskEvent = (event: RunEvent.RunEvent, masker: Secrets.Masker): RunEvent.RunEvent => {
  switch (event._tag) {
    case "AttemptFailed":
      return { ...event, error: masker.mask(event.error) }
    case "AttemptSucceeded": {
      const output = masker.maskDeep(event.output)
      const json = maskedJson(event.json, masker)
      return output === event.output && json === event.json ? event : { ...event, output, json }
    }
    case "JobSkipped":
      return { ...event, reason: masker.mask(event.reason) }
    case "RunFinished":
      return { ...event, jobs: event.jobs.map((job) => job.detail === undefined ? job : { ...job, detail: masker.mask(job.detail) }) }
    default:
      return event
  }
}

/** The journal's text, or an unrestorable marker when it holds one of the run's secrets in clear. */
export const maskedJson = (json: string | undefined, masker: Secrets.Masker): string | undefined =>
  json === undefined || masker.empty || masker.mask(json) === json
    ? json
    : Encoding.unrestorable("it holds a secret (Redacted), which the journal never stores").json

