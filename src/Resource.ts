/**
 * Named resources shared by the jobs of a run (and by every run of one process: one name, one limit): a semaphore
 * that bounds concurrent use and a rate limit that bounds starts per time window. `uses: [r]` on a job holds one permit
 * for each attempt (freed during the retry backoff) and takes one rate-limit slot per attempt; `Resource.withPermit(r)`
 * gates one call (inside a job that holds `r`, calls run under the job's permit and only wait for the rate limit). A
 * job takes the permits of its resources in one global order (by name), so jobs using the same resources in another
 * order cannot deadlock. An optional circuit breaker makes calls and job attempts fail fast with CircuitOpen while the
 * resource keeps failing (see internal/breaker.ts). The limiters themselves live in internal/resources.ts.
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Result from "effect/Result"
import { type CircuitOpen, InvalidOption } from "./Errors.ts"
import type * as breaker from "./internal/breaker.ts"
import * as checks from "./internal/checks.ts"
import * as duration from "./internal/duration.ts"
import * as resources from "./internal/resources.ts"

const TypeId = "~effect-runner/Resource" as const

/** A validated rate limit: at most `limit` starts in any window of length `per`. */
export interface RateLimit {
  /** How many starts are allowed in any window of length `per`. */
  readonly limit: number
  /** The window length. */
  readonly per: Duration.Duration
}

export interface ResourceOptions {
  /** At most this many holders at once. Default: unbounded. */
  readonly concurrency?: number
  /** At most `limit` starts in any sliding window of length `per`. Default: no rate limit. */
  readonly rate?: { readonly limit: number; readonly per: Duration.Input }
  /**
   * After `failures` failed calls or job attempts within `window`, refuse them with CircuitOpen for `cooldown`, then let
   * one probe through: its success closes the breaker, its failure re-opens it. Default: no breaker.
   */
  readonly breaker?: { readonly failures: number; readonly window: Duration.Input; readonly cooldown: Duration.Input }
}

/** A named, shared limit. Create once at module level and reference it from jobs. */
export interface Resource {
  readonly [TypeId]: typeof TypeId
  readonly name: string
  readonly concurrency: number | undefined
  readonly rate: RateLimit | undefined
  readonly breaker: breaker.Options | undefined
  /**
   * Runs `effect` holding one permit of this resource (and one rate-limit slot): the same as
   * `Resource.withPermit(effect, resource)`.
   *
   * @example
   * ```ts
   * const body = yield* api.use(fetchPage(1))
   * ```
   */
  readonly use: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
}

/**
 * True for a value made by `Resource.make`.
 *
 * @example
 * ```ts
 * Resource.isResource(Resource.make("db")) // true
 * ```
 */
export const isResource = (u: unknown): u is Resource => typeof u === "object" && u !== null && TypeId in u

const positiveDuration = (input: Duration.Input, where: string): Duration.Duration => {
  const parsed = duration.parse(input, where)
  if (Duration.isZero(parsed)) throw new InvalidOption({ where, reason: `must be longer than zero, got ${JSON.stringify(String(input))}` })
  return parsed
}


/**
 * Defines a named resource. Throws InvalidOption for a zero/negative limit or a malformed window.
 *
 * @example
 * ```ts
 * const api = Resource.make("github-api", { concurrency: 2, rate: { limit: 10, per: "1 second" } })
 * const fetchAll = Job.make("fetch", { uses: [api], run: () => fetchRepos })
 * ```
 */
export const make = (name: string, options: ResourceOptions = {}): Resource => {
  const where = `resource "${name}"`
  const concurrency = options.concurrency === undefined
    ? undefined
    : Result.getOrThrow(checks.positiveInteger(options.concurrency, `${where} concurrency`))
  const rate = options.rate === undefined ? undefined : {
    limit: Result.getOrThrow(checks.positiveInteger(options.rate.limit, `${where} rate.limit`)),
    per: duration.parse(options.rate.per, `${where} rate.per`)
  }
  const breakerOptions = options.breaker === undefined ? undefined : {
    failures: Result.getOrThrow(checks.positiveInteger(options.breaker.failures, `${where} breaker.failures`)),
    window: positiveDuration(options.breaker.window, `${where} breaker.window`),
    cooldown: positiveDuration(options.breaker.cooldown, `${where} breaker.cooldown`)
  }
  const resource: Resource = {
    [TypeId]: TypeId,
    name,
    concurrency,
    rate,
    breaker: breakerOptions,
    use: (effect) => resources.call(resource, effect)
  }
  return resource
}

/**
 * Runs `effect` holding one permit of `resource` and one of its rate-limit slots, released on success, failure and
 * interruption. Fails with CircuitOpen, without running `effect`, while the resource's breaker is open. Inside a job
 * that already holds `resource` (`uses: [resource]`), the call runs under the job's permit and only takes a rate slot.
 * Data-first or data-last (`effect.pipe(Resource.withPermit(api))`).
 *
 * @example
 * ```ts
 * const api = Resource.make("api", { concurrency: 4, rate: { limit: 10, per: "1 second" } })
 * const page = (n: number) => fetchPage(n).pipe(Resource.withPermit(api))
 * const pages = Job.make("pages", { run: () => Effect.forEach([1, 2, 3], page, { concurrency: "unbounded" }) })
 * ```
 */
export const withPermit: {
  (resource: Resource): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, resource: Resource): Effect.Effect<A, E | CircuitOpen, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, resource: Resource) => resources.call(resource, self))
