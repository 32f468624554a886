#!/usr/bin/env node
/**
 * The `runner` entry point (src/bin.ts is a link to this file). It starts the bundle in dist/ (`npm ci` and
 * `npm run build` make it: scripts/build.ts) when the bundle is fresh, else the sources: a bundle older than any file
 * it was built from never runs. RUNNER_BUNDLE=0 runs the sources whatever; RUNNER_DEBUG_START=1 says on stderr which
 * one started, and why.
 *
 * Plain JavaScript, written so that it is valid TypeScript too: Node strips the types of a `.ts` entry point with a
 * WebAssembly parser it loads for that, which costs more than the rest of a start from the bundle. Node and Bun run
 * the link's target (they resolve the entry point's real path), so nothing is stripped; Deno runs it as TypeScript.
 */
import * as fs from "node:fs"
import * as Module from "node:module"

const checking = performance.now()
const dist = new URL("../dist/", import.meta.url)
const root = decodeURIComponent(new URL("../", import.meta.url).pathname)

/** Why the bundle cannot be used, or undefined when it is fresh (no input changed after the build started). */
const staleness = () => {
  if (process.env["RUNNER_BUNDLE"] === "0") return "RUNNER_BUNDLE=0"
  let manifest
  try {
    // { builtAt: epoch millis when the build started, inputs: the files it read, relative to the runner's folder }
    manifest = JSON.parse(fs.readFileSync(`${root}dist/manifest.json`, "utf8"))
  } catch {
    return "no bundle (npm run build makes one)"
  }
  for (const input of manifest.inputs) {
    const stat = fs.statSync(root + input, { throwIfNoEntry: false })
    if (stat === undefined) return `${input} is gone`
    if (stat.mtimeMs > manifest.builtAt) return `${input} changed since the build`
  }
  // npm rewrites it whenever it installs, updates or removes a package: the bundled dependencies may have changed.
  const lock = fs.statSync(`${root}node_modules/.package-lock.json`, { throwIfNoEntry: false })
  if (lock !== undefined && lock.mtimeMs > manifest.builtAt) return "node_modules changed since the build"
  return undefined
}

const reason = staleness()
if (process.env["RUNNER_DEBUG_START"] === "1") {
  const checked = `(checked in ${(performance.now() - checking).toFixed(1)} ms)`
  process.stderr.write(`runner: starting from ${reason === undefined ? "dist/" : `src/: ${reason}`} ${checked}\n`)
}
const args = process.argv.slice(2)
if (reason === undefined) {
  // Node compiles the bundle once and reuses the code from this cache (Bun and Deno keep their own).
  if (!("Bun" in globalThis) && !("Deno" in globalThis)) Module.enableCompileCache?.(`${root}dist/.cache`)
  const entry = await import(new URL("src/cli/main.js", dist).href)
  entry.start(args, dist.href)
} else {
  const entry = await import("./cli/main.ts")
  entry.start(args)
}
