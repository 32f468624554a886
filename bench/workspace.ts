/**
 * Monorepo benchmark (issue 11 §3): `runner ws build` on a generated npm workspace of 50 packages in a 5-level
 * dependency graph, each `build` the command `true`, against Turborepo (`turbo run build`, bench/peers) and a
 * hand-written `make -j8` of the same graph; and the time `runner` takes to find the packages and load their 50 task
 * files, in-process on Node. Writes bench/WORKSPACE.md and bench/workspace-results.json.
 *
 *   node bench/workspace.ts [--runs N] [--out DIR]
 *   node bench/workspace.ts --generate DIR     (only writes the workspace into DIR, to try it by hand)
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { spawnSync } from "node:child_process"
import { mustRun, peersDir, root, runnerCommand, scriptCommand, type Timed, versions } from "./commands.ts"

const argv = process.argv.slice(2)
const option = (name: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}
const runs = Number(option("--runs") ?? 7)
const out = path.resolve(option("--out") ?? path.join(root, "bench"))

const LEVELS = 5
const WIDTH = 10
const name = (i: number) => `p${String(i).padStart(2, "0")}`

/** Each package of level L > 0 depends on 2 packages of level L-1 and 1 of any lower level (seeded, reproducible). */
export const graph = (): ReadonlyArray<ReadonlyArray<number>> => {
  let seed = 20261205
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  const deps: Array<Array<number>> = []
  for (let level = 0; level < LEVELS; level++) {
    for (let k = 0; k < WIDTH; k++) {
      if (level === 0) {
        deps.push([])
        continue
      }
      const below = (l: number) => l * WIDTH + Math.floor(random() * WIDTH)
      const picked = new Set([below(level - 1), below(level - 1), below(Math.floor(random() * level))])
      deps.push([...picked].sort((a, b) => a - b))
    }
  }
  return deps
}

/** Writes the workspace: packages with a `build` script (turbo) and task file (runner), a turbo.json, a Makefile. */
export const generate = (dir: string) => {
  const deps = graph()
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    fs.writeFileSync(path.join(dir, file), text)
  }
  write("package.json", JSON.stringify({ name: "bench-ws", private: true, packageManager: `npm@${spawnSync("npm", ["--version"], { encoding: "utf8" }).stdout.trim()}`, workspaces: ["packages/*"] }, null, 2))
  write("turbo.json", JSON.stringify({ tasks: { build: { dependsOn: ["^build"], cache: false, outputs: [] } } }, null, 2))
  deps.forEach((needs, i) => {
    write(`packages/${name(i)}/package.json`, JSON.stringify({
      name: name(i),
      version: "1.0.0",
      type: "module",
      scripts: { build: "true" },
      dependencies: Object.fromEntries(needs.map((d) => [name(d), "1.0.0"]))
    }, null, 2))
    write(`packages/${name(i)}/tasks/build.ts`, `import { Job } from "effect-runner"\n\nexport const build = Job.shell("build", ["true"])\n`)
  })
  const make = [".PHONY: all " + deps.map((_, i) => name(i)).join(" "), `all: ${deps.map((_, i) => name(i)).join(" ")}`, ""]
  deps.forEach((needs, i) => make.push(`${name(i)}:${needs.map((d) => " " + name(d)).join("")}`, "\t@true"))
  write("Makefile", make.join("\n") + "\n")
  // npm links the workspace packages and writes the lockfile turbo reads (nothing is downloaded).
  const install = spawnSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: dir, encoding: "utf8" })
  if (install.status !== 0) throw new Error(`npm install failed in ${dir}:\n${install.stderr}`)
  return deps
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const measure = async (label: string, argv: ReadonlyArray<string>, cwd: string, env: Record<string, string> = {}, n = runs) => {
  const samples: Array<Timed> = []
  await mustRun(argv, { cwd, env }) // warm-up: file caches, JIT caches of the runtimes
  for (let i = 0; i < n; i++) samples.push(await mustRun(argv, { cwd, env }))
  const millis = samples.map((s) => s.millis)
  console.log(`${label.padEnd(34)} median ${median(millis).toFixed(0).padStart(5)} ms   min ${Math.min(...millis).toFixed(0).padStart(5)} ms`)
  return { label, command: argv.join(" "), median: median(millis), min: Math.min(...millis), samples: millis, last: samples.at(-1)! }
}

const main = async () => {
  const loadBefore = os.loadavg()[0]!
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-bench-ws-"))
  generate(dir)
  console.log(`workspace: ${dir} (${LEVELS * WIDTH} packages, ${LEVELS} levels)`)
  const turbo = path.join(peersDir, "node_modules", "@turbo", `${process.platform === "darwin" ? "darwin" : "linux"}-${process.arch === "x64" ? "64" : "arm64"}`, "bin", "turbo")
  const turboEnv = { TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1", TURBO_NO_UPDATE_NOTIFIER: "1", TURBO_PRINT_VERSION_DISABLED: "1" }
  const results = []
  results.push(await measure("make -j8", ["make", "-j8", "-s", "all"], dir))
  for (const runtime of ["node", "bun", "deno"] as const) {
    const ran = await measure(`runner ws build (${runtime})`, [...runnerCommand(runtime), "ws", "build", "--concurrency", "8", "--log-format", "plain", "--journal", path.join(dir, `.runner/${runtime}.db`)], dir)
    if (!/run \S+ succeeded/.test(ran.last.stdout) || (ran.last.stdout.match(/#build started/g) ?? []).length !== LEVELS * WIDTH) {
      throw new Error(`runner ws build did not run ${LEVELS * WIDTH} builds:\n${ran.last.stdout.slice(-2000)}`)
    }
    results.push(ran)
  }
  results.push(await measure("runner ws build (node, no journal)", [...runnerCommand("node"), "ws", "build", "--concurrency", "8", "--log-format", "plain", "--journal", "none"], dir))
  if (fs.existsSync(turbo)) {
    // Fewer runs: each takes half a minute here (turbo starts `npm run build` for every package).
    results.push(await measure("turbo run build", [turbo, "run", "build", "--ui=stream", "--concurrency=8"], dir, turboEnv, Math.min(runs, 3)))
  } else console.log(`turbo: not installed (npm ci --prefix bench/peers); skipped`)
  // Finding the packages and loading their 50 task files, in-process (the runner's own modules already loaded).
  const loadScript = path.join(dir, "load.ts")
  fs.writeFileSync(loadScript, [
    `import * as Effect from "effect/Effect"`,
    `import * as Combine from ${JSON.stringify(path.join(root, "src/internal/workspace/Combine.ts"))}`,
    `import * as Discovery from ${JSON.stringify(path.join(root, "src/internal/workspace/Discovery.ts"))}`,
    `const start = performance.now()`,
    `const workspace = await Effect.runPromise(Discovery.discover(process.cwd()))`,
    `const found = performance.now()`,
    `const loaded = await Effect.runPromise(Combine.load(workspace))`,
    `const done = performance.now()`,
    `console.log(JSON.stringify({ discover: found - start, load: done - found, files: workspace.packages.flatMap((p) => p.taskFiles).length, jobs: loaded.owner.size }))`
  ].join("\n"))
  fs.symlinkSync(path.join(root, "node_modules", "effect"), path.join(dir, "node_modules", "effect"))
  const loads = []
  for (let i = 0; i < runs; i++) loads.push(JSON.parse((await mustRun(scriptCommand("node", loadScript), { cwd: dir })).stdout))
  const discover = median(loads.map((l) => l.discover))
  const load = median(loads.map((l) => l.load))
  console.log(`discover ${discover.toFixed(0)} ms, load ${loads[0].files} task files ${load.toFixed(0)} ms (node, in-process, median)`)
  const make = results[0]!.median
  const turboResult = results.find((r) => r.label.startsWith("turbo"))
  const lines = [
    "# Monorepo benchmark: `runner ws build` vs Turborepo and `make -j8`",
    "",
    `Generated by \`node bench/workspace.ts\` (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? "?"}, ` +
    `load average ${loadBefore.toFixed(1)} before and ${os.loadavg()[0]!.toFixed(1)} after: the machine is shared, figures vary between runs).`,
    `A workspace of ${LEVELS * WIDTH} npm packages in ${LEVELS} levels of ${WIDTH}; each package of a level depends on 2 of the level`,
    "below and 1 of any lower level. Each `build` runs `true` (turbo: the package's `build` script, `true`, which turbo",
    "starts through `npm run build`, as it does in every npm workspace). Wall time of the whole command, " +
    `median of ${runs} runs (turbo: ${Math.min(runs, 3)}) after a warm-up. The runner runs from its bundle (dist/), with its journal, at --concurrency 8.`,
    "",
    "| command | median | min | vs make -j8 |" + (turboResult === undefined ? "" : " vs turbo |"),
    "|---|---:|---:|---:|" + (turboResult === undefined ? "" : "---:|"),
    ...results.map((r) =>
      `| ${r.label} | ${r.median.toFixed(0)} ms | ${r.min.toFixed(0)} ms | ${(r.median / make).toFixed(1)}x |` +
      (turboResult === undefined ? "" : ` ${(r.median / turboResult.median).toFixed(2)}x |`)
    ),
    "",
    `Finding the ${LEVELS * WIDTH} packages: ${discover.toFixed(0)} ms; loading their ${loads[0].files} task files: ${load.toFixed(0)} ms ` +
    `(Node, in-process, median; target: load <= 300 ms: ${load <= 300 ? "MET" : "MISSED"}).`,
    "",
    "Versions: " + Object.entries(versions()).map(([k, v]) => `${k} ${v}`).join(", ") +
    (fs.existsSync(turbo) ? `, turbo ${spawnSync(turbo, ["--version"], { encoding: "utf8" }).stdout.trim()}` : ""),
    ""
  ]
  fs.mkdirSync(out, { recursive: true })
  fs.writeFileSync(path.join(out, "WORKSPACE.md"), lines.join("\n"))
  fs.writeFileSync(path.join(out, "workspace-results.json"), JSON.stringify({ results: results.map(({ last: _, ...r }) => r), discover, load, loads }, null, 2) + "\n")
  console.log(`wrote ${path.join(out, "WORKSPACE.md")}`)
  fs.rmSync(dir, { recursive: true, force: true })
}

const only = option("--generate")
if (only !== undefined) {
  fs.mkdirSync(only, { recursive: true })
  generate(path.resolve(only))
  console.log(path.resolve(only))
} else await main()
