/**
 * What the durable SQLite journal costs: the 10,000-job layered DAG (10 levels of 1,000, each job needing 2 of the
 * level before) of in-process no-op jobs run by Executor.run on the SQLite journal (durability full and normal, a
 * fresh temp file per round) next to the in-memory journal, at concurrency 8 and 64; a 1,000-job chain on full
 * compared with the fsync floor measured directly with node:sqlite; the time to resume a 10,000-job run that stopped
 * at 50% until its first new job starts; peak RSS and heap for the 10,000-job DAG with the journal.
 * Prints JSON and writes bench/journal-results.json.
 * Run: node bench/journal.ts | bun bench/journal.ts | deno run -A bench/journal.ts
 *   --rounds N   rounds per measure (default 5); --quick: 1,000 jobs instead of 10,000, nothing written;
 *   --no-write   print only. JOURNAL_MODULE=path measures another SqlJournal.ts (a prototype) instead of
 *   src/internal/sql/SqlJournal.ts, and writes nothing.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { commitMicros } from "./fsync.ts"
import { pathToFileURL } from "node:url"
import * as Dag from "../src/Dag.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Reporter from "../src/internal/reporter/Reporter.ts"
import * as Resume from "../src/internal/Resume.ts"
import type * as RunEvent from "../src/internal/RunEvent.ts"
import * as DefaultSqlJournal from "../src/internal/sql/SqlJournal.ts"
import { layered } from "./workloads.ts"

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(name)
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(name)
  return i >= 0 ? Number(argv[i + 1]) : fallback
}
const rounds = option("--rounds", 5)
const quick = flag("--quick")
const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"
const root = path.resolve(import.meta.dirname, "..")

const SqlJournal: typeof DefaultSqlJournal = process.env["JOURNAL_MODULE"] === undefined
  ? DefaultSqlJournal
  : await import(pathToFileURL(path.resolve(process.env["JOURNAL_MODULE"])).href)

// ---------------------------------------------------------------------------------------------------------------
// DAGs

/** `length` jobs, each needing the one before. */
const chain = (length: number) => {
  const all: Array<Job.Any> = []
  for (let i = 0; i < length; i++) {
    const needs: Record<string, Job.Any> = i === 0 ? {} : { previous: all[i - 1]! }
    all.push(Job.make(`c${i}`, { needs, run: () => Effect.void }))
  }
  return Dag.make("chain", all)
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const silent = Layer.succeed(Reporter.Reporter)(Reporter.Reporter.of({ event: () => Effect.void, log: () => {} }))

type JournalKind = "memory" | "full" | "normal"

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "runner-bench-journal-"))
let fileCounter = 0
const freshFile = () => path.join(tmp, `j${fileCounter++}.db`)
const removeDb = (file: string) => {
  for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(file + suffix, { force: true })
}

const journalLayer = (kind: JournalKind, file: string): Layer.Layer<Journal.Journal, Journal.JournalError> =>
  kind === "memory" ? Journal.layerMemory : SqlJournal.layerSqlite({ filename: file, durability: kind })

const beginRequest = (dag: string, target: Journal.Target = { _tag: "New" }): Journal.BeginRequest => ({
  dag,
  target,
  definitionHash: "bench",
  trigger: "bench",
  runnerVersion: "bench",
  wait: false
})

interface Stats {
  readonly median: number
  readonly min: number
  readonly max: number
}
const stats = (values: ReadonlyArray<number>): Stats => {
  const sorted = [...values].sort((a, b) => a - b)
  const median = sorted.length % 2 === 1
    ? sorted[(sorted.length - 1) / 2]!
    : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2
  return { median: round(median), min: round(sorted[0]!), max: round(sorted.at(-1)!) }
}
const round = (x: number, digits = 2) => Number(x.toFixed(digits))

/** One run of `plan` on a fresh journal, inside a scope as the CLI does: begin, then Executor.run (timed). */
const runOnce = (plan: Plan.Plan, kind: JournalKind, concurrency: number, failureMode: RunEvent.FailureMode = "no-new") => {
  const file = freshFile()
  return Effect.scoped(Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const begun = yield* journal.begin(beginRequest(plan.dag.name))
    if (begun._tag !== "Run") throw new Error("begin did not create a run")
    const cpu = process.cpuUsage()
    const start = performance.now()
    const result = yield* Executor.run(plan, { runId: begun.runId, concurrency, failureMode })
    const millis = performance.now() - start
    const used = process.cpuUsage(cpu)
    return { millis, cpuMillis: (used.user + used.system) / 1000, result, runId: begun.runId }
  })).pipe(
    Effect.provide(Layer.mergeAll(journalLayer(kind, file), NodeServices.layer, FetchHttpClient.layer, silent)),
    Effect.ensuring(Effect.sync(() => removeDb(file)))
  )
}

interface Series {
  /** Wall time of Executor.run. */
  readonly millis: Stats
  readonly microsPerJob: number
  readonly jobsPerSecond: number
  /** CPU time (user + system, fsync included) of the process during Executor.run: less sensitive to other load. */
  readonly cpuMicrosPerJob: number
}

const summarize = (times: ReadonlyArray<number>, cpu: ReadonlyArray<number>, jobs: number): Series => {
  const millis = stats(times)
  return {
    millis,
    microsPerJob: round(millis.median * 1000 / jobs, 1),
    jobsPerSecond: Math.round(jobs / (millis.median / 1000)),
    cpuMicrosPerJob: round(stats(cpu).median * 1000 / jobs, 1)
  }
}

/** `rounds` runs of each journal kind, interleaved (memory, full, normal, memory, ...) so drift hits all alike. */
const interleaved = (plan: Plan.Plan, kinds: ReadonlyArray<JournalKind>, concurrency: number) =>
  Effect.gen(function*() {
    const times: Record<string, Array<number>> = {}
    const cpu: Record<string, Array<number>> = {}
    for (let i = 0; i < rounds; i++) {
      for (const kind of kinds) {
        const { cpuMillis, millis, result } = yield* runOnce(plan, kind, concurrency)
        if (result.status !== "succeeded") throw new Error(`bench run failed on ${kind}`)
        ;(times[kind] ??= []).push(millis)
        ;(cpu[kind] ??= []).push(cpuMillis)
      }
    }
    return Object.fromEntries(kinds.map((kind) => [kind, summarize(times[kind]!, cpu[kind]!, plan.jobs.length)]))
  })

// ---------------------------------------------------------------------------------------------------------------
// (b) the fsync floor: one small write transaction, committed with WAL + synchronous=FULL, through node:sqlite

const fsyncFloor = (commits: number, synchronous: "FULL" | "NORMAL") => {
  const file = freshFile()
  try {
    return stats(commitMicros(file, commits, synchronous))
  } finally {
    removeDb(file)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// (c) resume: a 10,000-job run stopped at 50% (levels >= 5 fail), then resumed until its first new job starts

const resumeOnce = (width: number, kind: "full" | "normal", concurrency: number) =>
  Effect.gen(function*() {
    const file = freshFile()
    let failing = true
    const plan = yield* Plan.plan(layered(width, (level) => failing && level >= 5))
    const services = (reporter: Layer.Layer<Reporter.Reporter>) =>
      Layer.mergeAll(SqlJournal.layerSqlite({ filename: file, durability: kind }), NodeServices.layer, FetchHttpClient.layer, reporter)
    // The first run: levels 0-4 succeed, level 5 fails, 6-9 are skipped ("continue" runs all of 0-4).
    const first = yield* Effect.scoped(Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const begun = yield* journal.begin(beginRequest(plan.dag.name))
      if (begun._tag !== "Run") throw new Error("begin did not create a run")
      return yield* Executor.run(plan, { runId: begun.runId, concurrency, failureMode: "continue" })
    })).pipe(Effect.provide(services(silent)))
    const succeededFirst = first.jobs.filter((j) => j.status === "succeeded").length
    if (succeededFirst !== width * 5) throw new Error(`expected ${width * 5} successes, got ${succeededFirst}`)

    // The resume, timed from opening the journal to the first AttemptStarted.
    failing = false
    const marks: Record<string, number> = {}
    let firstStart: number | undefined
    const watcher = Layer.succeed(Reporter.Reporter)(Reporter.Reporter.of({
      event: (event) =>
        Effect.sync(() => {
          if (event._tag === "AttemptStarted" && firstStart === undefined) firstStart = performance.now()
        }),
      log: () => {}
    }))
    const start = performance.now()
    const result = yield* Effect.scoped(Effect.gen(function*() {
      marks["opened"] = performance.now()
      const journal = yield* Journal.Journal
      const begun = yield* journal.begin(beginRequest(plan.dag.name, { _tag: "Resume", runId: undefined }))
      if (begun._tag !== "Run" || !begun.resumed) throw new Error("nothing to resume")
      marks["begun"] = performance.now()
      const rows = yield* journal.succeeded(begun.runId)
      marks["loaded"] = performance.now()
      const decision = yield* Resume.decide(plan, Resume.definitionHashes(plan), rows)
      marks["decided"] = performance.now()
      if (decision.restored.size !== width * 5) throw new Error(`restored ${decision.restored.size}`)
      return yield* Executor.run(plan, {
        runId: begun.runId,
        concurrency,
        failureMode: "no-new",
        restored: decision.restored,
        resumed: true
      })
    })).pipe(Effect.provide(services(watcher)), Effect.ensuring(Effect.sync(() => removeDb(file))))
    const end = performance.now()
    if (result.status !== "succeeded" || firstStart === undefined) throw new Error("resume failed")
    return {
      toFirstStart: firstStart - start,
      open: marks["opened"]! - start,
      begin: marks["begun"]! - marks["opened"]!,
      load: marks["loaded"]! - marks["begun"]!,
      decide: marks["decided"]! - marks["loaded"]!,
      runToFirstStart: firstStart - marks["decided"]!,
      wholeResume: end - start
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// (d) memory: a fresh process runs the 10,000-job DAG once on a journal and reports its peak RSS and heap

const memoryProbe = async (kind: JournalKind, width: number, concurrency: number) => {
  const plan = await Effect.runPromise(Plan.plan(layered(width)))
  const g = globalThis as { gc?: () => void; Bun?: { gc: (force: boolean) => void } }
  const gc = g.gc ?? (g.Bun === undefined ? undefined : () => g.Bun!.gc(true))
  gc?.()
  const before = process.memoryUsage()
  let peakRss = before.rss
  let peakHeap = before.heapUsed
  let events = 0
  const sample = () => {
    const m = process.memoryUsage()
    if (m.rss > peakRss) peakRss = m.rss
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed
  }
  const sampler = Layer.succeed(Reporter.Reporter)(Reporter.Reporter.of({
    event: () => Effect.sync(() => ++events % 250 === 0 && sample()),
    log: () => {}
  }))
  const file = freshFile()
  const result = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const begun = yield* journal.begin(beginRequest(plan.dag.name))
    if (begun._tag !== "Run") throw new Error("begin did not create a run")
    const result = yield* Executor.run(plan, { runId: begun.runId, concurrency, failureMode: "no-new" })
    sample()
    return result
  })).pipe(Effect.provide(Layer.mergeAll(journalLayer(kind, file), NodeServices.layer, FetchHttpClient.layer, sampler))))
  sample()
  removeDb(file)
  if (result.status !== "succeeded") throw new Error("memory probe run failed")
  let maxRss: number | undefined
  try {
    maxRss = process.resourceUsage().maxRSS * 1024 // KiB on Linux
  } catch {
    maxRss = undefined
  }
  const mib = (b: number) => round(b / 1024 / 1024, 1)
  return {
    baselineRssMiB: mib(before.rss),
    baselineHeapUsedMiB: mib(before.heapUsed),
    /** Sampled every 250 events during the run, and at its end. */
    peakRssMiB: mib(peakRss),
    peakHeapUsedMiB: mib(peakHeap),
    /** getrusage's max RSS: the whole process, start-up included (Deno's is dominated by its start-up). */
    processMaxRssMiB: maxRss === undefined ? null : mib(maxRss),
    sampledEvents: events
  }
}

const spawnProbe = (kind: JournalKind, width: number, concurrency: number) => {
  const self = path.join(root, "bench/journal.ts")
  const args = runtime === "deno"
    ? ["run", "-A", "--v8-flags=--expose-gc", self]
    : runtime === "bun"
    ? [self]
    : ["--expose-gc", self]
  const result = spawnSync(process.execPath, [...args, "--memory-probe", kind, String(width), String(concurrency)], {
    cwd: root,
    encoding: "utf8",
    env: process.env
  })
  if (result.status !== 0) throw new Error(`memory probe failed: ${result.stderr}`)
  return JSON.parse(result.stdout.trim().split("\n").at(-1)!)
}

// ---------------------------------------------------------------------------------------------------------------

const main = Effect.gen(function*() {
  const width = quick ? 100 : 1000
  const jobs = width * 10
  const layeredPlan = yield* Plan.plan(layered(width))
  const chainLength = quick ? 200 : 1000
  const chainPlan = yield* Plan.plan(chain(chainLength))
  const started = performance.now()
  const loadAtStart = os.loadavg().map((x) => round(x, 2))
  const log = (what: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1)}s] ${what}\n`)

  // Warm-up: JIT and the SQL statement cache paths, not counted.
  yield* runOnce(yield* Plan.plan(layered(100)), "memory", 8)
  yield* runOnce(yield* Plan.plan(layered(100)), "full", 8)
  log("warm")

  const layeredResults: Record<string, Record<string, Series>> = {}
  for (const concurrency of [8, 64]) {
    const row = yield* interleaved(layeredPlan, ["memory", "full", "normal"], concurrency)
    for (const kind of Object.keys(row)) log(`layered c${concurrency} ${kind}: ${row[kind]!.microsPerJob} µs/job`)
    layeredResults[`concurrency${concurrency}`] = row
  }
  const overhead = (c: string, kind: "full" | "normal", field: "microsPerJob" | "cpuMicrosPerJob" = "microsPerJob") =>
    round(layeredResults[c]![kind]![field] - layeredResults[c]!["memory"]![field], 1)

  // The chain, each round next to a fresh measure of the floor (the disk's fsync time drifts with other load).
  const floorRounds: Array<Stats> = []
  const chainTimes: Record<string, Array<number>> = { full: [], memory: [] }
  const chainCpu: Record<string, Array<number>> = { full: [], memory: [] }
  const ratios: Array<number> = []
  for (let i = 0; i < rounds; i++) {
    const floor = fsyncFloor(1000, "FULL")
    floorRounds.push(floor)
    for (const kind of ["full", "memory"] as const) {
      const { cpuMillis, millis, result } = yield* runOnce(chainPlan, kind, 8)
      if (result.status !== "succeeded") throw new Error("chain run failed")
      chainTimes[kind]!.push(millis)
      chainCpu[kind]!.push(cpuMillis)
    }
    ratios.push(chainTimes["full"]!.at(-1)! * 1000 / chainLength / floor.median)
  }
  const floor = stats(floorRounds.map((f) => f.median))
  const floorNormal = fsyncFloor(1000, "NORMAL")
  const chainFull = summarize(chainTimes["full"]!, chainCpu["full"]!, chainLength)
  const chainMemory = summarize(chainTimes["memory"]!, chainCpu["memory"]!, chainLength)
  log(`fsync floor ${floor.median} µs, chain full ${chainFull.microsPerJob} µs/job`)

  const resumeRounds: Array<Awaited<Effect.Success<ReturnType<typeof resumeOnce>>>> = []
  for (let i = 0; i < Math.max(3, rounds); i++) resumeRounds.push(yield* resumeOnce(width, "full", 8))
  const resume = Object.fromEntries(
    Object.keys(resumeRounds[0]!).map((k) => [k, stats(resumeRounds.map((r) => r[k as keyof typeof r]))])
  )
  log(`resume to first start ${resume["toFirstStart"]!.median} ms`)

  const memory = {
    memory: spawnProbe("memory", width, 8),
    full: spawnProbe("full", width, 8)
  }
  log("memory probes done")

  const target = 100
  return {
    runtime,
    journalModule: process.env["JOURNAL_MODULE"] ?? "src/internal/sql/SqlJournal.ts",
    loadAverage: { start: loadAtStart, end: os.loadavg().map((x) => round(x, 2)) },
    wallSeconds: round((performance.now() - started) / 1000, 1),
    version: runtime === "bun"
      ? process.versions["bun"]
      : runtime === "deno"
      ? (globalThis as any).Deno.version.deno
      : process.versions.node,
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    rounds,
    layered: {
      jobs,
      shape: "10 levels x " + width + ", each job needs 2 of the level before",
      ...layeredResults,
      /** Journal minus memory, µs per job: wall time (the target's measure) and CPU time. */
      journalOverheadMicrosPerJob: {
        full: { concurrency8: overhead("concurrency8", "full"), concurrency64: overhead("concurrency64", "full") },
        normal: { concurrency8: overhead("concurrency8", "normal"), concurrency64: overhead("concurrency64", "normal") }
      },
      journalOverheadCpuMicrosPerJob: {
        full: {
          concurrency8: overhead("concurrency8", "full", "cpuMicrosPerJob"),
          concurrency64: overhead("concurrency64", "full", "cpuMicrosPerJob")
        },
        normal: {
          concurrency8: overhead("concurrency8", "normal", "cpuMicrosPerJob"),
          concurrency64: overhead("concurrency64", "normal", "cpuMicrosPerJob")
        }
      },
      targetMicrosPerJob: target,
      targetMet: overhead("concurrency8", "full") <= target
    },
    chain: {
      jobs: chainLength,
      full: chainFull,
      memory: chainMemory,
      /** Median per-commit time of 1,000 single-row INSERT transactions (WAL, synchronous=FULL); stats of the rounds' medians. */
      fsyncFloorMicros: floor,
      normalCommitMicros: floorNormal,
      journalMicrosPerJob: round(chainFull.microsPerJob - chainMemory.microsPerJob, 1),
      /** A chain job on FULL divided by the floor measured just before it: median of the rounds' ratios. */
      ratioToFsync: stats(ratios)
    },
    resume: { jobs, restored: jobs / 2, durability: "full", concurrency: 8, millis: resume },
    memory: { jobs, concurrency: 8, ...memory }
  }
})

if (argv[0] === "--memory-probe") {
  const result = await memoryProbe(argv[1] as JournalKind, Number(argv[2]), Number(argv[3]))
  fs.rmSync(tmp, { recursive: true, force: true })
  console.log(JSON.stringify(result))
} else {
  try {
    const results = await Effect.runPromise(main)
    console.log(JSON.stringify(results, null, 2))
    if (!quick && !flag("--no-write") && process.env["JOURNAL_MODULE"] === undefined) {
      fs.writeFileSync(path.join(root, "bench/journal-results.json"), JSON.stringify(results, null, 2) + "\n")
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}
