// What every package's task file shares: its `build` (tsc -b) and `test` jobs. A workspace package without a
// tasks/ folder: it has no jobs, so `runner ws` walks through it (the packages depending on it are ordered as usual).
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Job } from "effect-runner"

/** The workspace's tsc: node_modules/.bin/tsc in the nearest folder, from here up, that has it (as `npm exec` finds it). */
export const tsc = ((): string => {
  for (let dir = path.dirname(fileURLToPath(import.meta.url));; dir = path.dirname(dir)) {
    const bin = path.join(dir, "node_modules", ".bin", "tsc")
    if (fs.existsSync(bin)) return bin
    if (path.dirname(dir) === dir) throw new Error("tsc not found in any node_modules/.bin above @acme/tasks-kit: npm install typescript")
  }
})()

/** Runs a built script with the runtime that runs the runner (Node, Bun or Deno), not whichever is on the PATH. */
export const script = (file: string): ReadonlyArray<string> =>
  "Deno" in globalThis ? [process.execPath, "run", "-A", file] : [process.execPath, file]

/** `tsc -b` in the package's folder (command jobs of a workspace package run there unless they set `cwd`). */
export const build = (description: string) => Job.command("build", [tsc, "-b"], { description, timeout: "5 minutes" })

/** Runs the package's compiled tests after its build. */
export const test = (build: Job.Job<Job.CommandOutput, unknown>) =>
  Job.command("test", script("dist/index.test.js"), { needs: { build }, description: "run dist/index.test.js" })
