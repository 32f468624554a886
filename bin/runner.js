#!/usr/bin/env node
/**
 * The `runner` entry point (the package's `bin`; src/bin.ts links here for the clone). It checks the Node version
 * first, in syntax any Node parses, so an old Node prints one line instead of a stack trace. Then it starts the
 * compiled runner in dist/ (`npm run build`: tsc, scripts/build.ts). The published package has only dist/; in a
 * clone, dist/ starts while it is fresh and the sources otherwise: a build older than any of its inputs never runs.
 * RUNNER_DIST=0 runs the sources whatever; RUNNER_DEBUG_START=1 says on stderr which one started, and why.
 * `runner --version` alone is answered here, from package.json, without loading the runner or Effect.
 *
 * Node compiles the runner and Effect once and reuses the code from its compile cache (node_modules/.cache/
 * effect-runner, else the system's temp folder): measured, a start takes 10% less time, 20% less CPU (bench/README.md).
 * Plain JavaScript, written so that it is valid TypeScript too: Deno runs src/bin.ts, the link, as TypeScript.
 */
const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"
if (runtime === "node") {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
  if (major < 22 || (major === 22 && minor < 19)) {
    process.stderr.write(`effect-runner needs Node >= 22.19; you have ${process.versions.node}\n`)
    process.exit(2)
  }
}

/**
 * The few file and process operations this file needs. On Deno through Deno's own API: touching `process` or
 * `node:fs` there starts its Node compatibility layer, about 35 ms, which `runner --version` need not pay.
 */
const deno = Reflect.get(globalThis, "Deno")
const fs = deno === undefined ? await import("node:fs") : undefined
// Default values stand for the parameters' types: this file is JavaScript and TypeScript at once.
/** The file's modification time (epoch millis), undefined when it does not exist. */
const mtimeOf = (file = "") => {
  if (fs !== undefined) return fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs
  try {
    return deno.statSync(file).mtime.getTime()
  } catch {
    return undefined
  }
}
const host = {
  args: deno === undefined ? process.argv.slice(2) : deno.args,
  env: (name = "") => deno === undefined ? process.env[name] : deno.env.get(name),
  exists: (file = "") => mtimeOf(file) !== undefined,
  mtime: mtimeOf,
  read: (file = "") => fs === undefined ? deno.readTextFileSync(file) : fs.readFileSync(file, "utf8"),
  stdout: (text = "") => fs === undefined ? deno.stdout.writeSync(new TextEncoder().encode(text)) : process.stdout.write(text),
  stderr: (text = "") => fs === undefined ? deno.stderr.writeSync(new TextEncoder().encode(text)) : process.stderr.write(text)
}

const checking = performance.now()
/** With RUNNER_DEBUG_START=1, a start-up mark as src/internal/startup.ts prints them (ms since the runtime started). */
const mark = (phase = "") => {
  if (host.env("RUNNER_DEBUG_START") === "1") host.stderr(`runner: start-up ${performance.now().toFixed(1)} ms: ${phase}\n`)
}
mark("bin started")
const root = decodeURIComponent(new URL("../", import.meta.url).pathname)

/** Why dist/ cannot be used, or undefined when it can: always in the package, while fresh in a clone. */
const staleness = () => {
  // The build script is in a clone, not in the package.
  if (!host.exists(`${root}scripts/build.ts`)) return undefined
  if (host.env("RUNNER_DIST") === "0") return "RUNNER_DIST=0"
  let manifest
  try {
    // { builtAt: epoch millis when the build started, inputs: the files it read, relative to the runner's folder }
    manifest = JSON.parse(host.read(`${root}dist/.build.json`))
  } catch {
    return "no dist/ (npm run build makes it)"
  }
  for (const input of manifest.inputs) {
    const mtime = host.mtime(root + input)
    if (mtime === undefined) return `${input} is gone`
    if (mtime > manifest.builtAt) return `${input} changed since the build`
  }
  return undefined
}

/** Where Node keeps the compiled code: beside the packages when the runner is one of them, else Node's default. */
const cacheDir = () => {
  const parent = root.slice(0, root.slice(0, -1).lastIndexOf("/") + 1)
  if (parent.endsWith("/node_modules/")) return `${parent}.cache/effect-runner`
  if (host.exists(`${root}node_modules`)) return `${root}node_modules/.cache/effect-runner`
  return undefined
}

/**
 * Node 24's young generation grows to 128 MiB (64 MiB semi-spaces) under the allocation rate of a large run: a
 * 10,000-job run peaked at 260-310 MB RSS with ~50 MB of live heap. Semi-spaces of 8 MiB take it to 160-185 MB for
 * the same CPU (bench/README.md, issue 18, fifth pass). The flag that
 * caps them, --max-semi-space-size, only works at launch, which a bin cannot reach portably (a shebang with `env -S`
 * fails on busybox, a re-exec costs a whole start), but the growth factor is read at each growth: the young
 * generation stays at its smallest while the runner's modules load, then grows, and stops growing at 8 MiB.
 * A semi-space flag of the user's own (NODE_OPTIONS, or node's argv) wins: then this does nothing.
 */
const youngGeneration = async () => {
  const flags = `${host.env("NODE_OPTIONS") ?? ""} ${process.execArgv.join(" ")}`
  if (flags.includes("semi-space")) return undefined
  const v8 = await import("node:v8")
  const capBytes = 2 * 8 * 1024 * 1024
  const size = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === "new_space")?.space_size ?? 0
  v8.setFlagsFromString("--semi-space-growth-factor=1")
  return {
    // Growth is allowed from a timer's tick, never during the synchronous import of a task file and its planning,
    // where several doublings could pass the cap before the next tick. Ticks come every millisecond for the first
    // 10 s, when a run allocates the most, then every 50 ms: an idle process is not woken a thousand times a second.
    grow: () => {
      const started = performance.now()
      const tick = () => {
        const below = size() < capBytes
        v8.setFlagsFromString(`--semi-space-growth-factor=${below ? 2 : 1}`)
        if (below) setTimeout(tick, performance.now() - started < 10_000 ? 1 : 50).unref()
      }
      setTimeout(tick, 1).unref()
    }
  }
}

/**
 * Bun (JavaScriptCore) lets a busy run's heap grow well past what it keeps alive: a 10,000-job run peaked at
 * 164-174 MiB RSS (heap capacity 81 MiB at the end) with ~28 MiB of live heap. Two kinds of collection, on a tick
 * every 25 ms while the process is busy (bench/README.md, issue 18, eighth and tenth passes):
 * - one asked for without waiting for it (`Bun.gc(false)`): the same run at 143-150 MiB for the same CPU;
 * - a full one (`Bun.gc(true)`, ~20 ms for that run's heap) when the process has grown by 4 MiB since the last,
 *   as long as the full ones, this one included (expected to take as long as the last), take at most 8% of the CPU
 *   the process used since the collector started: 132-136 MiB for ~5% more CPU. The budget bounds the cost whatever
 *   the heap: a job holding 1 GB is collected in full at most once per ~12 s of its CPU, not at each 4 MiB it grows;
 *   and none comes before 250 ms of CPU (a first guess of 20 ms), so a resume's start is never held up by one.
 * A process that is not busy (a run waiting for its shell jobs, a server) is left alone: a tick that finds less than
 * 5 ms of CPU used since the last one does nothing. The ticks start as soon as the runner's modules have loaded:
 * with the first tick 200 ms later, as until the twelfth pass, the 10,000-job run peaked at 132-143 MiB; from the
 * start, 126-131 MiB, with the same wall time and CPU for it, for `runner tasks/hello.ts` and `runner list` (20
 * interleaved rounds), for 1,000 shell jobs and for a resume (bench/README.md, issue 18, twelfth pass).
 */
const bunCollector = () => {
  const bun = Reflect.get(globalThis, "Bun")
  let last = process.cpuUsage()
  const since = last.user + last.system
  let grownFrom = process.memoryUsage.rss()
  let fullMicros = 0
  /** What the next full collection is expected to take: the last one's time (a first guess before any). */
  let nextMicros = 20_000
  setInterval(() => {
    const now = process.cpuUsage()
    const busyMicros = now.user + now.system - last.user - last.system
    last = now
    if (busyMicros < 5_000) return
    const affordable = fullMicros + nextMicros <= 0.08 * (now.user + now.system - since)
    if (!affordable || process.memoryUsage.rss() < grownFrom + 4 * 1024 * 1024) {
      bun.gc(false)
      return
    }
    const before = performance.now()
    bun.gc(true)
    nextMicros = (performance.now() - before) * 1000
    fullMicros += nextMicros
    grownFrom = process.memoryUsage.rss()
  }, 25).unref()
}

const args = host.args
const versionOnly = args.length === 1 && (args[0] === "--version" || args[0] === "-v")
const debug = host.env("RUNNER_DEBUG_START") === "1"
// `--version` needs no code but this file, so it skips the freshness check (a stat of every input in a clone) unless
// asked which code would start.
const reason = versionOnly && !debug ? undefined : staleness()
if (debug) {
  const checked = `(checked in ${(performance.now() - checking).toFixed(1)} ms)`
  host.stderr(`runner: starting from ${reason === undefined ? "dist/" : `src/: ${reason}`} ${checked}\n`)
}
if (versionOnly) {
  // The version is package.json's, printed as the CLI prints it, without loading the runner or Effect: before, this
  // loaded the CLI, 140–290 ms over the bare runtime; now a few ms (bench/README.md, issue 18).
  host.stdout(`runner v${JSON.parse(host.read(`${root}package.json`)).version}\n`)
} else {
  // Bun and Deno keep caches of their own.
  const young = runtime === "node" ? await youngGeneration() : undefined
  if (runtime === "node") (await import("node:module")).enableCompileCache?.(cacheDir())
  const entry = reason === undefined ? "../dist/internal/cli/main.js" : "../src/internal/cli/main.ts"
  const main = await import(new URL(entry, import.meta.url).href)
  mark("runner's modules loaded (command line, Effect)")
  young?.grow()
  if (runtime === "bun") bunCollector()
  main.start(args)
}
