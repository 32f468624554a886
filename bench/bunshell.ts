/**
 * The runner's CPU on 1,000 shell jobs (issue 18's shell target), per checkout and runtime, read from /proc while it
 * runs: the main thread's CPU (`/proc/<pid>/task/<pid>/schedstat`, on-CPU ns), the whole process's (utime + stime of
 * all its threads, its children excluded) and wall time. The machine is shared, so CPU is the figure to read; the
 * checkouts are interleaved round by round so that drift hits them alike. Linux only.
 *
 *   node bench/bunshell.ts --dir DIR [--runtimes bun,node,deno] [--rounds 5] [--concurrency 8] CHECKOUT...
 *
 * A CHECKOUT may carry variables for the runner's environment before a `+`, and extra arguments for it after an
 * `@`, comma-separated: `RUNNER_DIST=0+.@--durability,normal`.
 * DIR is a workload of bench/generate.ts (`--jobs 1000 --shape layered`); each CHECKOUT a clone with node_modules and
 * a fresh dist/ (the runner is started through its bin, as bench/run.ts does). Every run gets a fresh journal.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const args = process.argv.slice(2)
const option = (name: string) => {
  const i = args.indexOf(name)
  if (i < 0) return undefined
  const [value] = args.splice(i, 2).slice(1)
  return value
}
const dir = path.resolve(option("--dir") ?? "")
const runtimes = (option("--runtimes") ?? "bun").split(",")
const rounds = Number(option("--rounds") ?? 5)
const concurrency = option("--concurrency") ?? "8"
/**
 * `[NAME=VALUE+]CHECKOUT[@--flag,value,...]`: the runner's environment and extra arguments, e.g.
 * `RUNNER_DIST=0+.@--durability,normal`.
 */
const checkouts = args.map((a) => {
  const [env, rest] = a.includes("+") ? a.split("+") as [string, string] : [undefined, a]
  const [checkout = "", extra = ""] = rest.split("@")
  const [name = "", value = ""] = env?.split("=") ?? []
  return {
    name: a,
    checkout: path.resolve(checkout),
    extra: extra === "" ? [] : extra.split(","),
    env: env === undefined ? {} : { [name]: value }
  }
})
if (!fs.existsSync(path.join(dir, "runner.ts")) || checkouts.length === 0) {
  console.error("usage: node bench/bunshell.ts --dir DIR [--runtimes bun,node,deno] [--rounds N] CHECKOUT...")
  process.exit(2)
}

const TICK_MS = 10 // USER_HZ
const command = (checkout: string, runtime: string): Array<string> => {
  const bin = (name: string) => path.join(checkout, "node_modules/.bin", name)
  const entry = path.join(checkout, "src/bin.ts")
  switch (runtime) {
    case "node":
      return [bin("node"), entry]
    case "bun":
      return [bin("bun"), "--no-install", "--no-env-file", entry]
    default:
      return [bin("deno"), "run", "-A", entry]
  }
}

interface Sample {
  readonly wall: number
  readonly main: number
  readonly process: number
}

const read = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

const once = ({ checkout, env, extra }: (typeof checkouts)[number], runtime: string): Promise<Sample> =>
  new Promise((resolve, reject) => {
    fs.rmSync(path.join(dir, ".runner"), { recursive: true, force: true })
    const [program, ...rest] = command(checkout, runtime)
    const started = performance.now()
    const child = spawn(program!, [...rest, path.join(dir, "runner.ts"), "--concurrency", concurrency, ...extra], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    child.stderr!.on("data", (chunk) => stderr += chunk)
    let main = 0
    let whole = 0
    // The last values read before the process went away: up to one poll (2 ms) of its end is missed.
    const poll = setInterval(() => {
      const schedstat = read(`/proc/${child.pid}/task/${child.pid}/schedstat`)
      const stat = read(`/proc/${child.pid}/stat`)
      if (schedstat === undefined || stat === undefined) return
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      if (fields[0] === "Z") return
      main = Number(schedstat.split(" ")[0]) / 1e6
      whole = (Number(fields[11]) + Number(fields[12])) * TICK_MS
    }, 2)
    child.on("exit", (code) => {
      clearInterval(poll)
      const wall = performance.now() - started
      if (code !== 0) return reject(new Error(`${checkout} ${extra.join(" ")} on ${runtime} exited ${code}: ${stderr}`))
      resolve({ wall, main, process: whole })
    })
  })

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const samples = new Map<string, Array<Sample>>()
for (let round = 0; round < rounds; round++) {
  for (const runtime of runtimes) {
    for (const checkout of checkouts) {
      const sample = await once(checkout, runtime)
      const key = `${runtime} ${checkout.name}`
      samples.set(key, [...samples.get(key) ?? [], sample])
      console.error(`round ${round} ${key}: wall ${sample.wall.toFixed(0)} main ${sample.main.toFixed(0)} process ${sample.process} ms`)
    }
  }
}
const load = read("/proc/loadavg")?.split(" ").slice(0, 3).join(" ")
for (const [key, xs] of samples) {
  const figure = (pick: (s: Sample) => number) =>
    `${median(xs.map(pick)).toFixed(0)} (${Math.min(...xs.map(pick)).toFixed(0)}-${Math.max(...xs.map(pick)).toFixed(0)})`
  console.log(`${key}: main ${figure((s) => s.main)}  process ${figure((s) => s.process)}  wall ${figure((s) => s.wall)} ms`)
}
console.log(`load ${load}`)
