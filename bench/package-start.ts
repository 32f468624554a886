/**
 * Start-up of the installed package against the start in the clone (issue 11: within 10%). Packs the runner, installs
 * the tarball with effect and @effect/platform-node from npm's cache into a temporary project, then runs, interleaved
 * round by round: `node bin/runner.js tasks/hello.ts` in the clone (dist/), `node node_modules/.bin/runner ...` and
 * `npx runner ...` in the project, `npx` of a bin that does nothing (npx's own cost), and the installed runner with
 * Node's compile cache off. Each start is timed by GNU time: wall, and user + system CPU (steadier on a busy machine).
 *
 * Run: node bench/package-start.ts [rounds] [another-runner-folder]   (writes bench/package-start.json; bench/README.md
 * has the latest figures). With a folder, that runner's `src/bin.ts tasks/hello.ts` is timed too (a former build).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const rounds = Number(process.argv[2] ?? 11)
const other = process.argv[3]
const env = { ...process.env, NO_COLOR: "1", PATH: `${path.join(root, "node_modules/.bin")}:${process.env["PATH"]}` }
const sh = (command: string, args: ReadonlyArray<string>, cwd: string, extra: Record<string, string> = {}) => {
  const result = spawnSync(command, args, { cwd, env: { ...env, ...extra }, encoding: "utf8" })
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")}: ${result.stdout}${result.stderr}`)
  return result
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "runner-package-start-"))
sh("npm", ["run", "build"], root)
sh("npm", ["pack", "--ignore-scripts", "--pack-destination", work], root)
const tarball = path.join(work, fs.readdirSync(work).find((file) => file.endsWith(".tgz"))!)
const project = path.join(work, "project")
fs.mkdirSync(path.join(project, "tasks"), { recursive: true })
fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "start", private: true, type: "module" }))
sh("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball, "effect@4.1.5", "@effect/platform-node@4.1.5"], project)
fs.copyFileSync(path.join(root, "tasks/hello.ts"), path.join(project, "tasks/hello.ts"))
const noop = path.join(project, "node_modules/.bin/noop")
fs.writeFileSync(noop, "#!/bin/sh\nexit 0\n", { mode: 0o755 })

const node = path.join(root, "node_modules/.bin/node")
const cases: ReadonlyArray<{ readonly name: string; readonly cwd: string; readonly argv: ReadonlyArray<string>; readonly env?: Record<string, string> }> = [
  { name: "clone: node bin/runner.js tasks/hello.ts", cwd: root, argv: [node, "bin/runner.js", "tasks/hello.ts", "--journal", "none"] },
  { name: "installed: node node_modules/.bin/runner tasks/hello.ts", cwd: project, argv: [node, "node_modules/.bin/runner", "tasks/hello.ts", "--journal", "none"] },
  { name: "installed: npx runner tasks/hello.ts", cwd: project, argv: ["npx", "runner", "tasks/hello.ts", "--journal", "none"] },
  { name: "npx alone: npx noop", cwd: project, argv: ["npx", "noop"] },
  ...(other === undefined ? [] : [{
    name: `other: node ${other}/src/bin.ts tasks/hello.ts`,
    cwd: other,
    argv: [node, path.join(other, "src/bin.ts"), "tasks/hello.ts", "--journal", "none"]
  }]),
  {
    name: "installed, compile cache off: node node_modules/.bin/runner tasks/hello.ts",
    cwd: project,
    argv: [node, "node_modules/.bin/runner", "tasks/hello.ts", "--journal", "none"],
    env: { NODE_DISABLE_COMPILE_CACHE: "1" }
  }
]

const samples = new Map(cases.map((c) => [c.name, [] as Array<{ wall: number; cpu: number }>]))
// One warm-up round fills the compile caches and the OS file cache.
for (let round = 0; round <= rounds; round++) {
  for (const c of cases) {
    const result = sh("/usr/bin/time", ["-f", "%e %U %S", ...c.argv], c.cwd, c.env)
    const [wall, user, system] = result.stderr.trim().split("\n").at(-1)!.split(" ").map(Number) as [number, number, number]
    if (round > 0) samples.get(c.name)!.push({ wall: wall * 1000, cpu: (user + system) * 1000 })
  }
}

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const summary = cases.map((c) => {
  const s = samples.get(c.name)!
  return { case: c.name, wallMs: median(s.map((x) => x.wall)), cpuMs: median(s.map((x) => x.cpu)), runs: s.length }
})
const load = os.loadavg().map((n) => n.toFixed(2)).join(" / ")
fs.writeFileSync(path.join(root, "bench/package-start.json"), JSON.stringify({ date: new Date().toISOString(), load, summary }, null, 2) + "\n")
for (const row of summary) console.log(`${row.case}: wall ${row.wallMs.toFixed(0)} ms, cpu ${row.cpuMs.toFixed(0)} ms (${row.runs} runs)`)
console.log(`load average (1/5/15 min): ${load}`)
fs.rmSync(work, { recursive: true, force: true })
