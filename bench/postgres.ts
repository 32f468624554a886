/**
 * The per-job cost of the PostgreSQL journal beside SQLite's: the layered DAG (10 levels, each job needing 2 of the
 * level before) of in-process no-op jobs run by Executor.run at concurrency 8 (planning excluded, a reporter that
 * discards), on SQLite FULL, SQLite NORMAL and PostgreSQL (a fresh file or database per round), interleaved.
 * Needs a PostgreSQL server: `RUNNER_BENCH_PG` (default postgres://postgres@127.0.0.1:5432), which must allow
 * CREATE DATABASE. Prints JSON and writes bench/postgres-results.json.
 * Run: node bench/postgres.ts [--jobs N (default 10000)] [--rounds N (default 3; 0: no per-job measure)] [--no-write]
 *
 * Also `--crash N`: N kill -9 + resume rounds of the crash DAG (test/fixtures/crash-dag.ts) on PostgreSQL through the
 * CLI, each checking that no job or step committed before the kill runs again and that the run finishes.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Layer from "effect/Layer"
import { spawn, spawnSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Executor from "../src/internal/Executor.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Reporter from "../src/internal/reporter/Reporter.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { layered, timedRun } from "./workloads.ts"

const argv = process.argv.slice(2)
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(name)
  return i >= 0 ? Number(argv[i + 1]) : fallback
}
const jobs = option("--jobs", 10_000)
const rounds = option("--rounds", 3)
const crashRounds = option("--crash", 0)
const base = process.env["RUNNER_BENCH_PG"] ?? "postgres://postgres@127.0.0.1:5432"
const root = path.resolve(import.meta.dirname, "..")
const server = new URL(base)
const connection = ["-h", server.hostname, "-p", server.port || "5432", "-U", decodeURIComponent(server.username || "postgres")]

const psql = (database: string, sql: string): string => {
  const result = spawnSync("psql", [...connection, "-d", database, "-v", "ON_ERROR_STOP=1", "-Atqc", sql], { encoding: "utf8" })
  if (result.status !== 0) throw new Error(`psql: ${result.stderr}`)
  return result.stdout.trim()
}
const freshDatabase = () => {
  const name = `runner_bench_${crypto.randomBytes(6).toString("hex")}`
  psql("postgres", `CREATE DATABASE ${name}`)
  return { name, url: `${base}/${name}`, drop: () => psql("postgres", `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}

const silent = Layer.succeed(Reporter.Reporter)(Reporter.Reporter.of({ event: () => Effect.void, log: () => {} }))
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "runner-bench-pg-"))
type Kind = "sqlite-full" | "sqlite-normal" | "postgres"

const runOnce = (plan: Plan.Plan, kind: Kind) => {
  const file = path.join(tmp, `j${crypto.randomBytes(4).toString("hex")}.db`)
  const database = kind === "postgres" ? freshDatabase() : undefined
  const layer = database !== undefined
    ? SqlJournal.layerPostgres(database.url)
    : SqlJournal.layerSqlite({ filename: file, durability: kind === "sqlite-full" ? "full" : "normal" })
  return timedRun(plan, () => performance.now()).pipe(
    Effect.provide(Layer.mergeAll(layer, NodeServices.layer, FetchHttpClient.layer, silent)),
    Effect.ensuring(Effect.sync(() => {
      for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(file + suffix, { force: true })
      database?.drop()
    }))
  )
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const perJob = Effect.gen(function*() {
  const plan = yield* Plan.plan(layered(Math.max(1, Math.round(jobs / 10))))
  const kinds: ReadonlyArray<Kind> = ["sqlite-full", "sqlite-normal", "postgres"]
  const times: Record<string, Array<number>> = {}
  for (let i = 0; i < rounds; i++) {
    for (const kind of kinds) (times[kind] ??= []).push(yield* runOnce(plan, kind))
  }
  return Object.fromEntries([["jobs", plan.jobs.length], ["rounds", rounds], ["concurrency", 8], ...kinds.map((kind) => [kind, {
    millis: times[kind]!.map((t) => Math.round(t)),
    microsPerJob: Math.round(median(times[kind]!) * 1000 / plan.jobs.length)
  }])])
})

/** One kill -9 + resume round through the CLI; returns the violations found (none expected). */
const crashRound = async (): Promise<{ readonly killedAt: number; readonly violations: ReadonlyArray<string> }> => {
  const database = freshDatabase()
  const log = path.join(tmp, `crash-${crypto.randomBytes(4).toString("hex")}.log`)
  const env = { ...process.env, CRASH_LEVELS: "10", CRASH_WIDTH: "30", CRASH_LOG: log, NO_COLOR: "1" }
  const args = [path.join(root, "src/bin.ts"), "test/fixtures/crash-dag.ts", "--key", "crash", "--journal", database.url]
  const node = path.join(root, "node_modules/.bin/node")
  try {
    const child = spawn(node, args, { cwd: root, env, stdio: "ignore" })
    const closed = new Promise((resolve) => child.on("close", resolve))
    await new Promise((resolve) => setTimeout(resolve, 500 + Math.random() * 2000))
    child.kill("SIGKILL")
    await closed
    const succeeded = (() => {
      try {
        return new Set(psql(database.name, "SELECT job_id FROM jobs WHERE status = 'succeeded'").split("\n"))
      } catch {
        return new Set<string>()
      }
    })()
    const steps = (() => {
      try {
        return new Set(psql(database.name, "SELECT job_id || ' ' || step FROM checkpoints").split("\n"))
      } catch {
        return new Set<string>()
      }
    })()
    const resumed = spawnSync(node, args, { cwd: root, env, encoding: "utf8", timeout: 120_000 })
    const violations: Array<string> = []
    if (resumed.status !== 0) violations.push(`resume exited ${resumed.status}: ${resumed.stderr}`)
    const lines = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").map((l) => l.split(" ")) : []
    const first = String(child.pid)
    for (const l of lines) {
      if (l.at(-1) === first) continue
      if (l[0] === "job" && succeeded.has(l[1]!)) violations.push(`job ${l[1]} ran again after its success was committed`)
      if (l[0] === "step" && steps.has(`${l[1]} ${l[2]}`)) violations.push(`step ${l[1]} ${l[2]} ran again after its checkpoint`)
    }
    const left = psql(database.name, "SELECT count(*) FROM jobs WHERE status <> 'succeeded'")
    if (left !== "0") violations.push(`${left} jobs not succeeded after the resume`)
    return { killedAt: succeeded.size, violations }
  } finally {
    database.drop()
  }
}

const previous = (() => {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, "bench/postgres-results.json"), "utf8")) as Record<string, unknown>
  } catch {
    return {}
  }
})()
const results: Record<string, unknown> = { runtime: process.version, cpus: os.cpus().length }
// A run of one part keeps the other's figures from the results file.
results["perJob"] = rounds > 0 ? await Effect.runPromise(perJob) : previous["perJob"]
results["crash"] = previous["crash"]
if (crashRounds > 0) {
  const campaign: Array<{ killedAt: number; violations: ReadonlyArray<string> }> = []
  for (let i = 0; i < crashRounds; i++) campaign.push(await crashRound())
  results["crash"] = {
    rounds: crashRounds,
    jobsCommittedAtKill: campaign.map((c) => c.killedAt),
    violations: campaign.flatMap((c) => c.violations)
  }
}
fs.rmSync(tmp, { recursive: true, force: true })
console.log(JSON.stringify(results, null, 2))
if (!argv.includes("--no-write")) fs.writeFileSync(path.join(root, "bench/postgres-results.json"), JSON.stringify(results, null, 2) + "\n")
