/**
 * Retry policies: any `Schedule`, or the shorthand `{ times, delay, factor, jitter, maxDelay }` for exponential
 * backoff. Only typed failures are retried; defects and interruptions never are. internal/retries.ts validates them.
 */
import type * as Duration from "effect/Duration"
import type * as Schedule from "effect/Schedule"

/**
 * Exponential backoff, as most batch jobs want it: `retry: { times: 3, delay: "1 second" }` waits 1 s, 2 s, 4 s.
 *
 * @example
 * ```ts
 * Job.make("fetch", { retry: { times: 5, delay: "500 millis", factor: 2, jitter: true, maxDelay: "10 seconds" }, run })
 * ```
 */
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

/**
 * What a job's `retry` takes: the shorthand, or any Schedule (its input is the job's typed error, so it can stop on
 * some errors with `Schedule.while`).
 *
 * @example
 * ```ts
 * Job.make("sync", { retry: Schedule.max([Schedule.spaced("1 minute"), Schedule.recurs(10)]), run })
 * ```
 */
export type Input = Shorthand | Schedule.Schedule<unknown, any, never, never>
