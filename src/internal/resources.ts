/**
 * The run-time side of resources: the limiter of each (a semaphore, a sliding-window rate limit, a circuit breaker),
 * the registry that shares them between runs, and how the executor holds them around a job's attempts. Public code
 * only defines resources (src/Resource.ts); everything here is what the executor and `Resource.withPermit` use.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import type { CircuitOpen } from "../Errors.ts"
import type { RateLimit, Resource } from "../Resource.ts"
import * as breaker from "./breaker.ts"

/** The run-time state of one resource. */
export interface Limiter {
  /** Waits for a permit only, then runs `effect`. */
  readonly permitted: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Waits for a permit and a rate-limit slot, then runs `effect`. */
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Waits for a rate-limit slot only, then runs `effect`. */
  readonly throttled: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Fails fast if the breaker is open, waits for a permit, is admitted by the breaker, waits for a rate slot, runs. */
  readonly call: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
  /** Runs `effect` if the breaker admits it (no permit, no rate slot), feeding the breaker its outcome. */
  readonly guard: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
}

/**
 * What a registry makes each resource's concurrency and rate limits of. By default (`local`) this process's semaphores
 * and sliding-window logs; cluster mode gives a registry ones shared by every worker (cluster/Limits.ts). Circuit
 * breakers are always this process's: a failing dependency is seen by each worker for itself.
 */
export interface Limits {
  /**
   * The `concurrency` permits of the resource `name`: runs an effect holding one. Tells `CurrentWaits` when the holder
   * has to queue (and when it is admitted), as `local`'s do.
   */
  readonly permits: (name: string, concurrency: number) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** The rate limit of the resource `name`: completes when the caller may start (telling `CurrentWaits` of a wait). */
  readonly throttle: (name: string, rate: RateLimit) => Effect.Effect<void>
}

/**
 * The limiters in use, keyed by resource name: the first definition of a name met sets its limits. The executor uses
 * a fresh registry per run unless it is given one; the scheduler gives all its runs one, so that a resource is one
 * limit per process however many runs overlap. `limits`: what the permits and rate limits are (default: `local`).
 */
export class Registry {
  private readonly limiters = new Map<string, Limiter>()
  private readonly limits: Limits
  constructor(limits: Limits = local) {
    this.limits = limits
  }
  get(resource: Resource): Limiter {
    let limiter = this.limiters.get(resource.name)
    if (limiter === undefined) {
      limiter = makeLimiter(resource, this.limits)
      this.limiters.set(resource.name, limiter)
    }
    return limiter
  }
}

/** What a holder waits for: a permit of `resource`, or its next rate-limit slot, which opens at `until`. */
export interface Wait {
  readonly resource: string
  readonly kind: "permit" | "rate"
  /** When the rate-limit slot opens (epoch millis); undefined for a permit. */
  readonly until: number | undefined
}

/** Told when the current fiber must wait for a resource, and when it gets it. The executor reports both. */
export interface Waits {
  readonly waiting: (wait: Wait) => Effect.Effect<void>
  readonly admitted: (wait: Wait) => Effect.Effect<void>
}

/** The waits observer of the current job; by default nobody listens. */
export const CurrentWaits = Context.Reference<Waits>("effect-runner/Resource/CurrentWaits", {
  defaultValue: () => ({ waiting: () => Effect.void, admitted: () => Effect.void })
})

/** The registry in use; outside a run (a job tested on its own) a process-wide default. */
export const CurrentRegistry = Context.Reference<Registry>("effect-runner/Resource/CurrentRegistry", {
  defaultValue: () => new Registry()
})

/** The resources the current job holds through `uses`. */
const HeldByJob = Context.Reference<ReadonlySet<string>>("effect-runner/Resource/HeldByJob", {
  defaultValue: () => new Set()
})

/**
 * One call through `resource` (`Resource.withPermit`, `resource.use`): a permit, a rate-limit slot, the breaker's
 * admission. Inside a job that holds `resource` through `uses`, the call runs under the job's permit and only waits
 * for the rate limit, and under its attempt's admission by the breaker (the attempt's outcome is what it counts).
 */
export const call = <A, E, R>(resource: Resource, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R> =>
  Effect.gen(function*() {
    const registry = yield* CurrentRegistry
    const held = yield* HeldByJob
    const limiter = registry.get(resource)
    return yield* (held.has(resource.name) ? limiter.throttled(effect) : limiter.call(effect))
  })

/**
 * Runs one attempt of a job that holds `resources`: the breaker of each must admit it (else CircuitOpen, a typed and so
 * retryable failure), and the attempt's outcome feeds them.
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

/**
 * Runs one attempt of a job holding one permit of each of `resources` and one rate-limit slot of each. Permits are taken
 * in one global order (by resource name), whatever order the job lists them in: two jobs using the same resources can
 * never each hold one the other waits for. Rate-limit slots are taken once every permit is held, so that their time is
 * the moment the work starts.
 */
export const holdAll = <A, E, R>(resources: ReadonlyArray<Resource>, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  resources.length === 0 ? effect : Effect.gen(function*() {
    const registry = yield* CurrentRegistry
    const held = yield* HeldByJob
    const byName = new Map<string, Resource>()
    for (const resource of resources) if (!held.has(resource.name)) byName.set(resource.name, resource)
    if (byName.size === 0) return yield* effect
    const ordered = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    const limiters = ordered.map((resource) => registry.get(resource))
    const inside = Effect.provideService(effect, HeldByJob, new Set([...held, ...byName.keys()]))
    const slotted = limiters.reduceRight<Effect.Effect<A, E, R>>((inner, limiter) => limiter.throttled(inner), inside)
    return yield* limiters.reduceRight<Effect.Effect<A, E, R>>((inner, limiter) => limiter.permitted(inner), slotted)
  })

const makeLimiter = (resource: Resource, limits: Limits): Limiter => {
  const permits = resource.concurrency === undefined ? undefined : limits.permits(resource.name, resource.concurrency)
  const throttle = resource.rate === undefined ? undefined : limits.throttle(resource.name, resource.rate)
  const circuit = resource.breaker === undefined ? undefined : breaker.make(resource.name, resource.breaker)
  const throttled = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    throttle === undefined ? effect : Effect.andThen(throttle, effect)
  const permitted = <A, E, R>(effect: Effect.Effect<A, E, R>) => permits === undefined ? effect : permits(effect)
  const guard = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R> =>
    circuit === undefined ? effect : circuit.guard(effect)
  return {
    permitted,
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
 * A semaphore that tells `CurrentWaits` when a holder has to queue. It counts holders and queued waiters itself (the
 * semaphore does not say): a newcomer queues when every permit is held or others queue before it, as the semaphore,
 * which is fair, would have it.
 */
const makePermits = (name: string, concurrency: number) => {
  const semaphore = Semaphore.makeUnsafe(concurrency)
  let holding = 0
  let queued = 0
  const counted = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.suspend(() => {
      holding++
      return Effect.ensuring(effect, Effect.sync(() => void holding--))
    })
  return <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      if (holding < concurrency && queued === 0) return semaphore.withPermit(counted(effect))
      return Effect.flatMap(CurrentWaits, (waits) => {
        const wait: Wait = { resource: name, kind: "permit", until: undefined }
        let waiting = true
        queued++
        const stopWaiting = Effect.sync(() => {
          if (waiting) queued--
          waiting = false
        })
        return waits.waiting(wait).pipe(
          Effect.andThen(semaphore.withPermit(Effect.andThen(stopWaiting, Effect.andThen(waits.admitted(wait), counted(effect))))),
          Effect.ensuring(stopWaiting)
        )
      })
    })
}

/**
 * A sliding-window log: a start is allowed when fewer than `limit` starts happened in the last `per`. Unlike a fixed
 * window (which lets 2 x limit through around a window boundary) this bounds every window. Each caller reserves the
 * earliest slot the log allows (so waiters are served in order and each knows when its slot opens, which it tells
 * `CurrentWaits`), then sleeps until it. An interrupted waiter keeps its reservation: giving it back could let a later
 * reservation, made against it, break a window; interruption mostly ends the run anyway.
 */
const makeThrottle = (name: string, rate: RateLimit): Effect.Effect<void> => {
  const perMillis = Duration.toMillis(rate.per)
  // Starts and reservations, in time order; those older than a window are dropped.
  const starts: Array<number> = []
  return Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    while (starts.length > 0 && starts[0]! <= now - perMillis) starts.shift()
    const at = starts.length < rate.limit ? now : Math.max(now, starts[starts.length - rate.limit]! + perMillis)
    starts.push(at)
    if (at <= now) return
    const waits = yield* CurrentWaits
    const wait: Wait = { resource: name, kind: "rate", until: at }
    yield* waits.waiting(wait)
    yield* Effect.sleep(at - now)
    yield* waits.admitted(wait)
  })
}

/** This process's limits: a fair semaphore per resource, and a sliding-window log per rate limit. */
export const local: Limits = { permits: makePermits, throttle: makeThrottle }
