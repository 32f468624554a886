/** The generated DAGs the benchmarks share. */
import * as Effect from "effect/Effect"
import * as Dag from "../src/Dag.ts"
import * as Job from "../src/Job.ts"

/** 10 levels of `width` no-op jobs, each needing jobs i and i+1 of the level before. `fail(level)` makes a level fail. */
export const layered = (width: number, fail: (level: number) => boolean = () => false): Dag.Dag => {
  const all: Array<Job.Any> = []
  let previous: Array<Job.Any> = []
  for (let level = 0; level < 10; level++) {
    const current = Array.from({ length: width }, (_, i) => {
      const needs: Record<string, Job.Any> = {}
      if (previous.length > 0) {
        needs["a"] = previous[i]!
        needs["b"] = previous[(i + 1) % width]!
      }
      return Job.make(`l${level}-${i}`, { needs, run: () => fail(level) ? Effect.fail("stopped") : Effect.void })
    })
    all.push(...current)
    previous = current
  }
  return Dag.make("layered", all)
}
