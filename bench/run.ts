/**
 * `npm run bench`: effect-runner on Node, Bun and Deno side by side with GNU make, just, go-task, Wireit and
 * concurrently on the same generated workloads (bench/generate.ts), seven scenarios, several runs each. Writes
 * bench/RESULTS.md (a table per scenario, ratios to make -j8, the targets of issues 18 and 6 with MET / MISSED) and
 * bench/results.json (every sample). bench/README.md explains each scenario.
 *
 *   node bench/run.ts [--smoke] [--out DIR] [--runtimes node,bun,deno] [--scenarios 1,2,3,4,5,6,7,8,9]
 *     [--sizes 1000] [--shapes layered]
 *
 * --smoke: tiny sizes, one run, make as the only peer, into --out (default: a temp folder), never bench/.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  ensurePeers,
  missingPeer,
  markSinceSpawn,
  mustRun,
  onPath,
  peerBins,
  restoredLine,
  root,
  type Runtime,
  runnerCommand,
  runtimes as allRuntimes,
  scriptCommand,
  type Timed,
  timed,
  turboEnv,
  versions
} from "./commands.ts"
import * as Generate from "./generate.ts"
import { type Shape, type Spec, spec } from "./workloads.ts"
import * as Report from "./report.ts"

// ---------------------------------------------------------------------------------------------------------------
// Configuration

const argv = process.argv.slice(2)
const option = (name: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}
const smoke = argv.includes("--smoke")
const out = path.resolve(option("--out") ?? (smoke ? fs.mkdtempSync(path.join(os.tmpdir(), "runner-bench-smoke-")) : path.join(root, "bench")))
const runtimes = (option("--runtimes")?.split(",") ?? allRuntimes) as ReadonlyArray<Runtime>
// 8, the monorepo benchmark (bench/workspace.ts, its own WORKSPACE.md), and 9, up-to-date skipping (bench/cache.ts,
// its own cache-results.json), are not part of the smoke run unless asked for.
/** --sizes 1000, --shapes layered: scenario 1 at these sizes and shapes only (while iterating). */
const sizesOption = option("--sizes")?.split(",").map(Number)
const shapes = (option("--shapes")?.split(",") ?? ["flat", "layered"]) as ReadonlyArray<Shape>
const scenarios = new Set((option("--scenarios") ?? (smoke ? "1,2,3,4,5,6,7" : "1,2,3,4,5,6,7,8,9")).split(",").map(Number))

/** Sizes and run counts: the full benchmark, or a smoke test of the harness (seconds, not minutes). */
const config = smoke
  ? {
    sizes: [10, 20],
    runs: 1,
    bigRuns: 1,
    verifyJobs: 20,
    coldRuns: 1,
    resumeJobs: 200,
    resumeRuns: 1,
    memoryJobs: 200,
    rssRuns: 1,
    heapMiB: [0, 4, 16],
    chain: 5,
    spawnRuns: 1,
    peerProjectionMillis: 0,
    inprocess: ["--sizes", "100", "--rounds", "1", "--big-rounds", "1", "--chain", "20"]
  }
  : {
    sizes: [1000, 10_000],
    runs: 3,
    bigRuns: 1,
    verifyJobs: 200,
    coldRuns: 9,
    resumeJobs: 10_000,
    // As many rounds as cold start: on Bun and Deno a round's resume varies by ±30 ms (when their collectors run)
    resumeRuns: 9,
    memoryJobs: 10_000,
    rssRuns: 3,
    heapMiB: [0, 100, 1024],
    chain: 50,
    spawnRuns: 3,
    // A peer whose 1,000-job median projects a 10,000-job run longer than this is not run at 10,000 (noted).
    peerProjectionMillis: 45_000,
    inprocess: ["--sizes", "1000,10000", "--rounds", "5", "--big-rounds", "3", "--chain", "1000"]
  }

if (sizesOption !== undefined) config.sizes = sizesOption

const started = performance.now()
const log = (line: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0)}s] ${line}\n`)
const work = fs.mkdtempSync(path.join(os.tmpdir(), "runner-bench-"))
let dirCounter = 0
const freshDir = (label: string) => {
  const dir = path.join(work, `${label}-${dirCounter++}`)
  fs.mkdirSync(dir, { recursive: true })
  return dir
}

// ---------------------------------------------------------------------------------------------------------------
// Runners of the shell scenario: each turns a folder written by Generate.writeAll into a command line

export interface Contender {
  readonly name: string
  readonly runtime?: Runtime
  /** Why it is not measured here (not installed, ...), or undefined. */
  readonly unavailable?: string | undefined
  readonly flatOnly?: boolean
  /** Never at 10,000 jobs (too slow for the time budget). */
  readonly smallOnly?: string
  readonly command: (dir: string, s: ReturnType<typeof spec>, command: Generate.Command) => ReadonlyArray<string>
  readonly env?: Record<string, string>
  /** Copies the workload to a fresh folder before each run (caches, journals, lock files). */
  readonly fresh?: boolean
  /**
   * Too slow to run at every size within the time budget: one run at this many jobs first, and a size whose projection
   * (that run × size / probe) exceeds the budget is not run, with a line in RESULTS.md saying so (turbo).
   */
  readonly probeJobs?: number
  /** Not a runner: the runtime's own floor (its native spawn of `true`, N times at concurrency 8; bench/floor.ts). */
  readonly floor?: boolean
}

const executable = (file: string) => fs.existsSync(file)

const contenders = (): ReadonlyArray<Contender> => {
  const peers: Array<Contender> = [
    { name: "make -j8", command: (dir) => [peerBins.make, "-s", "-j8", "-C", dir, "all"] }
  ]
  const peerSkip = smoke ? "not run by --smoke" : undefined
  peers.push(
    {
      name: "just --jobs 8",
      unavailable: peerSkip ?? (executable(peerBins.just) ? undefined : missingPeer(`just's binary package rust-just-${process.platform}-${process.arch}`)),
      command: (dir) => [peerBins.just, "--justfile", path.join(dir, "justfile"), "--working-directory", dir, "--jobs", "8", "all"]
    },
    {
      name: "go-task --concurrency 8",
      unavailable: peerSkip ??
        (executable(peerBins.task)
          ? undefined
          : "not installable here: npm's @go-task/cli downloads its binary from the project's release page in a postinstall step (no network but the registries), and Debian 12 has no go-task package"),
      command: (dir) => [peerBins.task, "--taskfile", path.join(dir, "Taskfile.yml"), "--concurrency", "8", "--silent", "all"]
    },
    {
      name: "wireit (WIREIT_PARALLEL=8)",
      unavailable: peerSkip ?? (executable(peerBins.wireit) ? undefined : missingPeer("wireit")),
      command: () => [onPath("npm") ?? "npm", "run", "--silent", "all"],
      env: { WIREIT_PARALLEL: "8", WIREIT_CACHE: "none" },
      fresh: true
    },
    {
      name: "turbo --concurrency=8",
      unavailable: peerSkip ?? (executable(peerBins.turbo) ? undefined : missingPeer("turbo's @turbo/linux-64")),
      // A one-package repo whose tasks are npm scripts: turbo starts each through npm (a Node start per job).
      command: (dir) => [peerBins.turbo, "run", "all", "--cwd", path.join(dir, "turbo"), "--ui=stream", "--concurrency=8"],
      env: turboEnv,
      probeJobs: 100
    },
    {
      name: "concurrently -m 8",
      unavailable: peerSkip ?? (executable(peerBins.concurrently) ? undefined : missingPeer("concurrently")),
      flatOnly: true,
      command: (_dir, s, command) => [peerBins.concurrently, "-m", "8", "--raw", ...Generate.concurrentlyArgs(s, command)]
    }
  )
  const runners: Array<Contender> = runtimes.map((runtime) => ({
    name: `effect-runner (${runtime})`,
    runtime,
    // A fresh folder: the default journal (.runner/journal.db, synchronous=FULL) starts empty, as on a first run.
    fresh: true,
    command: (dir: string) => [...runnerCommand(runtime), path.join(dir, "runner.ts"), "--concurrency", "8", "--log-format", "plain"]
  }))
  // Each runtime's native spawn of the same number of `true` at concurrency 8, from its own start to exit: the floor
  // under the runner's shell jobs on that runtime (no DAG, no journal, no output handling).
  const floors: Array<Contender> = runtimes.map((runtime) => ({
    name: `${runtime} spawn floor`,
    runtime,
    floor: true,
    command: (_dir: string, s: ReturnType<typeof spec>) => [...scriptCommand(runtime, path.join(root, "bench/floor.ts")), "spawn", String(s.needs.length), "8"]
  }))
  // The same with what a runner needs at the least per job: a process group of its own (to kill the job's whole tree)
  // and its output piped and read (on Deno through `setsid`, the only way it starts a group).
  const groupFloors: Array<Contender> = runtimes.map((runtime) => ({
    name: `${runtime} group spawn floor`,
    runtime,
    floor: true,
    command: (_dir: string, s: ReturnType<typeof spec>) => [...scriptCommand(runtime, path.join(root, "bench/floor.ts")), "group", String(s.needs.length), "8"]
  }))
  // The same again inside a plain effect/cli program (bench/floor.ts cli-group): the least a runner whose command line
  // is effect/cli (the stack's CLI) does for these jobs, its start-up included as the runner's is.
  const cliGroupFloors: Array<Contender> = runtimes.map((runtime) => ({
    name: `${runtime} cli group spawn floor`,
    runtime,
    floor: true,
    command: (_dir: string, s: ReturnType<typeof spec>) => [...scriptCommand(runtime, path.join(root, "bench/floor.ts")), "cli-group", String(s.needs.length), "8"]
  }))
  // And with the least a durable journal writes for each job (bench/floor.ts cli-group-journal): the target's runner
  // keeps its default journal, whose commits are part of what it must do.
  const cliJournalFloors: Array<Contender> = runtimes.map((runtime) => ({
    name: `${runtime} cli journal group spawn floor`,
    runtime,
    floor: true,
    command: (dir: string, s: ReturnType<typeof spec>) => [...scriptCommand(runtime, path.join(root, "bench/floor.ts")), "cli-group-journal", String(s.needs.length), "8", dir]
  }))
  return [...peers, ...runners, ...floors, ...groupFloors, ...cliGroupFloors, ...cliJournalFloors]
}

/** Copies the generated workload into a fresh folder (only what the runners read). */
const copyWorkload = (dir: string) => {
  const target = freshDir("run")
  fs.cpSync(dir, target, { recursive: true })
  return target
}

const runContender = async (c: Contender, dir: string, s: ReturnType<typeof spec>, command: Generate.Command): Promise<Timed> => {
  const cwd = c.fresh === true ? copyWorkload(dir) : dir
  try {
    return await mustRun(c.command(cwd, s, command), { cwd, ...(c.env === undefined ? {} : { env: c.env }), timeoutMillis: 600_000 })
  } finally {
    if (c.fresh === true) fs.rmSync(cwd, { recursive: true, force: true })
  }
}

/** The first line of a failed command's output that says what went wrong, else its exit. */
const failureOf = (error: unknown): string => {
  const [command = "", ...output] = String(error instanceof Error ? error.message : error).split("\n")
  const lines = output.map((line) => line.trim())
  const telling = lines.find((line) => /failed|error|killed|denied|unavailable/i.test(line)) ?? lines.find((line) => /panicked/.test(line))
  return (telling ?? command.replace(/^.* exited /, "exited ")).slice(0, 200)
}

// ---------------------------------------------------------------------------------------------------------------
// Scenario 1: shell `true` jobs, flat and layered, concurrency 8

const shellScenario = async () => {
  const all = contenders()
  const rows: Array<Report.ShellRow> = []
  const verified: Array<Report.Verified> = []

  // Once per runner, a layered workload (flat for concurrently) whose jobs append a line to a file: every job ran.
  for (const c of all) {
    if (c.unavailable !== undefined || c.floor === true) continue
    const shape: Shape = c.flatOnly === true ? "flat" : "layered"
    // turbo at 100 (a Node start per job through npm): verified at its probe size.
    const verifyJobs = Math.min(config.verifyJobs, c.probeJobs ?? config.verifyJobs)
    const s = spec(shape, verifyJobs)
    const dir = freshDir(`verify-${shape}`)
    const counter = path.join(dir, "count.txt")
    Generate.writeAll(dir, s, Generate.countCommand(counter))
    await runContender(c, dir, s, Generate.countCommand(counter))
    const lines = fs.readFileSync(counter, "utf8").split("\n").filter((l) => l === "x").length
    verified.push({ name: c.name, shape, jobs: verifyJobs, executed: lines })
    log(`verify ${c.name}: ${lines}/${verifyJobs} jobs executed`)
  }

  for (const jobs of config.sizes) {
    // The largest of several sizes (10,000) runs once; a size alone (--sizes 1000) gets the full count of runs.
    const big = config.sizes.length > 1 && jobs === Math.max(...config.sizes)
    for (const shape of shapes) {
      const s = spec(shape, jobs)
      const dir = Generate.writeAll(freshDir(`${shape}-${jobs}`), s)
      const samples = new Map<string, Array<number>>()
      const skipped = new Map<string, string>()
      for (const c of all) {
        if (c.unavailable !== undefined) skipped.set(c.name, c.unavailable)
        else if (c.flatOnly === true && shape !== "flat") skipped.set(c.name, "flat only: concurrently has no dependencies")
        else if (c.probeJobs !== undefined && jobs > c.probeJobs && config.peerProjectionMillis > 0) {
          const probeSpec = spec(shape, c.probeJobs)
          const probeDir = Generate.writeAll(freshDir(`${shape}-${c.probeJobs}`), probeSpec)
          const probe = await runContender(c, probeDir, probeSpec, Generate.trueCommand)
          fs.rmSync(probeDir, { recursive: true, force: true })
          const projected = probe.millis * (jobs / c.probeJobs)
          log(`shell probe ${c.probeJobs} ${shape} ${c.name}: ${Report.ms(probe.millis)}`)
          if (projected > config.peerProjectionMillis) {
            skipped.set(
              c.name,
              `not run at ${jobs.toLocaleString("en")}: ${c.probeJobs.toLocaleString("en")} jobs (${shape}) took ${Report.ms(probe.millis)} in this run, ` +
                `so one run would take about ${Report.ms(projected)}`
            )
          }
        } else if (big && config.peerProjectionMillis > 0 && c.runtime === undefined && c.name !== "make -j8") {
          const small = rows.find((r) => r.name === c.name && r.shape === shape && r.jobs < jobs && r.samples.length > 0)
          const projected = small === undefined ? 0 : Report.median(small.samples) * (jobs / small.jobs)
          if (projected > config.peerProjectionMillis) {
            skipped.set(
              c.name,
              `not run at ${jobs.toLocaleString("en")}: ${small!.jobs.toLocaleString("en")} jobs took ${Report.ms(Report.median(small!.samples))}, ` +
                `so one run would take about ${Report.ms(projected)}`
            )
          }
        }
      }
      // Round by round, every runner once per round: drift in the machine's load hits them alike.
      for (let round = 0; round < (big ? config.bigRuns : config.runs); round++) {
        for (const c of all) {
          if (skipped.has(c.name)) continue
          let result: Timed
          try {
            result = await runContender(c, dir, s, Generate.trueCommand)
          } catch (error) {
            // A peer that fails (just at 10,000 layered jobs: it runs out of threads) is a line in RESULTS.md, and the
            // rest of the benchmark goes on. The runner and its floors failing is a bug: the benchmark stops.
            if (c.runtime !== undefined) throw error
            skipped.set(c.name, `failed at ${jobs.toLocaleString("en")} jobs (${shape}) in this run: ${failureOf(error)}`)
            samples.delete(c.name)
            log(`shell ${jobs} ${shape} ${c.name}: failed: ${failureOf(error)}`)
            continue
          }
          const list = samples.get(c.name) ?? []
          list.push(result.millis)
          samples.set(c.name, list)
          log(`shell ${jobs} ${shape} ${c.name}: ${Report.ms(result.millis)}`)
        }
      }
      for (const c of all) {
        rows.push({
          name: c.name,
          ...(c.runtime === undefined ? {} : { runtime: c.runtime }),
          jobs,
          shape,
          samples: samples.get(c.name) ?? [],
          ...(skipped.has(c.name) ? { skipped: skipped.get(c.name)! } : {})
        })
      }
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  return { rows, verified }
}

// ---------------------------------------------------------------------------------------------------------------
// Scenarios 2 and 3: in-process jobs and the chain, inside each runtime (bench/inprocess.ts)

const inprocessScenario = async () => {
  const results: Record<string, unknown> = {}
  for (const runtime of runtimes) {
    const result = await mustRun([...scriptCommand(runtime, path.join(root, "bench/inprocess.ts")), ...config.inprocess], {
      cwd: root,
      timeoutMillis: 600_000
    })
    results[runtime] = JSON.parse(result.stdout.trim().split("\n").at(-1)!)
    log(`inprocess ${runtime}: ${Report.ms(result.millis)}`)
  }
  return results as Record<Runtime, Report.Inprocess>
}

/** The bare runtime's start: what `runner` is measured over. */
const bareCommand: Record<Runtime, string> = { node: "node -e 0", bun: "bun -e 0", deno: "deno eval 0" }
const bareArgv = (runtime: Runtime): ReadonlyArray<string> => {
  const [exe] = scriptCommand(runtime, "x")
  return runtime === "deno" ? [exe!, "eval", "0"] : [exe!, "-e", "0"]
}

// ---------------------------------------------------------------------------------------------------------------
// Scenario 4: cold start of `runner tasks/hello.ts` and `runner --version` (peers: one `echo hello` job)

const coldScenario = async () => {
  const hello = path.join(root, "tasks/hello.ts")
  if (!fs.existsSync(hello)) throw new Error("tasks/hello.ts is missing")
  const rows: Array<Report.ColdRow> = []
  for (const runtime of runtimes) {
    const cwd = freshDir(`cold-${runtime}`)
    // The floors, in the same rounds: the bare runtime's start, a plain Effect program that logs hello (no runner: what
    // any Effect script pays), a plain effect/cli program with one flag that logs hello (what any command line built on
    // effect/cli pays: the runner's is one, by the stack's choice), and importing hello.ts alone (Effect's modules and
    // the runner's public ones that any task file loads; on Node through the same compile cache as the bin).
    // Interleaved round by round, so the differences RESULTS.md takes (runner − bare, per round) see the same load.
    const group: Array<{ name: string; command: string; argv: ReadonlyArray<string>; samples: Array<number> }> = [
      { name: `${runtime} (bare)`, command: bareCommand[runtime], argv: bareArgv(runtime), samples: [] },
      { name: `${runtime} (effect)`, command: "Effect.log(\"hello\") alone", argv: [...scriptCommand(runtime, path.join(root, "bench/floor.ts")), "effect"], samples: [] },
      { name: `${runtime} (cli)`, command: "effect/cli hello alone", argv: [...scriptCommand(runtime, path.join(root, "bench/floor.ts")), "cli"], samples: [] },
      { name: `${runtime} (floor)`, command: "import tasks/hello.ts", argv: [...scriptCommand(runtime, path.join(root, "bench/floor.ts")), "import", hello], samples: [] },
      { name: `effect-runner (${runtime})`, command: "runner tasks/hello.ts", argv: [...runnerCommand(runtime), hello, "--log-format", "plain"], samples: [] },
      { name: `effect-runner (${runtime})`, command: "runner --version", argv: [...runnerCommand(runtime), "--version"], samples: [] },
      { name: `effect-runner (${runtime})`, command: "runner list tasks/hello.ts", argv: [...runnerCommand(runtime), "list", hello], samples: [] }
    ]
    if (!smoke) for (const item of group) await mustRun(item.argv, { cwd }) // warm-up: file cache, journal, compile cache
    for (let i = 0; i < config.coldRuns; i++) for (const item of group) item.samples.push((await mustRun(item.argv, { cwd })).millis)
    for (const { argv: _, ...row } of group) {
      rows.push(row)
      log(`cold ${row.name} ${row.command}: ${Report.ms(Report.median(row.samples))}`)
    }
  }
  return rows
}

/**
 * Where a hello run's start goes on each runtime: `runner tasks/hello.ts` with RUNNER_DEBUG_START=1, whose start-up
 * marks (`runner: start-up <ms> ms: <phase>` on stderr) give each phase's end, ms since the runtime started.
 */
const startupScenario = async (): Promise<ReadonlyArray<Report.StartupRow>> => {
  const hello = path.join(root, "tasks/hello.ts")
  const rows: Array<Report.StartupRow> = []
  for (const runtime of runtimes) {
    const cwd = freshDir(`startup-${runtime}`)
    const argv = [...runnerCommand(runtime), hello, "--log-format", "plain"]
    const env = { RUNNER_DEBUG_START: "1" }
    if (!smoke) await mustRun(argv, { cwd, env })
    const phases = new Map<string, Array<number>>()
    for (let i = 0; i < config.coldRuns; i++) {
      const { stderr } = await mustRun(argv, { cwd, env })
      for (const match of stderr.matchAll(/^runner: start-up ([\d.]+) ms: (.*)$/gm)) {
        const samples = phases.get(match[2]!) ?? []
        samples.push(Number(match[1]))
        phases.set(match[2]!, samples)
      }
    }
    if (phases.size === 0) throw new Error(`runner on ${runtime} printed no start-up marks with RUNNER_DEBUG_START=1`)
    rows.push({ runtime, phases: [...phases].map(([phase, samples]) => ({ phase, samples })) })
    log(`startup ${runtime}: ${[...phases].map(([phase, samples]) => `${phase} ${Report.ms(Report.median(samples))}`).join("; ")}`)
  }
  return rows
}

/** Scenario 4's peers: one `echo hello` job each, for reference. */
const coldPeers = async (rows: Array<Report.ColdRow>) => {
  const measure = async (name: string, command: string, argv: ReadonlyArray<string>, cwd: string, env?: Record<string, string>) => {
    if (!smoke) await mustRun(argv, { cwd, ...(env === undefined ? {} : { env }) }) // warm-up: file cache
    const samples: Array<number> = []
    for (let i = 0; i < config.coldRuns; i++) samples.push((await mustRun(argv, { cwd, ...(env === undefined ? {} : { env }) })).millis)
    rows.push({ name, command, samples })
    log(`cold ${name} ${command}: ${Report.ms(Report.median(samples))}`)
  }
  const dir = freshDir("cold-peers")
  fs.writeFileSync(path.join(dir, "Makefile"), "hello:\n\t@echo hello\n")
  fs.writeFileSync(path.join(dir, "justfile"), "hello:\n    @echo hello\n")
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name: "hello", private: true, scripts: { hello: "wireit" }, wireit: { hello: { command: "echo hello" } } })
  )
  await measure("make", "make hello", [peerBins.make, "-s", "-C", dir, "hello"], dir)
  const missing = (name: string, command: string, why: string) => {
    rows.push({ name, command, samples: [], missing: why })
    log(`cold ${name}: ${why}`)
  }
  if (!smoke) {
    if (executable(peerBins.just)) await measure("just", "just hello", [peerBins.just, "hello"], dir)
    else missing("just", "just hello", missingPeer("just's binary package"))
  }
  if (!smoke) {
    if (executable(peerBins.wireit)) {
      await measure("wireit", "npm run hello", [onPath("npm") ?? "npm", "run", "--silent", "hello"], dir, { WIREIT_CACHE: "none" })
    } else missing("wireit", "npm run hello", missingPeer("wireit"))
  }
  if (!smoke && !executable(peerBins.turbo)) missing("turbo", "turbo run j0", missingPeer("turbo's @turbo/linux-64"))
  if (!smoke && executable(peerBins.turbo)) {
    const turboDir = freshDir("cold-turbo")
    const files = Generate.turboFiles(spec("flat", 1), { argv: [], line: "echo hello" })
    for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(turboDir, file), text)
    await measure("turbo", "turbo run j0", [peerBins.turbo, "run", "j0", "--ui=stream"], turboDir, turboEnv)
  }
  if (!smoke) {
    if (executable(peerBins.concurrently)) await measure("concurrently", "concurrently 'echo hello'", [peerBins.concurrently, "--raw", "echo hello"], dir)
    else missing("concurrently", "concurrently 'echo hello'", missingPeer("concurrently"))
  }
  return rows
}

/**
 * Imports a generated in-process task file with bench/floor.ts and nothing of the runner's CLI: spawn to exit (ms),
 * and peak RSS (KiB) when asked. The file is written inside the clone (bench/.floor/), where `effect-runner` resolves
 * to the clone itself as from tasks/hello.ts, without the runner's loader hooks.
 */
const importFloor = async (runtime: Runtime, s: Spec, rss = false): Promise<{ millis: number; rssKiB?: number }> => {
  const dir = path.join(root, "bench/.floor")
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `${runtime}-${s.shape}-${s.needs.length}.ts`)
  fs.writeFileSync(file, Generate.runnerInprocFile(s))
  const argv = [...scriptCommand(runtime, path.join(root, "bench/floor.ts")), "import", file]
  const millis = (await mustRun(argv, { cwd: dir })).millis
  return rss ? { millis, rssKiB: (await peakRss(argv, dir)).kib } : { millis }
}

// ---------------------------------------------------------------------------------------------------------------
// Scenario 5: resume of a run killed at 50% (SIGKILL from inside, by the first job of level 5): spawn to first new job

const resumeScenario = async () => {
  const rows: Array<Report.ResumeRow> = []
  const s = spec("layered", config.resumeJobs)
  for (const runtime of runtimes) {
    const samples: Array<number> = []
    const startup: Array<number> = []
    const restored: Array<number> = []
    const define: Array<number> = []
    for (let round = 0; round < config.resumeRuns; round++) {
      const dir = freshDir(`resume-${runtime}`)
      fs.writeFileSync(path.join(dir, "inproc.ts"), Generate.runnerInprocFile(s))
      // The task file's own cost, in the same round: importing it alone minus importing a 1-job file (no runner CLI).
      const definedMany = await importFloor(runtime, s)
      const definedOne = await importFloor(runtime, spec("layered", 1))
      define.push(definedMany.millis - definedOne.millis)
      const args = [...runnerCommand(runtime), path.join(dir, "inproc.ts"), "--key", "bench", "--concurrency", "8", "--log-format", "plain"]
      const killed = await timed(args, { cwd: dir, env: { BENCH_KILL: "5" }, timeoutMillis: 300_000 })
      if (killed.signal !== "SIGKILL") throw new Error(`the first run was not killed: ${killed.status}\n${killed.stderr}`)
      // Start-up in the same round: spawn to the first job of a 1-job DAG of the same kind, same flags.
      fs.writeFileSync(path.join(dir, "one.ts"), Generate.runnerInprocFile(spec("layered", 1)))
      const oneMark = path.join(dir, "first-job")
      const one = await mustRun([...runnerCommand(runtime), path.join(dir, "one.ts"), "--key", "one", "--concurrency", "8", "--log-format", "plain"], {
        cwd: dir,
        env: { BENCH_MARK: oneMark }
      })
      startup.push(markSinceSpawn(oneMark, one))
      const mark = path.join(dir, "first-new-job")
      const resumed = await mustRun(args, { cwd: dir, env: { BENCH_MARK: mark }, count: restoredLine })
      samples.push(markSinceSpawn(mark, resumed))
      restored.push(resumed.counted)
      fs.rmSync(dir, { recursive: true, force: true })
    }
    rows.push({ runtime, jobs: config.resumeJobs, samples, startup, restored, define })
    log(`resume ${runtime}: ${Report.ms(Report.median(samples))} to the first new job (${restored.join(", ")} restored)`)
  }
  return rows
}

// ---------------------------------------------------------------------------------------------------------------
// Scenario 6: heap per queued job and peak RSS for a 10,000-job DAG

const gcEnv = (runtime: Runtime): Record<string, string> =>
  runtime === "node" ? { NODE_OPTIONS: "--expose-gc" } : runtime === "deno" ? { DENO_V8_FLAGS: "--expose-gc" } : {}

/** Peak RSS (KiB) of a command: GNU time's %M where installed, else VmHWM polled from /proc. */
const peakRss = async (argv: ReadonlyArray<string>, cwd: string): Promise<{ kib: number; how: string }> => {
  if (fs.existsSync("/usr/bin/time")) {
    const result = await mustRun(["/usr/bin/time", "-f", "maxrss=%M", ...argv], { cwd })
    const match = /maxrss=(\d+)/.exec(result.stderr)
    if (match !== null) return { kib: Number(match[1]), how: "GNU time %M" }
  }
  throw new Error("peak RSS needs /usr/bin/time (Debian package `time`)")
}

const memoryScenario = async () => {
  const rows: Array<Report.MemoryRow> = []
  const jobs = config.memoryJobs
  for (const runtime of runtimes) {
    const probe = async (n: number) => {
      const dir = freshDir(`memory-${runtime}`)
      fs.writeFileSync(path.join(dir, "inproc.ts"), Generate.runnerInprocFile(spec("layered", n)))
      const file = path.join(dir, "probe.json")
      await mustRun([...runnerCommand(runtime), path.join(dir, "inproc.ts"), "--concurrency", "8", "--log-format", "plain"], {
        cwd: dir,
        env: { ...gcEnv(runtime), BENCH_PROBE: file }
      })
      const result = JSON.parse(fs.readFileSync(file, "utf8")) as { heapUsed: number; rss: number }
      fs.rmSync(dir, { recursive: true, force: true })
      return result
    }
    const one = await probe(1)
    const many = await probe(jobs)
    // Each peak is the median of `rssRuns` rounds, each in a fresh folder: one peak is one draw of when the
    // collectors ran (Bun's run peaked at 128, 159 and 163 MB in three full runs of the same code).
    const rounds: Array<Record<"rss" | "one" | "floor" | "define" | "dag" | "cliJournalDag", number>> = []
    let rssHow = ""
    for (let round = 0; round < config.rssRuns; round++) {
      const dir = freshDir(`rss-${runtime}`)
      fs.writeFileSync(path.join(dir, "inproc.ts"), Generate.runnerInprocFile(spec("layered", jobs)))
      const rss = await peakRss([...runnerCommand(runtime), path.join(dir, "inproc.ts"), "--concurrency", "8", "--log-format", "plain"], dir)
      rssHow = rss.how
      // The floors: the runner with a 1-job DAG, and the runtime that has only imported a task file (Effect and the
      // runner's public modules), nothing run.
      fs.writeFileSync(path.join(dir, "one.ts"), Generate.runnerInprocFile(spec("layered", 1)))
      const oneJob = await peakRss([...runnerCommand(runtime), path.join(dir, "one.ts"), "--concurrency", "8", "--log-format", "plain"], dir)
      // (hello.ts: a task file in the clone, which resolves `effect` without the runner's loader hooks)
      const floor = await peakRss([...scriptCommand(runtime, path.join(root, "bench/floor.ts")), "import", path.join(root, "tasks/hello.ts")], dir)
      const define = (await importFloor(runtime, spec("layered", jobs), true)).rssKiB!
      // Plain Effect running the same DAG (bench/floor.ts dag), no runner; on Node with the semi-spaces the bin sets
      const needsFile = path.join(dir, "needs.json")
      fs.writeFileSync(needsFile, JSON.stringify(spec("layered", jobs).needs))
      const dagArgv = [...scriptCommand(runtime, path.join(root, "bench/floor.ts"), runtime === "node" ? ["--max-semi-space-size=8"] : []), "dag", needsFile]
      const dag = (await peakRss(dagArgv, dir)).kib
      // The same DAG inside a plain effect/cli program (the runner's command line) writing the least a durable
      // journal does (bench/floor.ts cli-dag-journal), in the same folder
      const cliJournalDag = (await peakRss([...dagArgv.slice(0, -2), "cli-dag-journal", needsFile], dir)).kib
      fs.rmSync(dir, { recursive: true, force: true })
      rounds.push({ rss: rss.kib, one: oneJob.kib, floor: floor.kib, define, dag, cliJournalDag })
    }
    const median = (key: keyof (typeof rounds)[number]) => Report.median(rounds.map((r) => r[key]))
    rows.push({
      runtime,
      jobs,
      heapUsedOne: one.heapUsed,
      heapUsedQueued: many.heapUsed,
      bytesPerQueuedJob: (many.heapUsed - one.heapUsed) / (jobs - 1),
      peakRssKiB: median("rss"),
      peakRssOneKiB: median("one"),
      peakRssFloorKiB: median("floor"),
      peakRssDefineKiB: median("define"),
      peakRssEffectDagKiB: median("dag"),
      peakRssCliJournalDagKiB: median("cliJournalDag"),
      peakRssSamplesKiB: rounds.map((r) => r.rss),
      rssHow
    })
    log(`memory ${runtime}: ${((many.heapUsed - one.heapUsed) / (jobs - 1)).toFixed(0)} B/queued job, peak RSS ${(median("rss") / 1024).toFixed(0)} MiB (${rounds.map((r) => (r.rss / 1024).toFixed(0)).join(", ")}; 1 job: ${(median("one") / 1024).toFixed(0)} MiB, import only: ${(median("floor") / 1024).toFixed(0)} MiB, plain Effect DAG: ${(median("dag") / 1024).toFixed(0)} MiB, with effect/cli and a journal: ${(median("cliJournalDag") / 1024).toFixed(0)} MiB)`)
  }
  return rows
}

// ---------------------------------------------------------------------------------------------------------------
// Scenario 7: shell job spawn latency while the runner holds 0, 100 MB and 1 GB of live heap

const spawnScenario = async () => {
  const rows: Array<Report.SpawnRow> = []
  const dir = freshDir("spawn")
  const file = path.join(dir, "spawn-heap.ts")
  fs.writeFileSync(file, Generate.runnerSpawnHeapFile(config.chain))
  for (const runtime of runtimes) {
    const heapFlags: Record<string, string> = runtime === "node"
      ? { NODE_OPTIONS: "--max-old-space-size=4096" }
      : runtime === "deno"
      ? { DENO_V8_FLAGS: "--max-old-space-size=4096" }
      : {}
    for (const mib of config.heapMiB) {
      const samples: Array<number> = []
      let heapUsed = 0
      let rss = 0
      for (let round = 0; round < config.spawnRuns; round++) {
        const outFile = path.join(dir, `out-${runtime}-${mib}-${round}.json`)
        await mustRun([...runnerCommand(runtime), file, "--journal", "none", "--log-format", "plain"], {
          cwd: dir,
          env: { ...heapFlags, BENCH_HEAP_MB: String(mib), BENCH_OUT: outFile }
        })
        const result = JSON.parse(fs.readFileSync(outFile, "utf8")) as { millisPerJob: number; heapUsed: number; rss: number }
        samples.push(result.millisPerJob)
        heapUsed = result.heapUsed
        rss = result.rss
      }
      rows.push({ runtime, heapMiB: mib, samples, heapUsed, rss, chain: config.chain })
      log(`spawn ${runtime} ${mib} MiB: ${Report.median(samples).toFixed(2)} ms per chained shell job`)
    }
  }
  return rows
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * What first touching fresh memory costs on this machine, µs per 4 KiB page (median of 5 × 64 MiB, each a new
 * zero-filled ArrayBuffer written once per page). Every process start and every growing heap pays it per page: on
 * this VM on 2026-12-06 it was ~14 µs, round after round (`node -e 0` touches ~2,750 pages: 27 ms on an earlier day,
 * 70 ms that day), where a machine that pays well under 1 µs is common. Start-up and memory figures of runs that
 * differ here are not comparable.
 */
const pageTouchMicros = () => {
  const pages = (64 * 2 ** 20) / 4096
  const samples: Array<number> = []
  for (let round = 0; round < 5; round++) {
    const bytes = new Uint8Array(new ArrayBuffer(64 * 2 ** 20))
    const start = performance.now()
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 1
    samples.push(((performance.now() - start) * 1000) / pages)
  }
  return Report.median(samples)
}

/**
 * CPU seconds so far: the whole machine's busy time and steal (/proc/stat), and this process's with every child it
 * has reaped (/proc/self/stat: utime, stime, cutime, cstime; a reaped child's count includes the children it reaped).
 * Their difference over a run is what other processes used: the load average cannot tell, since the benchmark's own
 * processes are in it. Undefined off Linux. Both files count in USER_HZ ticks, 100 a second on Linux.
 */
const cpuSnapshot = () => {
  try {
    const [user, nice, system, , , irq, softirq, steal] = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!
      .trim().split(/\s+/).slice(1).map(Number) as Array<number>
    const self = fs.readFileSync("/proc/self/stat", "utf8")
    // Fields from the 3rd on follow the command's name in parentheses, which may hold spaces.
    const fields = self.slice(self.lastIndexOf(")") + 2).split(" ").map(Number)
    const own = fields[11]! + fields[12]! + fields[13]! + fields[14]!
    return { at: performance.now(), busy: (user! + nice! + system! + irq! + softirq!) / 100, steal: steal! / 100, own: own / 100 }
  } catch {
    return undefined
  }
}

const main = async () => {
  if (!smoke) ensurePeers(log)
  const loadStart = os.loadavg()
  const cpuStart = cpuSnapshot()
  const results: Report.Results = {
    date: new Date().toISOString(),
    smoke,
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      kernel: `${os.type()} ${os.release()}`,
      loadAverageStart: loadStart,
      pageTouchMicros: pageTouchMicros()
    },
    versions: versions(),
    config,
    scenarios: {}
  }
  if (scenarios.has(1)) results.scenarios.shell = await shellScenario()
  if (scenarios.has(2) || scenarios.has(3)) results.scenarios.inprocess = await inprocessScenario()
  if (scenarios.has(4)) {
    const cold = await coldScenario()
    results.scenarios.startup = await startupScenario()
    await coldPeers(cold)
    results.scenarios.cold = cold
  }
  if (scenarios.has(5)) results.scenarios.resume = await resumeScenario()
  if (scenarios.has(6)) results.scenarios.memory = await memoryScenario()
  if (scenarios.has(7)) results.scenarios.spawn = await spawnScenario()
  if (scenarios.has(8)) {
    log("monorepo: runner ws build vs turbo and make -j8 (bench/workspace.ts)")
    const ran = await mustRun([...scriptCommand("node", path.join(root, "bench/workspace.ts")), "--out", out, ...(smoke ? ["--runs", "1"] : [])], {
      cwd: root,
      timeoutMillis: 1_800_000
    })
    log(ran.stdout.trim())
  }
  if (scenarios.has(9)) {
    log("up-to-date skipping: hashing, a cached 1,000-job DAG, everything cached vs turbo and Wireit (bench/cache.ts)")
    const ran = await mustRun([...scriptCommand("node", path.join(root, "bench/cache.ts")), "--out", out, ...(smoke ? ["--smoke"] : [])], {
      cwd: root,
      timeoutMillis: 900_000
    })
    log(ran.stderr.trim().split("\n").filter((line) => /MET|MISSED/.test(line)).join("\n"))
  }
  results.machine.loadAverageEnd = os.loadavg()
  const cpuEnd = cpuSnapshot()
  if (cpuStart !== undefined && cpuEnd !== undefined) {
    results.machine.otherWork = {
      wallSeconds: (cpuEnd.at - cpuStart.at) / 1000,
      busySeconds: cpuEnd.busy - cpuStart.busy,
      ownSeconds: cpuEnd.own - cpuStart.own,
      stealSeconds: cpuEnd.steal - cpuStart.steal
    }
  }
  results.wallSeconds = (performance.now() - started) / 1000
  fs.mkdirSync(out, { recursive: true })
  fs.writeFileSync(path.join(out, "results.json"), JSON.stringify(results, null, 1) + "\n")
  fs.writeFileSync(path.join(out, "RESULTS.md"), Report.markdown(results))
  log(`wrote ${path.join(out, "RESULTS.md")} and results.json in ${results.wallSeconds.toFixed(0)} s`)
  console.log(path.join(out, "RESULTS.md"))
}

try {
  await main()
} finally {
  fs.rmSync(work, { recursive: true, force: true })
  fs.rmSync(path.join(root, "bench/.floor"), { recursive: true, force: true })
}
