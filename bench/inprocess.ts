/**
 * Scenarios 2 and 3 of `npm run bench`, inside one runtime: in-process no-op jobs run by `Executor.run` (planning
 * excluded; a reporter that discards) at concurrency 8 on the in-memory journal (what `--journal none` uses), SQLite at
 * synchronous=NORMAL and at FULL (a fresh file per round, opened and migrated before the clock starts); and a chain
 * of jobs, each needing the one before, on FULL next to the fsync floor (single-row commits, WAL + FULL, through
 * node:sqlite, measured just before each chain round). Prints one JSON object.
 *
 * Run: node bench/inprocess.ts | bun bench/inprocess.ts | deno run -A bench/inprocess.ts
 *   --sizes 1000,10000  --rounds 5 (10,000-job DAGs: --big-rounds 3)  --chain 1000
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { commitMicros } from "./fsync.ts"
import * as Dag from "../src/Dag.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Reporter from "../src/internal/reporter/Reporter.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { type Shape, spec, timedRun, toDag } from "./workloads.ts"

const argv = process.argv.slice(2)
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1]! : fallback
}
const sizes = option("--sizes", "1000,10000").split(",").map(Number)
const rounds = Number(option("--rounds", "5"))
const bigRounds = Number(option("--big-rounds", "3"))
const chainLength = Number(option("--chain", "1000"))

export type Kind = "memory" | "normal" | "full"
const kinds: ReadonlyArray<Kind> = ["memory", "normal", "full"]

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "runner-bench-inprocess-"))
let counter = 0
const removeDb = (file: string) => {
  for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(file + suffix, { force: true })
}

const silent = Layer.succeed(Reporter.Reporter)(Reporter.Reporter.of({ event: () => Effect.void, log: () => {} }))

const journalLayer = (kind: Kind, file: string): Layer.Layer<Journal.Journal, Journal.JournalError> =>
  kind === "memory" ? Journal.layerMemory : SqlJournal.layerSqlite({ filename: file, durability: kind })

/** One timed `Executor.run` of `plan` after `journal.begin`, inside a scope as `runner` does. Milliseconds. */
const runOnce = (plan: Plan.Plan, kind: Kind) => {
  const file = path.join(tmp, `j${counter++}.db`)
  return timedRun(plan, () => performance.now()).pipe(
    Effect.provide(Layer.mergeAll(journalLayer(kind, file), NodeServices.layer, FetchHttpClient.layer, silent)),
    Effect.ensuring(Effect.sync(() => removeDb(file)))
  )
}

/**
 * The floor under the in-memory figure: Effect itself forking one fiber per job that yields once, and joining it, at
 * most 8 at once, nothing else: no DAG, no events, no journal. (`Effect.forEach` of `Effect.void` alone runs the
 * no-ops without a fiber each: 0.1 µs per job, no floor for a runner that must isolate its jobs.) Milliseconds.
 */
const effectFloorOnce = (jobs: number) =>
  Effect.gen(function*() {
    const start = performance.now()
    yield* Effect.forEach(
      Array.from({ length: jobs }, (_, i) => i),
      () => Effect.flatMap(Effect.forkChild(Effect.yieldNow), Fiber.join),
      { concurrency: 8, discard: true }
    )
    return performance.now() - start
  })

/** Median, min and max. */
export const stats = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median, min: sorted[0]!, max: sorted.at(-1)!, runs: sorted.length }
}

/** Median commit time (µs) of `commits` single-row write transactions on a WAL file at synchronous=FULL. */
const fsyncFloor = (commits: number) => {
  const file = path.join(tmp, `floor${counter++}.db`)
  try {
    return stats(commitMicros(file, commits, "FULL")).median
  } finally {
    removeDb(file)
  }
}

const main = Effect.gen(function*() {
  // Warm-up (JIT, statement caches), not counted.
  const warm = yield* Plan.plan(toDag(spec("layered", 500)))
  for (const kind of kinds) yield* runOnce(warm, kind)

  const dags: Array<Record<string, unknown>> = []
  for (const jobs of sizes) {
    for (const shape of ["flat", "layered"] as ReadonlyArray<Shape>) {
      const plan = yield* Plan.plan(toDag(spec(shape, jobs)))
      const times: Record<Kind, Array<number>> = { memory: [], normal: [], full: [] }
      const floor: Array<number> = []
      // Interleaved round by round, so drift in the machine's load hits every kind alike.
      for (let round = 0; round < (jobs >= 10_000 ? bigRounds : rounds); round++) {
        for (const kind of kinds) times[kind].push(yield* runOnce(plan, kind))
        floor.push(yield* effectFloorOnce(jobs))
      }
      const floorStats = stats(floor)
      const row: Record<string, unknown> = { jobs, shape, effectFloor: { ...floorStats, microsPerJob: (floorStats.median * 1000) / jobs } }
      for (const kind of kinds) {
        const s = stats(times[kind])
        row[kind] = { ...s, microsPerJob: (s.median * 1000) / jobs }
      }
      dags.push(row)
      process.stderr.write(`inprocess ${jobs} ${shape}: ${kinds.map((k) => `${k} ${((row[k] as any).microsPerJob as number).toFixed(1)}`).join(", ")} µs/job\n`)
    }
  }

  const chainPlan = yield* Plan.plan(toDag(spec("chain", chainLength)))
  const floors: Array<number> = []
  const chainTimes: Array<number> = []
  const ratios: Array<number> = []
  for (let round = 0; round < rounds; round++) {
    const floor = fsyncFloor(chainLength)
    const millis = yield* runOnce(chainPlan, "full")
    floors.push(floor)
    chainTimes.push(millis)
    ratios.push((millis * 1000) / chainLength / floor)
  }
  const chain = {
    jobs: chainLength,
    millis: stats(chainTimes),
    microsPerJob: (stats(chainTimes).median * 1000) / chainLength,
    fsyncFloorMicros: stats(floors),
    /** Each round's chain time divided by (jobs × that round's floor): the target's measure. */
    ratioToFloor: stats(ratios)
  }
  process.stderr.write(`inprocess chain: ${chain.microsPerJob.toFixed(0)} µs/job, ${chain.ratioToFloor.median.toFixed(2)}× the floor\n`)
  return { dags, chain }
})

const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"
try {
  const result = await Effect.runPromise(main)
  console.log(JSON.stringify({ runtime, rounds, bigRounds, ...result }))
} finally {
  fs.rmSync(tmp, { recursive: true, force: true })
}
