/**
 * A profiling harness for the in-memory executor (issue 18): runs `Executor.run` on a 10,000-job layered plan
 * `--runs` times (after a warm-up), nothing else, so that `node --cpu-prof` or `--trace-gc` sees the executor alone.
 * bench/profile-summary.ts aggregates a .cpuprofile by function and by file.
 *
 * Run: node --cpu-prof --cpu-prof-dir /tmp/prof bench/exec-profile.ts [--runs 30] [--jobs 10000] [--shape layered]
 * With `--heap file.heapprofile` (Node): a sampling heap profile of the measured runs that keeps the samples of objects
 * already collected, i.e. where the garbage is allocated (V8's sampler drops them by default, and `--heap-prof` with it).
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import process from "node:process"
import * as Plan from "../src/internal/Plan.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Reporter from "../src/internal/reporter/Reporter.ts"
import { type Shape, spec, timedRun, toDag } from "./workloads.ts"

const argv = process.argv.slice(2)
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1]! : fallback
}
const runs = Number(option("--runs", "30"))
const jobs = Number(option("--jobs", "10000"))
const shape = option("--shape", "layered") as Shape
const heap = option("--heap", "")

const silent = Layer.succeed(Reporter.Reporter)(Reporter.Reporter.of({ event: () => Effect.void, log: () => {} }))
const layer = Layer.mergeAll(Journal.layerMemory, NodeServices.layer, FetchHttpClient.layer, silent)
const cpu = () => {
  const { system, user } = process.cpuUsage()
  return user + system
}

const main = Effect.gen(function*() {
  const plan = yield* Plan.plan(toDag(spec(shape, jobs)))
  for (let i = 0; i < 3; i++) yield* timedRun(plan, cpu).pipe(Effect.provide(layer))
  const times: Array<number> = []
  const session = heap === "" ? undefined : yield* Effect.promise(() => sampling())
  for (let i = 0; i < runs; i++) times.push((yield* timedRun(plan, cpu).pipe(Effect.provide(layer))) / jobs)
  if (session !== undefined) {
    const { profile } = yield* Effect.promise(() => session.post("HeapProfiler.stopSampling"))
    fs.writeFileSync(heap, JSON.stringify(profile))
  }
  return times.sort((a, b) => a - b)
})

const sampling = async () => {
  const { Session } = await import("node:inspector/promises")
  const session = new Session()
  session.connect()
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true
  })
  return session
}

const times = await Effect.runPromise(main)
console.log(`${runs} runs: median ${times[times.length >> 1]!.toFixed(2)} µs/job CPU, min ${times[0]!.toFixed(2)}`)
