/**
 * Named resources shared by the jobs of a run: a semaphore that bounds concurrent use and a rate limit that bounds
 * starts per time window. `uses: [r]` on a job holds one permit for the whole job; `r.use(effect)` gates one call (inside a job that
 * holds `r`, calls run under the job's permit and only wait for the rate limit). An optional circuit breaker makes calls and
 * job attempts fail fast with CircuitOpen while the resource keeps failing (see internal/breaker.ts).
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import { type CircuitOpen, InvalidOption } from "./Errors.ts"
import * as breaker from "./internal/breaker.ts"
import * as duration from "./internal/duration.ts"

const TypeId = "~effect-runner/Resource" as const

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
   * Runs `effect` holding one permit of this resource (and one rate-limit slot). Released on failure and interruption.
   * Fails with CircuitOpen, without running `effect`, while the breaker is open.
   */
  readonly use: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
}

/** The run-time state of one resource. */
export interface Limiter {
  /** Waits for a permit and a rate-limit slot, then runs `effect`. */
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Waits for a rate-limit slot only, then runs `effect`. */
  readonly throttled: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Fails fast if the breaker is open, waits for a permit, is admitted by the breaker, waits for a rate slot, runs. */
  readonly call: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
  /** Runs `effect` if the breaker admits it (no permit, no rate slot), feeding the breaker its outcome. */
  readonly guard: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
}

/** The limiters of one run, keyed by resource name. The executor provides a fresh registry per run. */
export class Registry {
  private readonly limiters = new Map<string, Limiter>()
  get(resource: Resource): Limiter {
    let limiter = this.limiters.get(resource.name)
    if (limiter === undefined) {
      limiter = makeLimiter(resource)
      this.limiters.set(resource.name, limiter)
    }
    return limiter
  }
}

/** The registry in use; outside a run (a job tested on its own) a process-wide default. */
export const CurrentRegistry = Context.Reference<Registry>("effect-runner/Resource/CurrentRegistry", {
  defaultValue: () => new Registry()
})

export const isResource = (u: unknown): u is Resource => typeof u === "object" && u !== null && TypeId in u

const positiveDuration = (input: Duration.Input, where: string): Duration.Duration => {
  const parsed = duration.parse(input, where)
  if (Duration.isZero(parsed)) throw new InvalidOption({ where, reason: `must be longer than zero, got ${JSON.stringify(String(input))}` })
  return parsed
}

const positiveInt = (n: number, where: string): number => {
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidOption({ where, reason: `must be a whole number >= 1, got ${n}` })
  }
  return n
}

/** Defines a named resource. Throws InvalidOption for a zero/negative limit or a malformed window. */
export const make = (name: string, options: ResourceOptions = {}): Resource => {
  const where = `resource "${name}"`
  const concurrency = options.concurrency === undefined
    ? undefined
    : positiveInt(options.concurrency, `${where} concurrency`)
  const rate = options.rate === undefined ? undefined : {
    limit: positiveInt(options.rate.limit, `${where} rate.limit`),
    per: duration.parse(options.rate.per, `${where} rate.per`)
  }
  const breakerOptions = options.breaker === undefined ? undefined : {
    failures: positiveInt(options.breaker.failures, `${where} breaker.failures`),
    window: positiveDuration(options.breaker.window, `${where} breaker.window`),
    cooldown: positiveDuration(options.breaker.cooldown, `${where} breaker.cooldown`)
  }
  const resource: Resource = {
    [TypeId]: TypeId,
    name,
    concurrency,
    rate,
    breaker: breakerOptions,
    use: (effect) =>
      Effect.gen(function*() {
        const registry = yield* CurrentRegistry
        const held = yield* HeldByJob
        const limiter = registry.get(resource)
        // The job already holds a permit (`uses: [r]`): its calls run under it instead of waiting for a second one, and
        // under its attempt's admission by the breaker (the attempt's outcome is what the breaker counts).
        return yield* (held.has(resource.name) ? limiter.throttled(effect) : limiter.call(effect))
      })
  }
  return resource
}

/** The resources the current job holds through `uses`. */
const HeldByJob = Context.Reference<ReadonlySet<string>>("effect-runner/Resource/HeldByJob", {
  defaultValue: () => new Set()
})

/**
 * Runs one attempt of a job that holds `resources`: the breaker of each must admit it (else CircuitOpen, a typed and so
 * retryable failure), and the attempt's outcome feeds them. Job.make wraps `run` with it.
 */
export const guardAttempt = <A, E, R>(
  resources: ReadonlyArray<Resource>,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | CircuitOpen, R> =>
  Effect.gen(function*() {
    const registry = yield* CurrentRegistry
    return yield* resources.reduce<Effect.Effect<A, E | CircuitOpen, R>>(
      (inner, resource) => registry.get(resource).guard(inner),
      effect
    )
  })

/** Runs a whole job holding one permit of `resource` (the job's start takes a rate-limit slot too). */
export const hold = <A, E, R>(resource: Resource, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const registry = yield* CurrentRegistry
    const held = yield* HeldByJob
    if (held.has(resource.name)) return yield* effect
    return yield* registry.get(resource).withPermit(
      Effect.provideService(effect, HeldByJob, new Set([...held, resource.name]))
    )
  })

const makeLimiter = (resource: Resource): Limiter => {
  const semaphore = resource.concurrency === undefined ? undefined : Semaphore.makeUnsafe(resource.concurrency)
  const throttle = resource.rate === undefined ? undefined : makeThrottle(resource.rate)
  const circuit = resource.breaker === undefined ? undefined : breaker.make(resource.name, resource.breaker)
  const throttled = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    throttle === undefined ? effect : Effect.andThen(throttle, effect)
  const permitted = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    semaphore === undefined ? effect : semaphore.withPermit(effect)
  const guard = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R> =>
    circuit === undefined ? effect : circuit.guard(effect)
  return {
    throttled,
    guard,
    // The rate slot is taken after the permit so that its timestamp is the moment the work really starts.
    withPermit: (effect) => permitted(throttled(effect)),
    // Refused calls fail before queueing for a permit; admission happens once the permit is held, so calls that
    // queued while the breaker was closed do not pile onto a resource that has failed meanwhile; a refused call takes
    // no rate slot.
    call: (effect) =>
      circuit === undefined
        ? permitted(throttled(effect))
        : Effect.andThen(circuit.check, permitted(circuit.guard(throttled(effect))))
  }
}

/**
 * A sliding-window log: a start is allowed when fewer than `limit` starts happened in the last `per`. Unlike a fixed
 * window (which lets 2 x limit through around a window boundary) this bounds every window. Waiters queue in order.
 */
const makeThrottle = (rate: RateLimit): Effect.Effect<void> => {
  const perMillis = Duration.toMillis(rate.per)
  const starts: Array<number> = []
  const mutex = Semaphore.makeUnsafe(1)
  return mutex.withPermit(Effect.gen(function*() {
    if (starts.length >= rate.limit) {
      const now = yield* Clock.currentTimeMillis
      const wait = starts[starts.length - rate.limit]! + perMillis - now
      if (wait > 0) yield* Effect.sleep(wait)
    }
    starts.push(yield* Clock.currentTimeMillis)
    if (starts.length > rate.limit) starts.shift()
  }))
}
