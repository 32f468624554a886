/**
 * Cluster mode on one machine, through the CLI as operators run it (`runner worker` processes, `runner <file>
 * --cluster` submitting and following): 1 vs 2 vs 3 workers on sleeping jobs (wall time, jobs/s), the per-job overhead
 * of no-op jobs (throughput per worker), and takeover after kill -9 of a worker with the default lease (rounds; each
 * round also checks the crash invariants: every job completes, the run exits 0, only the killed worker's in-flight
 * jobs run again). Each measurement has a fresh database. Needs PostgreSQL: `RUNNER_BENCH_PG` (default
 * postgres://postgres@127.0.0.1:5432), which must allow CREATE DATABASE. Prints JSON and writes
 * bench/cluster-results.json.
 * Run: node bench/cluster.ts [--sleep-jobs N (60)] [--noop-jobs N (300)] [--takeover N (3)] [--no-write]
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as chaos from "../test/support/chaos.ts"
import * as cluster from "../test/support/cluster.ts"

const argv = process.argv.slice(2)
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(name)
  return i >= 0 ? Number(argv[i + 1]) : fallback
}
const sleepJobs = option("--sleep-jobs", 60)
const noopJobs = option("--noop-jobs", 300)
const takeoverRounds = option("--takeover", 3)
const base = process.env["RUNNER_BENCH_PG"] ?? "postgres://postgres@127.0.0.1:5432"
const WORKER_CONCURRENCY = 8

const freshDatabase = async () => {
  const name = `runner_bench_${crypto.randomBytes(5).toString("hex")}`
  await cluster.query(`${base}/postgres`, `CREATE DATABASE ${name}`)
  return { url: `${base}/${name}`, drop: () => cluster.query(`${base}/postgres`, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}

/** A task file of `count` independent jobs that mark their start and end, then sleep `millis` (0: no sleep). */
const tasks = (dir: string, count: number, millis: number) =>
  chaos.writeTasks(dir, count, millis, { name: `bench-${count}-${millis}`, log: false })

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** Runs `file` on `workers` fresh workers; the submitter's wall time and the run's own duration (journal). */
const runOn = async (dir: string, file: string, workers: number, jobs: number) => {
  const db = await freshDatabase()
  const marksFile = path.join(dir, `marks-${crypto.randomBytes(3).toString("hex")}`)
  const env = { CHAOS_MARKS: marksFile }
  const procs = Array.from({ length: workers }, () => cluster.worker({ url: db.url, files: [file], concurrency: WORKER_CONCURRENCY, env }))
  const all: Array<cluster.Proc> = [...procs]
  try {
    await Promise.all(procs.map((w) => w.joined))
    const started = Date.now()
    const submitter = cluster.submit({ url: db.url, file, concurrency: WORKER_CONCURRENCY * workers, env })
    all.push(submitter)
    const end = await submitter.done
    const wall = Date.now() - started
    if (end.status !== 0) throw new Error(`the run exited ${end.status}: ${end.output.slice(-2000)}`)
    const [[runStart, runEnd]] = (await cluster.query(db.url, "SELECT started_at, ended_at FROM runs")) as [[string, string]]
    const marks = cluster.marks(marksFile)
    const ends = marks.filter((m) => m.what === "end").length
    if (ends !== jobs) throw new Error(`${ends} of ${jobs} jobs ended`)
    const perWorker = [...new Set(marks.map((m) => m.pid))].map((pid) => marks.filter((m) => m.pid === pid && m.what === "end").length)
    return { wallMillis: wall, runMillis: Number(runEnd) - Number(runStart), perWorker }
  } finally {
    await cluster.killAll(all)
    await db.drop()
  }
}

/** kill -9 of a worker with jobs in flight (default lease): ms to the first restart of a lost job elsewhere; checks. */
const takeoverRound = async (dir: string, round: number) => {
  const db = await freshDatabase()
  const jobs = 32
  const file = tasks(dir, jobs, 3_000)
  const marksFile = path.join(dir, `takeover-${round}`)
  const env = { CHAOS_MARKS: marksFile }
  const procs = [0, 1].map(() => cluster.worker({ url: db.url, files: [file], concurrency: 4, env }))
  const all: Array<cluster.Proc> = [...procs]
  try {
    await Promise.all(procs.map((w) => w.joined))
    const submitter = cluster.submit({ url: db.url, file, concurrency: 8, env })
    all.push(submitter)
    // A random moment after the first jobs started.
    while (!cluster.marks(marksFile).some((m) => m.what === "start")) await cluster.sleep(100)
    await cluster.sleep(500 + Math.random() * 2_000)
    const victim = procs[Math.floor(Math.random() * 2)]!
    victim.process.kill("SIGKILL")
    const at = Date.now()
    await victim.done
    const done = new Set((await cluster.query(db.url, "SELECT job_id FROM jobs WHERE status = 'succeeded'")).map(([job]) => job!))
    const inFlight = new Set(cluster.marks(marksFile).filter((m) => m.what === "start" && m.pid === victim.pid && !done.has(m.job)).map((m) => m.job))
    const fresh = cluster.worker({ url: db.url, files: [file], concurrency: 4, env })
    all.push(fresh)
    let takeover: number | undefined
    while (takeover === undefined && inFlight.size > 0 && Date.now() - at < 30_000) {
      const again = cluster.marks(marksFile).filter((m) => m.what === "start" && m.at >= at && m.pid !== victim.pid && inFlight.has(m.job))
      if (again.length > 0) takeover = Math.min(...again.map((m) => m.at)) - at
      else await cluster.sleep(50)
    }
    const end = await submitter.done
    const marks = cluster.marks(marksFile)
    const starts = new Map<string, number>()
    for (const m of marks) if (m.what === "start") starts.set(m.job, (starts.get(m.job) ?? 0) + 1)
    const rerun = [...starts].filter(([, n]) => n > 1).map(([job]) => job)
    const violations = [
      ...(end.status === 0 ? [] : [`exit ${end.status}`]),
      ...(new Set(marks.filter((m) => m.what === "end").map((m) => m.job)).size === jobs ? [] : ["not every job ended"]),
      ...rerun.filter((job) => !inFlight.has(job)).map((job) => `${job} ran again though not in flight on the killed worker`)
    ]
    return { takeoverMillis: takeover, inFlight: inFlight.size, rerun: rerun.length, violations }
  } finally {
    await cluster.killAll(all)
    await db.drop()
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-bench-cluster-"))
try {
  const sleeping: Array<Record<string, unknown>> = []
  const sleepFile = tasks(dir, sleepJobs, 1_000)
  for (const workers of [1, 2, 3]) {
    const r = await runOn(dir, sleepFile, workers, sleepJobs)
    sleeping.push({ workers, ...r, jobsPerSecond: +(sleepJobs / (r.runMillis / 1000)).toFixed(2) })
    console.error(`sleeping ${sleepJobs} x 1 s on ${workers} worker(s): run ${r.runMillis} ms, wall ${r.wallMillis} ms, per worker ${r.perWorker.join("/")}`)
  }
  const noop: Array<Record<string, unknown>> = []
  const noopFile = tasks(dir, noopJobs, 0)
  for (const workers of [1, 3]) {
    const r = await runOn(dir, noopFile, workers, noopJobs)
    noop.push({
      workers,
      ...r,
      jobsPerSecond: +(noopJobs / (r.runMillis / 1000)).toFixed(1),
      jobsPerSecondPerWorker: +(noopJobs / (r.runMillis / 1000) / workers).toFixed(1),
      millisPerJob: +(r.runMillis / noopJobs).toFixed(1)
    })
    console.error(`no-op ${noopJobs} on ${workers} worker(s): run ${r.runMillis} ms (${(r.runMillis / noopJobs).toFixed(1)} ms/job)`)
  }
  const takeovers: Array<Awaited<ReturnType<typeof takeoverRound>>> = []
  for (let round = 0; round < takeoverRounds; round++) {
    const r = await takeoverRound(dir, round)
    takeovers.push(r)
    console.error(`takeover round ${round + 1}: ${r.takeoverMillis} ms, ${r.inFlight} in flight, ${r.rerun} re-run, violations: ${r.violations.length}`)
  }
  const result = {
    when: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, load: os.loadavg() },
    settings: { workerConcurrency: WORKER_CONCURRENCY, lease: "5 s (default)", runConcurrency: "8 x workers" },
    sleeping: { jobs: sleepJobs, jobMillis: 1_000, rows: sleeping },
    noop: { jobs: noopJobs, rows: noop },
    takeover: {
      jobs: "32 x 3 s on 2 workers (concurrency 4), kill -9 of one 0.5-2.5 s after the first start, a new worker started",
      rounds: takeovers,
      medianMillis: median(takeovers.flatMap((t) => t.takeoverMillis === undefined ? [] : [t.takeoverMillis])),
      violations: takeovers.reduce((n, t) => n + t.violations.length, 0)
    }
  }
  console.log(JSON.stringify(result, null, 2))
  if (!argv.includes("--no-write")) fs.writeFileSync(path.join(import.meta.dirname, "cluster-results.json"), JSON.stringify(result, null, 2) + "\n")
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
