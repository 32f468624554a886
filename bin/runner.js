#!/usr/bin/env node
/**
 * The `runner` entry point (the package's `bin`; src/bin.ts links here for the clone). It checks the Node version
 * first, in syntax any Node parses, so an old Node prints one line instead of a stack trace. Then it starts the
 * compiled runner in dist/ (`npm run build`: tsc, scripts/build.ts). The published package has only dist/; in a
 * clone, dist/ starts while it is fresh and the sources otherwise: a build older than any of its inputs never runs.
 * RUNNER_DIST=0 runs the sources whatever; RUNNER_DEBUG_START=1 says on stderr which one started, and why.
 *
 * Node compiles the runner and Effect once and reuses the code from its compile cache (node_modules/.cache/
 * effect-runner, else the system's temp folder): measured, a start takes 10% less time, 20% less CPU (bench/README.md).
 * Plain JavaScript, written so that it is valid TypeScript too: Deno runs src/bin.ts, the link, as TypeScript.
 */
import * as fs from "node:fs"
import * as Module from "node:module"

const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"
if (runtime === "node") {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
  if (major < 22 || (major === 22 && minor < 19)) {
    process.stderr.write(`effect-runner needs Node >= 22.19; you have ${process.versions.node}\n`)
    process.exit(2)
  }
}

const checking = performance.now()
const root = decodeURIComponent(new URL("../", import.meta.url).pathname)

/** Why dist/ cannot be used, or undefined when it can: always in the package, while fresh in a clone. */
const staleness = () => {
  // The build script is in a clone, not in the package.
  if (!fs.existsSync(`${root}scripts/build.ts`)) return undefined
  if (process.env["RUNNER_DIST"] === "0") return "RUNNER_DIST=0"
  let manifest
  try {
    // { builtAt: epoch millis when the build started, inputs: the files it read, relative to the runner's folder }
    manifest = JSON.parse(fs.readFileSync(`${root}dist/.build.json`, "utf8"))
  } catch {
    return "no dist/ (npm run build makes it)"
  }
  for (const input of manifest.inputs) {
    const stat = fs.statSync(root + input, { throwIfNoEntry: false })
    if (stat === undefined) return `${input} is gone`
    if (stat.mtimeMs > manifest.builtAt) return `${input} changed since the build`
  }
  return undefined
}

/** Where Node keeps the compiled code: beside the packages when the runner is one of them, else Node's default. */
const cacheDir = () => {
  const parent = root.slice(0, root.slice(0, -1).lastIndexOf("/") + 1)
  if (parent.endsWith("/node_modules/")) return `${parent}.cache/effect-runner`
  if (fs.existsSync(`${root}node_modules`)) return `${root}node_modules/.cache/effect-runner`
  return undefined
}

const reason = staleness()
if (process.env["RUNNER_DEBUG_START"] === "1") {
  const checked = `(checked in ${(performance.now() - checking).toFixed(1)} ms)`
  process.stderr.write(`runner: starting from ${reason === undefined ? "dist/" : `src/: ${reason}`} ${checked}\n`)
}
// Bun and Deno keep caches of their own.
if (runtime === "node") Module.enableCompileCache?.(cacheDir())
const entry = reason === undefined ? "../dist/internal/cli/main.js" : "../src/internal/cli/main.ts"
const main = await import(new URL(entry, import.meta.url).href)
main.start(process.argv.slice(2))
