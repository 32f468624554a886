/**
 * `npm run bench`: the executor's per-job overhead (1,000 in-process no-op jobs, flat and layered) and the cold start
 * of `runner tasks/nightly.ts --dry-run` / `runner --version`, on Node, Bun and Deno. Writes bench/results.json and
 * prints a Markdown table; bench/README.md records the figures with the date and machine.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const bin = (name: string) => path.join(root, "node_modules/.bin", name)
const overheadCommands: Record<string, ReadonlyArray<string>> = {
  node: [bin("node"), "bench/overhead.ts"],
  bun: [bin("bun"), "bench/overhead.ts"],
  deno: [bin("deno"), "run", "-A", "bench/overhead.ts"]
}

const run = (argv: ReadonlyArray<string>) => {
  const result = spawnSync(argv[0]!, argv.slice(1), { cwd: root, encoding: "utf8" })
  if (result.status !== 0) throw new Error(`${argv.join(" ")} failed: ${result.stderr}`)
  return JSON.parse(result.stdout)
}

const overhead = Object.fromEntries(Object.entries(overheadCommands).map(([name, argv]) => [name, run(argv)]))
const coldstart = run([bin("node"), "bench/coldstart.ts", "tasks/nightly.ts"])
const results = { date: new Date().toISOString(), cpus: os.cpus().length, overhead, coldstart }
fs.writeFileSync(path.join(root, "bench/results.json"), JSON.stringify(results, null, 2) + "\n")

const rows = Object.keys(overheadCommands).map((name) => {
  const o = overhead[name]
  const c = coldstart[name]
  return `| ${name} | ${o.flat.microsPerJob} | ${o.layered.microsPerJob} | ${c.dryRun.medianMillis} (${c.dryRun.minMillis}–${c.dryRun.maxMillis}) | ${c.version.medianMillis} |`
})
console.log([
  "| runtime | µs/job, 1,000 flat | µs/job, 1,000 layered | `nightly.ts --dry-run` ms, median (min–max) | `--version` ms |",
  "|---|---|---|---|---|",
  ...rows
].join("\n"))
