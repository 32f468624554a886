/**
 * How the benchmarks start things: the runner through its bin on each runtime, exactly as a user does (one function,
 * so a faster bin shows up in every figure without changes here), and the peers installed in bench/peers.
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

export const root = path.resolve(import.meta.dirname, "..")
const bin = (name: string) => path.join(root, "node_modules/.bin", name)
export const peersDir = path.join(root, "bench/peers")
const peerBin = (name: string) => path.join(peersDir, "node_modules/.bin", name)

export type Runtime = "node" | "bun" | "deno"
export const runtimes: ReadonlyArray<Runtime> = ["node", "bun", "deno"]

/** The command line that starts `runner` on a runtime, as the README documents it. */
export const runnerCommand = (runtime: Runtime): ReadonlyArray<string> => {
  const entry = path.join(root, "src/bin.ts")
  switch (runtime) {
    case "node":
      return [bin("node"), entry]
    case "bun":
      return [bin("bun"), "--no-install", "--no-env-file", entry]
    case "deno":
      return [bin("deno"), "run", "-A", entry]
  }
}

/** The command line that runs a script (not the runner) on a runtime: the in-process benchmarks. */
export const scriptCommand = (runtime: Runtime, script: string, v8Flags: ReadonlyArray<string> = []) => {
  switch (runtime) {
    case "node":
      return [bin("node"), ...v8Flags, script]
    case "bun":
      return [bin("bun"), "--no-install", "--no-env-file", script]
    case "deno":
      return [bin("deno"), "run", "-A", ...(v8Flags.length > 0 ? [`--v8-flags=${v8Flags.join(",")}`] : []), script]
  }
}

/** PATH with Node 24 and the peers' bins first: npm (for Wireit) then runs on Node 24 too. */
export const benchPath = () =>
  [path.join(root, "node_modules/.bin"), path.join(peersDir, "node_modules/.bin"), process.env["PATH"] ?? ""].join(":")

/** A program on PATH (absolute path), if any. */
export const onPath = (name: string): string | undefined =>
  (process.env["PATH"] ?? "").split(":").map((dir) => path.join(dir, name)).find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK)
      return fs.statSync(file).isFile()
    } catch {
      return false
    }
  })

/** The platform package that carries a peer's native binary, for this machine (`linux-x64`, `darwin-arm64`, ...). */
const platformPackage = (prefix: string, arch: (a: string) => string = (a) => a) =>
  path.join(peersDir, "node_modules", `${prefix}${process.platform}-${arch(process.arch)}`)

export const peerBins = {
  make: "/usr/bin/make",
  // just's binary package for this system (bench/peers lists the Linux x64 one: the only build the registry in use
  // here serves; rust-just's own bin is a Node shim that adds a Node start-up to every call, so it is not used).
  just: path.join(platformPackage("rust-just-"), "bin/just"),
  task: fs.existsSync(peerBin("task")) ? peerBin("task") : (onPath("task") ?? onPath("go-task") ?? peerBin("task")),
  concurrently: peerBin("concurrently"),
  wireit: peerBin("wireit"),
  // turbo's platform package (`@turbo/linux-64`): its bin shim is a Node script.
  turbo: path.join(platformPackage("@turbo/", (a) => (a === "x64" ? "64" : a)), "bin/turbo")
}

/** turbo without telemetry, update checks or banners. */
export const turboEnv = { TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1", TURBO_NO_UPDATE_NOTIFIER: "1", TURBO_PRINT_VERSION_DISABLED: "1" }

/**
 * Why the peers could not be installed (the first lines of npm's error), or undefined. Set by `ensurePeers`; every
 * peer then missing says so in RESULTS.md with this reason.
 */
export let peersInstallError: string | undefined

/** Installs bench/peers (`npm ci --prefix bench/peers`) when its node_modules is missing. */
export const ensurePeers = (log: (line: string) => void) => {
  if (fs.existsSync(path.join(peersDir, "node_modules/.package-lock.json"))) return
  log("installing bench/peers (npm ci --prefix bench/peers)")
  const result = spawnSync("npm", ["ci", "--prefix", peersDir, "--no-audit", "--no-fund"], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, PATH: benchPath() }
  })
  if (result.status === 0) return
  peersInstallError = result.stderr.trim().split("\n").filter((line) => !/^npm (warn|error) *$/.test(line)).slice(0, 3).join(" / ")
  log(`npm ci --prefix bench/peers failed (every peer it installs is reported missing in RESULTS.md):\n${result.stderr.trim()}`)
}

/** Why a peer installed by bench/peers is missing: the install's error, or what to install. */
export const missingPeer = (what: string) =>
  peersInstallError === undefined
    ? `not installed: ${what} (npm ci --prefix bench/peers)`
    : `not installed: npm ci --prefix bench/peers failed: ${peersInstallError}`

const firstLine = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env): string | undefined => {
  if (!fs.existsSync(argv[0]!) && !argv[0]!.startsWith("npm")) return undefined
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", env: { ...env, PATH: benchPath() } })
  return result.status === 0 ? (result.stdout || result.stderr).trim().split("\n")[0] : undefined
}

const peerVersion = (name: string) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(peersDir, "node_modules", name, "package.json"), "utf8")).version as string
  } catch {
    return undefined
  }
}

/** Versions of everything measured (undefined: not installed). */
export const versions = () => ({
  node: firstLine([bin("node"), "--version"]),
  bun: firstLine([bin("bun"), "--version"]),
  deno: firstLine([bin("deno"), "--version"]),
  npm: firstLine(["npm", "--version"]),
  make: firstLine([peerBins.make, "--version"]),
  just: firstLine([peerBins.just, "--version"]),
  task: firstLine([peerBins.task, "--version"]),
  wireit: peerVersion("wireit"),
  turbo: fs.existsSync(peerBins.turbo) ? firstLine([peerBins.turbo, "--version"], { ...process.env, ...turboEnv }) : undefined,
  concurrently: peerVersion("concurrently")
})

export interface Timed {
  readonly millis: number
  /**
   * Epoch milliseconds (`Date.now()`) just before the spawn: the wall clock, which a child's own
   * `performance.timeOrigin` is read from when it starts. Not this process's `timeOrigin + now()`: that is the wall
   * clock of when this process started, and drifts from the child's by as much as the clock is stepped in between
   * (seen: 5.4 s, when the VM's clock was set during a full run).
   */
  readonly spawnedAt: number
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
  readonly stdout: string
  /** Lines of stdout matching `options.count`; a line whose match captured a number counts as that many. */
  readonly counted: number
}

export interface TimedOptions {
  readonly cwd: string
  readonly env?: Record<string, string>
  readonly timeoutMillis?: number
  readonly count?: RegExp
}

/** Spawns `argv` and times it from just before the spawn to its exit. Only the output's tail is kept. */
export const timed = (argv: ReadonlyArray<string>, options: TimedOptions): Promise<Timed> =>
  new Promise((resolve) => {
    const spawnedAt = Date.now()
    const start = performance.now()
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: "1", PATH: benchPath(), ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let counted = 0
    let partial = ""
    // Keep only the tail: a 10,000-job run's log is large and only read when the run failed.
    child.stdout.on("data", (chunk) => {
      const text = String(chunk)
      stdout = (stdout + text).slice(-20_000)
      if (options.count !== undefined) {
        const lines = (partial + text).split("\n")
        partial = lines.pop()!
        for (const line of lines) counted += countOf(options.count, line)
      }
    })
    child.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-20_000)))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMillis ?? 300_000)
    child.on("close", (status, signal) => {
      clearTimeout(timer)
      if (options.count !== undefined) counted += countOf(options.count, partial)
      resolve({ millis: performance.now() - start, spawnedAt, status, signal, stdout, stderr, counted })
    })
  })

/**
 * A line of the runner's plain output for restored jobs: one per job, then one counting the rest ("↺ and 4938 more
 * jobs …: outputs restored from the journal"), which counts as that many.
 */
export const restoredLine = /(?:and (\d+) more jobs? .*)?restored from the journal/

/** 0 when `line` does not match; else the number its first group captured, or 1. */
const countOf = (pattern: RegExp, line: string): number => {
  const match = pattern.exec(line)
  return match === null ? 0 : match[1] === undefined ? 1 : Number(match[1])
}

/**
 * Milliseconds from `result`'s spawn to `at`, an epoch time its process wrote in `file` (its `timeOrigin + now()`).
 * Fails when that time is not between the spawn and the exit: the wall clock was stepped in between, and the figure
 * would be off by the step.
 */
export const sinceSpawn = (at: number, result: Timed, file: string): number => {
  const since = at - result.spawnedAt
  if (!(since >= -5 && since <= result.millis + 5)) {
    throw new Error(`the mark in ${file} is ${since.toFixed(1)} ms after the spawn of a process that ran ${result.millis.toFixed(1)} ms: the wall clock was stepped; run again`)
  }
  return since
}

/** `sinceSpawn` of the epoch time that `file` holds as plain text. */
export const markSinceSpawn = (file: string, result: Timed): number => sinceSpawn(Number(fs.readFileSync(file, "utf8")), result, file)

/** Like `timed`, and fails when the command exits non-zero. */
export const mustRun = async (argv: ReadonlyArray<string>, options: TimedOptions): Promise<Timed> => {
  const result = await timed(argv, options)
  if (result.status !== 0) {
    throw new Error(`${argv.join(" ")} exited ${result.status} in ${options.cwd}\n${result.stdout.slice(-2000)}\n${result.stderr.slice(-2000)}`)
  }
  return result
}
