/**
 * The generated DAG shapes every benchmark shares: flat (no dependencies), layered (10 levels, each job needing 2–3
 * jobs of the level before, picked with a fixed seed) and chain. A shape is plain data (`Spec`), so the same DAG can
 * be written as a Makefile, a justfile, a Wireit package.json... (bench/generate.ts) or built in process (`toDag`).
 */
import * as Effect from "effect/Effect"
import * as Dag from "../src/Dag.ts"
import * as Job from "../src/Job.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Journal from "../src/internal/Journal.ts"
import type * as Plan from "../src/internal/Plan.ts"

export type Shape = "flat" | "layered" | "chain"

/** Job i is named `j<i>`; `needs[i]` holds the indices of the jobs it needs; `levels[i]` its level. */
export interface Spec {
  readonly shape: Shape
  readonly needs: ReadonlyArray<ReadonlyArray<number>>
  readonly levels: ReadonlyArray<number>
}

export const LEVELS = 10
export const SEED = 20261130

/** mulberry32: a small deterministic PRNG, so a shape is the same on every machine and runtime. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** `jobs` jobs of a shape. Layered: `LEVELS` levels of `jobs / LEVELS` (the last level takes the remainder). */
export const spec = (shape: Shape, jobs: number, seed = SEED): Spec => {
  if (shape === "flat") return { shape, needs: Array.from({ length: jobs }, () => []), levels: Array(jobs).fill(0) }
  if (shape === "chain") {
    return { shape, needs: Array.from({ length: jobs }, (_, i) => (i === 0 ? [] : [i - 1])), levels: [...Array(jobs).keys()] }
  }
  const next = random(seed)
  const levels = Math.min(LEVELS, jobs)
  const width = Math.floor(jobs / levels)
  const needs: Array<Array<number>> = []
  const levelOf: Array<number> = []
  let previous: Array<number> = []
  for (let level = 0; level < levels; level++) {
    const size = level === levels - 1 ? jobs - width * (levels - 1) : width
    const current: Array<number> = []
    for (let k = 0; k < size; k++) {
      const picks = new Set<number>()
      const want = Math.min(previous.length, next() < 0.5 ? 2 : 3)
      while (picks.size < want) picks.add(previous[Math.floor(next() * previous.length)]!)
      current.push(needs.length)
      needs.push([...picks].sort((a, b) => a - b))
      levelOf.push(level)
    }
    previous = current
  }
  return { shape, needs, levels: levelOf }
}

/** The jobs nothing needs: what a top-level `all` target must depend on. */
export const sinks = (s: Spec): ReadonlyArray<number> => {
  const needed = new Set(s.needs.flat())
  return s.needs.map((_, i) => i).filter((i) => !needed.has(i))
}

/** An in-process DAG of a spec, every job running `run(level)` (default: nothing). */
export const toDag = (s: Spec, run: (level: number) => Effect.Effect<void, string> = () => Effect.void): Dag.Dag => {
  const jobs: Array<Job.Any> = []
  s.needs.forEach((indices, i) => {
    const needs: Record<string, Job.Any> = {}
    for (const d of indices) needs[`j${d}`] = jobs[d]!
    const level = s.levels[i]!
    jobs.push(Job.make(`j${i}`, { needs, run: () => run(level) }))
  })
  return Dag.make(s.shape, jobs)
}

/**
 * 10 levels of `width` no-op jobs (the layered shape). `fail(level)` makes a level's jobs fail: bench/journal.ts
 * stops a run at 50% with it.
 */
export const layered = (width: number, fail: (level: number) => boolean = () => false): Dag.Dag =>
  toDag(spec("layered", width * LEVELS), (level) => (fail(level) ? Effect.fail("stopped") : Effect.void))

/**
 * One `Executor.run` of `plan` (concurrency 8, no-new) in a run just begun in the current journal, inside a scope as
 * `runner` does, timed by `clock` (its unit) around the executor alone. `around` brackets the timed part (marks for a
 * GC trace). The benchmarks that time the executor in process share it.
 */
export const timedRun = (
  plan: Plan.Plan,
  clock: () => number,
  around: { readonly before?: () => void; readonly after?: () => void } = {}
) =>
  Effect.scoped(Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const begun = yield* journal.begin({
      dag: plan.dag.name,
      target: { _tag: "New" },
      definitionHash: "bench",
      trigger: "bench",
      runnerVersion: "bench",
      wait: false
    })
    if (begun._tag !== "Run") throw new Error("begin did not create a run")
    around.before?.()
    const start = clock()
    const result = yield* Executor.run(plan, { runId: begun.runId, concurrency: 8, failureMode: "no-new" })
    const elapsed = clock() - start
    around.after?.()
    if (result.status !== "succeeded") throw new Error(`bench run of ${plan.dag.name} ended ${result.status}`)
    return elapsed
  }))
