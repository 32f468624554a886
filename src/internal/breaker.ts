/**
 * A circuit breaker: after `failures` failures within `window` it opens and refuses calls for `cooldown`; then one
 * probe call decides whether it closes again or stays open for another cooldown.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { CircuitOpen } from "../Errors.ts"

export interface Options {
  readonly failures: number
  readonly window: Duration.Duration
  readonly cooldown: Duration.Duration
}

export interface Breaker {
  /** Fails with CircuitOpen if the breaker is open (without admitting a call): a check before queueing for a permit. */
  readonly check: Effect.Effect<void, CircuitOpen>
  /** Runs `effect` if the breaker admits it, else fails with CircuitOpen; its outcome feeds the breaker. */
  readonly guard: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
}

type State =
  | { readonly _tag: "Closed"; readonly failedAt: Array<number> }
  | { readonly _tag: "Open"; readonly until: number }
  | { readonly _tag: "HalfOpen"; readonly probing: boolean }

/** How a call was let through; `generation` ties its outcome to the state that admitted it. */
interface Admission {
  readonly probe: boolean
  readonly generation: number
}

export const make = (resource: string, options: Options): Breaker => {
  const windowMillis = Duration.toMillis(options.window)
  const cooldownMillis = Duration.toMillis(options.cooldown)
  let state: State = { _tag: "Closed", failedAt: [] }
  // Bumped on every transition: outcomes of calls admitted under an earlier state are ignored.
  let generation = 0
  const enter = (next: State) => {
    state = next
    generation++
  }

  const refused = (now: number): CircuitOpen | undefined => {
    if (state._tag === "Open" && now < state.until) return new CircuitOpen({ resource, retryInMillis: state.until - now })
    if (state._tag === "HalfOpen" && state.probing) return new CircuitOpen({ resource, retryInMillis: 0 })
    return undefined
  }

  const admit = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const refusal = refused(now)
    if (refusal !== undefined) return yield* Effect.fail(refusal)
    if (state._tag === "Closed") return { probe: false, generation }
    if (state._tag === "Open") yield* Effect.logInfo(`circuit ${resource} half-open: letting one probe call through`)
    enter({ _tag: "HalfOpen", probing: true })
    return { probe: true, generation }
  })

  const record = (admission: Admission, exit: Exit.Exit<unknown, unknown>) =>
    Effect.gen(function*() {
      if (admission.generation !== generation) return
      const outcome = outcomeOf(exit)
      if (admission.probe) {
        if (outcome === "success") {
          enter({ _tag: "Closed", failedAt: [] })
          yield* Effect.logInfo(`circuit ${resource} closed: the probe call succeeded`)
        } else if (outcome === "failure") {
          const now = yield* Clock.currentTimeMillis
          enter({ _tag: "Open", until: now + cooldownMillis })
          yield* Effect.logWarning(`circuit ${resource} re-opened: the probe call failed; next probe in ${Duration.format(options.cooldown)}`)
        } else {
          // An interrupted probe decides nothing: the next call probes instead.
          enter({ _tag: "HalfOpen", probing: false })
        }
        return
      }
      if (outcome !== "failure" || state._tag !== "Closed") return
      const now = yield* Clock.currentTimeMillis
      const failedAt = state.failedAt.filter((at) => at > now - windowMillis)
      failedAt.push(now)
      if (failedAt.length < options.failures) {
        state = { _tag: "Closed", failedAt }
        return
      }
      enter({ _tag: "Open", until: now + cooldownMillis })
      yield* Effect.logWarning(
        `circuit ${resource} opened after ${failedAt.length} failures in ${Duration.format(options.window)}; ` +
          `calls fail fast for ${Duration.format(options.cooldown)}`
      )
    })

  return {
    check: Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const refusal = refused(now)
      return refusal === undefined ? Effect.void : Effect.fail(refusal)
    }),
    guard: (effect) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const admission = yield* admit
          const exit = yield* Effect.exit(restore(effect))
          yield* record(admission, exit)
          return yield* exit
        })
      )
  }
}

/**
 * Interruptions say nothing about the resource, and neither does another breaker refusing (a nested `use` of an open
 * resource): both are neutral. Typed failures and defects count.
 */
const outcomeOf = (exit: Exit.Exit<unknown, unknown>): "success" | "failure" | "neutral" => {
  if (Exit.isSuccess(exit)) return "success"
  if (Cause.hasDies(exit.cause)) return "failure"
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isNone(error)) return "neutral"
  return error.value instanceof CircuitOpen ? "neutral" : "failure"
}
