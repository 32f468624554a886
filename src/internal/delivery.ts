/**
 * How the runner delivers something after a run (a notification, metrics to a Pushgateway): a few attempts with
 * backoff, each failure logged with the wait that follows, and one error when it gives up — never a change to how the
 * run ended. The HTTP senders use this schedule inside `HttpClient.retryTransient` (src/internal/http.ts);
 * `--notify-command` with `Effect.retry`.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"

/** How hard a delivery tries. */
export interface Policy {
  /** Attempts in all. */
  readonly attempts: number
  /** The limit of one attempt (a request and its answer, or a run of a command). */
  readonly timeout: Duration.Duration
  /** The wait before retry n (1-based). */
  readonly delay: (retry: number) => Duration.Duration
  /**
   * The longest `Retry-After` obeyed. A server asking for a longer wait is not retried at all (retrying sooner would
   * not honour it, and the run's end should not wait on it).
   */
  readonly maxRetryAfter: Duration.Duration
}

/** What went wrong in one attempt, as logs say it (secrets already masked). */
export interface Failure {
  readonly reason: string
  /** Whether another attempt may succeed (a network error, a timeout, a 5xx or a 429; a command that failed). */
  readonly retryable: boolean
  /** The wait the server asked for (a 429's or 503's `Retry-After`). */
  readonly retryAfter?: Duration.Duration | undefined
}

/** Every attempt failed, or one failed for good. Logged by the run (its outcome is unchanged). */
export class DeliveryFailed extends Schema.TaggedError<DeliveryFailed>()("DeliveryFailed", {
  /** Who tried: `notify-url (https://hooks.slack.com/***)`, `--pushgateway http://...`. */
  name: Schema.String,
  attempts: Schema.Number,
  /** The last attempt's failure. */
  reason: Schema.String,
  /** Whether that failure was of a kind worth retrying (false for a 4xx other than 429, a request that cannot be built). */
  retryable: Schema.Boolean
}) {
  override get message(): string {
    return `gave up after ${this.attempts} attempt${this.attempts === 1 ? "" : "s"}: ${this.reason}`
  }
}

/**
 * The retry schedule of a policy: before each retry it logs `<name>: attempt n of N failed: <reason>; retrying in
 * <wait>`. The wait is the policy's backoff, or the server's `Retry-After` when longer; it stops after the last
 * attempt, and at once when the server asks to wait longer than `maxRetryAfter`.
 */
export const schedule = <E>(
  name: string,
  policy: Policy,
  describe: (error: E, now: number) => Failure
): Schedule.Schedule<number, E> =>
  Schedule.fromStepWithMetadata(Effect.succeed((meta: Schedule.InputMetadata<E>) => {
    const failure = describe(meta.input, meta.now)
    const n = meta.attempt
    if (n >= policy.attempts) return Cause.done(n)
    if (failure.retryAfter !== undefined && Duration.isGreaterThan(failure.retryAfter, policy.maxRetryAfter)) {
      return Effect.andThen(
        Effect.logWarning(
          `${name}: attempt ${n} of ${policy.attempts} failed: ${failure.reason}; the server asks to wait ` +
            `${Duration.format(failure.retryAfter)}, more than the ${Duration.format(policy.maxRetryAfter)} a delivery waits`
        ),
        Cause.done(n)
      )
    }
    const wait = failure.retryAfter === undefined ? policy.delay(n) : Duration.max(policy.delay(n), failure.retryAfter)
    return Effect.as(
      Effect.logWarning(`${name}: attempt ${n} of ${policy.attempts} failed: ${failure.reason}; retrying in ${Duration.format(wait)}`),
      [n, wait] as [number, Duration.Duration]
    )
  }))

/**
 * Runs `retried` (which retries with `schedule(...)` and calls `count` once per attempt), logs a success that needed
 * retries, and turns the last failure into `DeliveryFailed` with the number of attempts made.
 */
export const counted = <E, R>(
  name: string,
  describe: (error: E, now: number) => Failure,
  retried: (count: Effect.Effect<void>) => Effect.Effect<unknown, E, R>
): Effect.Effect<void, DeliveryFailed, R> =>
  Effect.suspend(() => {
    let attempts = 0
    return retried(Effect.sync(() => void attempts++)).pipe(
      Effect.tap(() => attempts > 1 ? Effect.logInfo(`${name}: delivered on attempt ${attempts}`) : Effect.void),
      Effect.asVoid,
      Effect.catch((error) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const { reason, retryable } = describe(error, now)
          return Effect.fail(new DeliveryFailed({ name, attempts, reason, retryable }))
        })
      )
    )
  })
