/**
 * Issue 18's in-memory executor figure in CPU time, for comparing executor changes on a shared machine: 10,000 no-op
 * jobs (layered), concurrency 8, the memory journal, a reporter that discards; each round's `Executor.run` timed in
 * process CPU (user+sys, every thread: GC included), planning excluded, with Effect's fiber floor (as in
 * bench/inprocess.ts) measured in each round. Prints medians in µs per job.
 *
 * Run: node bench/exec-memory.ts | bun bench/exec-memory.ts | deno run -A bench/exec-memory.ts  [--jobs 10000]
 *   [--shape layered] [--rounds 7]
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import process from "node:process"
import * as Plan from "../src/internal/Plan.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Reporter from "../src/internal/reporter/Reporter.ts"
import { type Shape, spec, timedRun, toDag } from "./workloads.ts"

const argv = process.argv.slice(2)
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1]! : fallback
}
const jobs = Number(option("--jobs", "10000"))
const shape = option("--shape", "layered") as Shape
const rounds = Number(option("--rounds", "7"))
const marks = argv.includes("--marks")
/** Without Effect's floor between rounds (for profiles of the executor alone). */
const noFloor = argv.includes("--no-floor")

const silent = Layer.succeed(Reporter.Reporter)(Reporter.Reporter.of({ event: () => Effect.void, log: () => {} }))
const cpu = () => {
  const { system, user } = process.cpuUsage()
  return user + system
}

// With --trace-gc-nvp: the GCs between the marks are the run's (bytes allocated per job, a figure load cannot skew).
const runOnce = (plan: Plan.Plan) =>
  timedRun(plan, cpu, marks ? { before: () => console.log("EXEC_MARKS start"), after: () => console.log("EXEC_MARKS end") } : {}).pipe(
    Effect.map((micros) => micros / plan.jobs.length),
    Effect.provide(Layer.mergeAll(Journal.layerMemory, NodeServices.layer, FetchHttpClient.layer, silent))
  )

const floorOnce = (n: number) =>
  Effect.gen(function*() {
    const start = cpu()
    yield* Effect.forEach(
      Array.from({ length: n }, (_, i) => i),
      () => Effect.flatMap(Effect.forkChild(Effect.yieldNow), Fiber.join),
      { concurrency: 8, discard: true }
    )
    return (cpu() - start) / n
  })

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const main = Effect.gen(function*() {
  // Warm-up (JIT) on the measured plan, not counted: the first rounds ran 2-3x slower.
  const plan = yield* Plan.plan(toDag(spec(shape, jobs)))
  for (let i = 0; i < 3; i++) {
    yield* runOnce(plan)
    if (!noFloor) yield* floorOnce(jobs)
  }
  const runs: Array<number> = []
  const floors: Array<number> = []
  for (let round = 0; round < rounds; round++) {
    runs.push(yield* runOnce(plan))
    if (!noFloor) floors.push(yield* floorOnce(jobs))
  }
  return { runs, floors }
})

const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"
const { floors, runs } = await Effect.runPromise(main)
const f = (xs: ReadonlyArray<number>) => xs.map((x) => x.toFixed(1)).join(" ")
console.log(`${runtime} ${shape} ${jobs}: executor ${median(runs).toFixed(1)} µs/job CPU, min ${Math.min(...runs).toFixed(1)} (${f(runs)}), floor ${median(floors).toFixed(1)} (${f(floors)})`)
