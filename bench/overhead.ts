/**
 * Per-job overhead of the executor: 1,000 (or --jobs N) in-process no-op jobs, flat and layered (10 levels, each job
 * needing 2 of the previous level), memory journal, a reporter that discards. Prints JSON with medians.
 * Run: node bench/overhead.ts | bun bench/overhead.ts | deno run -A bench/overhead.ts
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Dag from "../src/Dag.ts"
import * as Executor from "../src/Executor.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/Journal.ts"
import * as Reporter from "../src/Reporter.ts"
import { layered } from "./workloads.ts"

const argJobs = process.argv.indexOf("--jobs")
const total = argJobs > 0 ? Number(process.argv[argJobs + 1]) : 1000
const rounds = 7

const flat = () => Dag.make("flat", Array.from({ length: total }, (_, i) => Job.make(`j${i}`, { run: () => Effect.void })))

const layeredDag = () => layered(total / 10)

const silent = Layer.succeed(Reporter.Reporter)(Reporter.Reporter.of({ event: () => Effect.void, log: () => {} }))
const services = Layer.mergeAll(Journal.layerMemory, NodeServices.layer, silent)

const measure = (make: () => Dag.Dag) =>
  Effect.gen(function*() {
    const times: Array<number> = []
    for (let round = 0; round < rounds; round++) {
      const plan = yield* Dag.plan(make())
      const start = performance.now()
      const result = yield* Executor.run(plan, { runId: `bench-${round}`, concurrency: 8, failureMode: "no-new" })
      times.push(performance.now() - start)
      if (result.status !== "succeeded") throw new Error("bench run failed")
    }
    times.sort((a, b) => a - b)
    const median = times[Math.floor(times.length / 2)]!
    return {
      medianMillis: Number(median.toFixed(2)),
      minMillis: Number(times[0]!.toFixed(2)),
      maxMillis: Number(times.at(-1)!.toFixed(2)),
      microsPerJob: Number((median * 1000 / total).toFixed(2))
    }
  }).pipe(Effect.provide(services))

const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"
const results = await Effect.runPromise(Effect.all({ flat: measure(flat), layered: measure(layeredDag) }))
console.log(JSON.stringify({ runtime, jobs: total, rounds, ...results }))
