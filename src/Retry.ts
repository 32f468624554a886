/**
 * Retry policies: any `Schedule`, or the shorthand `{ times, delay, factor, jitter, maxDelay }` for exponential
 * backoff. Only typed failures are retried; defects and interruptions never are.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { InvalidOption } from "./Errors.ts"
import * as duration from "./internal/duration.ts"

/** Exponential backoff, as most batch jobs want it. */
export interface Shorthand {
  /** How many times to retry after the first attempt fails. */
  readonly times: number
  /** The delay before the first retry. Default: "100 millis". */
  readonly delay?: Duration.Input
  /** Each delay is the previous one times `factor`. Default: 2. */
  readonly factor?: number
  /** Scale each delay by a random factor between 0.8 and 1.2, so retrying jobs do not move in lockstep. Default: false. */
  readonly jitter?: boolean
  /** No delay is longer than this (applied after jitter). Default: none. */
  readonly maxDelay?: Duration.Input
}

export type Input = Shorthand | Schedule.Schedule<unknown, any, never, never>

/** A validated policy: the schedule to step, and how to describe it to people. */
export interface Policy {
  readonly schedule: Schedule.Schedule<unknown, unknown>
  readonly description: string
}

/** Validates a retry input. Throws InvalidOption naming `where` for a negative count or bad delay. */
export const policy = (input: Input, where: string): Policy => {
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
