/**
 * Cold start of the runner on Node, Bun and Deno: wall time of `runner <file> --dry-run` and `runner --version`,
 * median of 10 spawns after one warm-up (the OS file cache is warm; the runtime's own caches are what they are).
 * Run: node bench/coldstart.ts [taskfile]
 */
import { spawnSync } from "node:child_process"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const bin = (name: string) => path.join(root, "node_modules/.bin", name)
const entry = path.join(root, "src/bin.ts")
const file = process.argv[2] ?? "tasks/nightly.ts"
const runtimes: Record<string, ReadonlyArray<string>> = {
  node: [bin("node"), entry],
  bun: [bin("bun"), entry],
  deno: [bin("deno"), "run", "-A", entry]
}

const time = (argv: ReadonlyArray<string>): number => {
  const start = performance.now()
  const result = spawnSync(argv[0]!, argv.slice(1), { cwd: root, encoding: "utf8" })
  const elapsed = performance.now() - start
  if (result.status !== 0) throw new Error(`${argv.join(" ")} exited ${result.status}: ${result.stderr}`)
  return elapsed
}

const median = (argv: ReadonlyArray<string>) => {
  time(argv)
  const samples = Array.from({ length: 10 }, () => time(argv)).sort((a, b) => a - b)
  return {
    medianMillis: Math.round(samples[5]!),
    minMillis: Math.round(samples[0]!),
    maxMillis: Math.round(samples.at(-1)!)
  }
}

const results: Record<string, unknown> = {}
for (const [name, argv] of Object.entries(runtimes)) {
  results[name] = { dryRun: median([...argv, file, "--dry-run"]), version: median([...argv, "--version"]) }
}
console.log(JSON.stringify({ file, ...results }, null, 2))
