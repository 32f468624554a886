/**
 * Named resources shared by the jobs of a run: a semaphore that bounds concurrent use and a rate limit that bounds
 * starts per time window. `uses: [r]` on a job holds one permit for the whole job; `r.use(effect)` gates one call (inside a job that
 * holds `r`, calls run under the job's permit and only wait for the rate limit).
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import { InvalidOption } from "./Errors.ts"
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
}

/** A named, shared limit. Create once at module level and reference it from jobs. */
export interface Resource {
  readonly [TypeId]: typeof TypeId
  readonly name: string
  readonly concurrency: number | undefined
  readonly rate: RateLimit | undefined
  /** Runs `effect` holding one permit of this resource (and one rate-limit slot). Released on failure and interruption. */
  readonly use: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/** The run-time state of one resource. */
export interface Limiter {
  /** Waits for a permit and a rate-limit slot, then runs `effect`. */
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Waits for a rate-limit slot only, then runs `effect`. */
  readonly throttled: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
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
  const resource: Resource = {
    [TypeId]: TypeId,
    name,
    concurrency,
    rate,
    use: (effect) =>
      Effect.gen(function*() {
        const registry = yield* CurrentRegistry
        const held = yield* HeldByJob
        const limiter = registry.get(resource)
        // The job already holds a permit (`uses: [r]`): its calls run under it instead of waiting for a second one.
        return yield* (held.has(resource.name) ? limiter.throttled(effect) : limiter.withPermit(effect))
      })
  }
  return resource
}

/** The resources the current job holds through `uses`. */
const HeldByJob = Context.Reference<ReadonlySet<string>>("effect-runner/Resource/HeldByJob", {
  defaultValue: () => new Set()
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
  const throttled = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    throttle === undefined ? effect : Effect.andThen(throttle, effect)
  return {
    throttled,
    // The rate slot is taken after the permit so that its timestamp is the moment the work really starts.
    withPermit: (effect) => semaphore === undefined ? throttled(effect) : semaphore.withPermit(throttled(effect))
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
