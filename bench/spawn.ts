/**
 * Per-job cost of a shell job's command, in-process: `true` started N times through `Shell.run` (what a shell job
 * does: spawn in a process group, read and split its output, journal nothing, end the group), at concurrency 1 (one
 * after another, as a chain) and 8, on each ChildProcessSpawner the runner could use. The runner itself, its journal
 * and its executor are left out: this is the part that differs between spawners. Prints one JSON object.
 *
 * Run: node bench/spawn.ts | bun bench/spawn.ts | deno run -A bench/spawn.ts   --jobs 200 --rounds 5
 *   --variants runner,effect,effect-raw,direct (or `none`)   --before DIR (adds `before`: Shell.run of another checkout
 *   of the runner in DIR, with its own node_modules or with this one's linked, e.g. a `git worktree` at an older commit)
 *
 * Variants: `runner` = Shell.run on the runner's own spawner for this runtime (src/internal/process/), `effect` =
 * Shell.run on `@effect/platform-node`'s NodeChildProcessSpawner, `effect-raw` = that spawner alone (spawn, drain
 * stdout and stderr, await the exit code, close the scope), `direct` = node:child_process alone (spawn detached, wait
 * for `close`): the floor. CPU is user + system of the whole process; `userMs` is the user part alone (the system part
 * is mostly the kernel's fork and exec, which is the same for every variant).
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ChildProcess from "effect/process/ChildProcess"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import * as Stream from "effect/Stream"
import * as NodeChildProcess from "node:child_process"
import * as path from "node:path"
import * as Spawner from "../src/internal/process/Spawner.ts"
import * as Shell from "../src/internal/shell.ts"

const argv = process.argv.slice(2)
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1]! : fallback
}
const jobs = Number(option("--jobs", "200"))
const rounds = Number(option("--rounds", "5"))
const before = option("--before", "")
const variants = [
  ...(before === "" ? [] : ["before"]),
  ...option("--variants", "runner,effect,effect-raw,direct").split(",").filter((v) => v !== "none")
]
const stats = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median, min: sorted[0]!, max: sorted.at(-1)! }
}
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node"

const layers: Record<string, Layer.Layer<ChildProcessSpawner>> = {
  runner: Spawner.layer.pipe(Layer.provide(NodeServices.layer)),
  effect: NodeServices.layer,
  "effect-raw": NodeServices.layer
}

const shellJob = Shell.run("bench", ["true"], { cwd: undefined, env: undefined })

const rawJob = Effect.scoped(Effect.gen(function*() {
  const handle = yield* ChildProcess.make("true", [], { stdin: "ignore" })
  yield* Stream.runDrain(handle.all)
  return yield* handle.exitCode
}))

const directJob = Effect.callback<void>((resume) => {
  const child = NodeChildProcess.spawn("true", [], { stdio: ["ignore", "pipe", "pipe"], detached: true })
  child.stdout.resume()
  child.stderr.resume()
  child.on("close", () => resume(Effect.void))
})

type ShellRun = (jobId: string, argv: ReadonlyArray<string>, options: Shell.RunOptions) => Effect.Effect<unknown, unknown, any>
const beforeJob = before === ""
  ? Effect.void
  : ((await import(path.resolve(before, "src/internal/shell.ts"))).run as ShellRun)("bench", ["true"], { cwd: undefined, env: undefined })

const job = (variant: string): Effect.Effect<unknown, unknown, ChildProcessSpawner> =>
  variant === "effect-raw" ? rawJob : variant === "direct" ? directJob : variant === "before" ? beforeJob : shellJob

/** Milliseconds per job for `jobs` jobs at `concurrency`. */
const timed = (variant: string, concurrency: number) =>
  Effect.gen(function*() {
    const start = performance.now()
    const cpu = process.cpuUsage()
    yield* Effect.forEach(Array.from({ length: jobs }), () => job(variant), { concurrency, discard: true })
    const used = process.cpuUsage(cpu)
    return { wall: (performance.now() - start) / jobs, cpu: (used.user + used.system) / 1000 / jobs, user: used.user / 1000 / jobs }
  }).pipe(Effect.provide(layers[variant] ?? NodeServices.layer))

const program = Effect.gen(function*() {
  const samples: Record<string, Record<string, Array<{ wall: number; cpu: number; user: number }>>> = {}
  // A warm-up round of each, then rounds interleaved so drift in the machine's load hits every variant alike.
  for (const variant of variants) yield* timed(variant, 8)
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      for (const concurrency of [1, 8]) {
        const key = `c${concurrency}`
        ;((samples[variant] ??= {})[key] ??= []).push(yield* timed(variant, concurrency))
      }
    }
  }
  const result: Record<string, Record<string, unknown>> = {}
  for (const [variant, byConcurrency] of Object.entries(samples)) {
    result[variant] = Object.fromEntries(Object.entries(byConcurrency).map(([key, values]) => {
      const wall = stats(values.map((v) => v.wall))
      const cpu = stats(values.map((v) => v.cpu))
      const user = stats(values.map((v) => v.user))
      const range = [+wall.min.toFixed(2), +wall.max.toFixed(2)]
      return [key, { wallMs: +wall.median.toFixed(2), wallRange: range, cpuMs: +cpu.median.toFixed(2), userMs: +user.median.toFixed(2) }]
    }))
  }
  return result
})

const result = await Effect.runPromise(program)
console.log(JSON.stringify({ runtime, jobs, rounds, load: (await import("node:os")).loadavg()[0], results: result }))
