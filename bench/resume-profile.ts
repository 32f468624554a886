/**
 * Scenario 5 (resume of a 10,000-job run killed at 50%) without its set-up in every round: the killed run's journal
 * is made once, kept, and copied back before each resume, so that only the resuming process is timed (and can be
 * profiled). Rounds interleave the runtimes, each round also timing a 1-job DAG with the same flags (the start-up
 * bench/run.ts subtracts). Besides spawn to the first new job (wall), the task file writes the process's own CPU time
 * (user+sys) and its uptime at that moment: on a busy machine CPU is the steadier figure.
 *
 *   node bench/resume-profile.ts [--jobs 10000] [--rounds 7] [--runtimes node,bun,deno] [--dir DIR] [--keep]
 *     [--roots DIR,DIR]   (compare builds: each round runs each clone's bin, interleaved; default: this clone)
 *     [--profile node]    (one resume with --cpu-prof into DIR/prof, no rounds)
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { mustRun, restoredLine, root, type Runtime, runnerCommand, sinceSpawn, timed } from "./commands.ts"
import * as Generate from "./generate.ts"
import { spec } from "./workloads.ts"

const argv = process.argv.slice(2)
const option = (name: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}
const jobs = Number(option("--jobs") ?? 10_000)
const rounds = Number(option("--rounds") ?? 7)
const runtimes = (option("--runtimes")?.split(",") ?? ["node", "bun", "deno"]) as ReadonlyArray<Runtime>
const profile = option("--profile") as Runtime | undefined
const roots = option("--roots")?.split(",").map((r) => path.resolve(r)) ?? [root]
const dir = path.resolve(option("--dir") ?? fs.mkdtempSync(path.join(os.tmpdir(), "resume-profile-")))

/** The bench's task file, whose first new job writes wall clock, CPU time and uptime (JSON) to BENCH_MARK. */
const taskFile = (jobs: number) => {
  const text = Generate.runnerInprocFile(spec("layered", jobs))
  const line = "if (mark !== undefined) fs.writeFileSync(mark, String(performance.timeOrigin + performance.now()))"
  if (!text.includes(line)) throw new Error("bench/generate.ts changed: update resume-profile.ts")
  return text.replace(
    line,
    "if (mark !== undefined) { const c = process.cpuUsage(); fs.writeFileSync(mark, JSON.stringify({ at: performance.timeOrigin + performance.now(), " +
      "cpu: (c.user + c.system) / 1000, uptime: performance.now() })) }"
  )
}

fs.mkdirSync(dir, { recursive: true })
const pristine = path.join(dir, "pristine")
const work = path.join(dir, "work")

/** Makes, once per runtime, the journal of a run killed when level 5 starts (the journal records the runtime). */
const killedJournal = async (runtime: Runtime) => {
  const kept = path.join(pristine, runtime)
  if (fs.existsSync(path.join(kept, ".runner"))) return kept
  fs.mkdirSync(kept, { recursive: true })
  fs.writeFileSync(path.join(kept, "inproc.ts"), taskFile(jobs))
  fs.writeFileSync(path.join(kept, "one.ts"), taskFile(1))
  const killed = await timed([...runnerCommand(runtime), path.join(kept, "inproc.ts"), ...flags("bench")], {
    cwd: kept,
    env: { BENCH_KILL: "5" },
    timeoutMillis: 300_000
  })
  if (killed.signal !== "SIGKILL") throw new Error(`the first run was not killed: ${killed.status}\n${killed.stderr}`)
  return kept
}

const flags = (key: string) => ["--key", key, "--concurrency", "8", "--log-format", "plain"]

/** A fresh copy of the killed run's folder (task files and journal). */
const fresh = (runtime: Runtime) => {
  const target = path.join(work, runtime)
  fs.rmSync(target, { recursive: true, force: true })
  fs.cpSync(path.join(pristine, runtime), target, { recursive: true })
  return target
}

interface Mark {
  readonly at: number
  readonly cpu: number
  readonly uptime: number
}

/** The runner's command line for the clone at `clone` (bench/commands.ts's is for this one). */
const commandOf = (runtime: Runtime, clone: string) => runnerCommand(runtime).map((arg) => arg.startsWith(root + "/") ? path.join(clone, arg.slice(root.length + 1)) : arg)

const once = async (
  runtime: Runtime,
  file: "inproc.ts" | "one.ts",
  extra: ReadonlyArray<string> = [],
  env: Record<string, string> = {},
  clone = root
) => {
  const cwd = fresh(runtime)
  const mark = path.join(cwd, "mark.json")
  const command = [...commandOf(runtime, clone)]
  command.splice(runtime === "deno" ? 2 : 1, 0, ...extra)
  const result = await mustRun([...command, path.join(cwd, file), ...flags(file === "one.ts" ? "one" : "bench")], {
    cwd,
    env: { BENCH_MARK: mark, ...env },
    count: restoredLine
  })
  const m = JSON.parse(fs.readFileSync(mark, "utf8")) as Mark
  return { wall: sinceSpawn(m.at, result, mark), cpu: m.cpu, uptime: m.uptime, restored: result.counted, cwd }
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

for (const runtime of profile === undefined ? runtimes : [profile]) await killedJournal(runtime)

if (profile !== undefined) {
  const prof = path.join(dir, "prof")
  fs.mkdirSync(prof, { recursive: true })
  if (profile !== "node") throw new Error("--profile: node only (Deno and Bun have no --cpu-prof)")
  const extra = ["--cpu-prof", "--cpu-prof-dir", prof, "--cpu-prof-interval", "200"]
  const r = await once(profile, "inproc.ts", extra)
  console.log(JSON.stringify(r), prof)
} else {
  const rows: Record<string, { resume: Array<Mark & { wall: number }>; one: Array<Mark & { wall: number }> }> = {}
  for (let round = 0; round < rounds; round++) {
    for (const runtime of runtimes) {
      for (const clone of roots) {
        const label = roots.length === 1 ? runtime : `${runtime} ${clone}`
        const row = rows[label] ??= { resume: [], one: [] }
        const one = await once(runtime, "one.ts", [], {}, clone)
        const resume = await once(runtime, "inproc.ts", [], {}, clone)
        // Half, less the successes not yet durable at the kill (the executor lets at most 64 ended jobs wait for
        // their commit, besides those running): the same journal for every round and clone.
        if (resume.restored > Math.floor(jobs / 2) || resume.restored < Math.floor(jobs / 2) - 100) {
          throw new Error(`${label}: ${resume.restored} restored`)
        }
        row.one.push({ at: 0, ...one })
        row.resume.push({ at: 0, ...resume })
        process.stderr.write(
          `round ${round} ${label}: resume wall ${resume.wall.toFixed(0)} cpu ${resume.cpu.toFixed(0)}; 1-job wall ${one.wall.toFixed(0)} ` +
            `cpu ${one.cpu.toFixed(0)}; diff wall ${(resume.wall - one.wall).toFixed(0)} cpu ${(resume.cpu - one.cpu).toFixed(0)}\n`
        )
      }
    }
  }
  for (const [label, row] of Object.entries(rows)) {
    const diff = (k: "wall" | "cpu") => median(row.resume.map((r, i) => r[k] - row.one[i]![k]))
    console.log(
      `${label}: resume − 1-job (median of per-round differences, ${row.resume.length} rounds): wall ${diff("wall").toFixed(0)} ms, ` +
        `CPU ${diff("cpu").toFixed(0)} ms; resume wall ${median(row.resume.map((r) => r.wall)).toFixed(0)}, CPU ${
          median(row.resume.map((r) => r.cpu)).toFixed(0)
        }; 1-job wall ${median(row.one.map((r) => r.wall)).toFixed(0)}, CPU ${median(row.one.map((r) => r.cpu)).toFixed(0)}`
    )
  }
}
if (!argv.includes("--keep") && option("--dir") === undefined) fs.rmSync(dir, { recursive: true, force: true })
