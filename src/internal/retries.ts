/**
 * Turns a job's `retry` option (src/Retry.ts) into the schedule the executor steps, validated when the job is
 * defined, with a description for `--dry-run`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { InvalidOption } from "../Errors.ts"
import type * as Retry from "../Retry.ts"
import * as duration from "./duration.ts"

/** A validated policy: the schedule to step, and how to describe it to people. */
export interface Policy {
  readonly schedule: Schedule.Schedule<unknown, unknown>
  readonly description: string
}

/** Validates a retry input. Throws InvalidOption naming `where` for a negative count or bad delay. */
export const policy = (input: Retry.Input, where: string): Policy => {
  if (Schedule.isSchedule(input)) return { schedule: input, description: "custom schedule" }
  const { times, factor = 2, jitter = false } = input
  if (!Number.isInteger(times) || times < 0) {
    throw new InvalidOption({ where: `${where}.times`, reason: `must be a whole number >= 0, got ${times}` })
  }
  if (!Number.isFinite(factor) || factor < 1) {
    throw new InvalidOption({ where: `${where}.factor`, reason: `must be a number >= 1, got ${factor}` })
  }
  const base = duration.parse(input.delay ?? "100 millis", `${where}.delay`)
  const maxDelay = input.maxDelay === undefined ? undefined : duration.parse(input.maxDelay, `${where}.maxDelay`)
  let backoff: Schedule.Schedule<unknown, unknown> = Schedule.exponential(base, factor)
  if (jitter) backoff = Schedule.jittered(backoff)
  if (maxDelay !== undefined) {
    backoff = Schedule.modifyDelay(backoff, ({ duration: d }) => Effect.succeed(Duration.min(d, maxDelay)))
  }
  const description = `${times} retr${times === 1 ? "y" : "ies"}, backoff ${Duration.format(base)} x${factor}` +
    (jitter ? " with jitter" : "") + (maxDelay === undefined ? "" : ` up to ${Duration.format(maxDelay)}`)
  return { schedule: Schedule.max([backoff, Schedule.recurs(times)]), description }
}
