/** Spawning the real `runner` (src/bin.ts) on a runtime, as a user or cron would. */
import { spawn, spawnSync } from "node:child_process"
import * as path from "node:path"

export const root = path.resolve(import.meta.dirname, "../..")
const bin = path.join(root, "node_modules/.bin")
export const bins = {
  node: path.join(bin, "node"),
  bun: path.join(bin, "bun"),
  deno: path.join(bin, "deno")
} as const
export type RuntimeName = keyof typeof bins

/** The command line that runs the runner's entry point on a runtime. */
export const runnerCommand = (runtime: RuntimeName): ReadonlyArray<string> =>
  runtime === "deno"
    ? [bins.deno, "run", "-A", path.join(root, "src/bin.ts")]
    : [bins[runtime], path.join(root, "src/bin.ts")]

export interface Result {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

const environment = (extra: Record<string, string>) => ({ ...process.env, NO_COLOR: "1", ...extra })

/** Runs the runner to completion. */
export const runner = (
  args: ReadonlyArray<string>,
  options: { readonly runtime?: RuntimeName; readonly env?: Record<string, string>; readonly cwd?: string } = {}
): Result => {
  const [command, ...prefix] = runnerCommand(options.runtime ?? "node")
  const result = spawnSync(command!, [...prefix, ...args], {
    cwd: options.cwd ?? root,
    env: environment(options.env ?? {}),
    encoding: "utf8",
    timeout: 60_000
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** Starts the runner and returns the process and a promise of its result. */
export const runnerAsync = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  runtime: RuntimeName = "node"
) => {
  const [command, ...prefix] = runnerCommand(runtime)
  const child = spawn(command!, [...prefix, ...args], { cwd: root, env: environment(env) })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk) => (stdout += chunk))
  child.stderr.on("data", (chunk) => (stderr += chunk))
  const done = new Promise<Result>((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })))
  return { process: child, done }
}

export const waitUntil = async (predicate: () => boolean, timeoutMillis = 20_000) => {
  const deadline = Date.now() + timeoutMillis
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition")
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Whether a process exists (signal 0). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
