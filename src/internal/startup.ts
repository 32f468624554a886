/**
 * Start-up marks: with RUNNER_DEBUG_START=1, each phase of a run's start prints one line on stderr, `runner: start-up
 * <ms> ms: <phase>`, with the time since the runtime started (`performance.now()`: the runtime's own boot comes before
 * the bin's first mark). The published profile of what runs before the first job (bench/run.ts, scenario 4) reads
 * these lines; a user who finds a start slow can see which phase it is.
 */
import * as Effect from "effect/Effect"

const enabled = process.env["RUNNER_DEBUG_START"] === "1"

/** Prints the mark of `phase` when RUNNER_DEBUG_START=1; otherwise does nothing. */
export const mark = (phase: string): void => {
  if (enabled) process.stderr.write(`runner: start-up ${performance.now().toFixed(1)} ms: ${phase}\n`)
}

/** `mark` as an effect, for the phases inside a run's effect. */
export const marked = (phase: string): Effect.Effect<void> => enabled ? Effect.sync(() => mark(phase)) : Effect.void
