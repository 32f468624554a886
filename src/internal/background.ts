/**
 * Background loops (the journal's lock heartbeat, the live view's redraws) must not keep the process alive by
 * themselves: when only they are left, nothing can make progress, and runtime/Runtime.ts's stall guard must see the
 * process about to exit (else a deadlocked run would hang forever, redrawing). `background(effect)` runs `effect`
 * with a Clock whose sleeps do not hold the process open. Under a test clock it changes nothing.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { clearTimeout, setTimeout } from "node:timers"

const liveClock = Object.getPrototypeOf(Context.get(Context.empty(), Clock.Clock))

const maxTimerMillis = 2 ** 31 - 1

const unrefSleep = (millis: number): Effect.Effect<void> =>
  millis <= 0 ? Effect.yieldNow : Effect.callback<void>((resume) => {
    const handle = setTimeout(
      () => resume(millis > maxTimerMillis ? unrefSleep(millis - maxTimerMillis) : Effect.void),
      Math.min(millis, maxTimerMillis)
    )
    handle.unref()
    return Effect.sync(() => clearTimeout(handle))
  })

const unrefClock = (clock: Clock.Clock): Clock.Clock => ({
  currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe(),
  currentTimeMillis: clock.currentTimeMillis,
  currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe(),
  currentTimeNanos: clock.currentTimeNanos,
  monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
  monotonicTimeNanos: clock.monotonicTimeNanos,
  sleep: (duration) => unrefSleep(Duration.toMillis(duration))
})

/** Runs a background loop: its sleeps do not keep the process alive. */
export const background = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    return yield* (Object.getPrototypeOf(clock) === liveClock ? Effect.provideService(effect, Clock.Clock, unrefClock(clock)) : effect)
  })
