// Jobs shared between task files: one build job per package of a small monorepo, imported by tasks/monorepo.ts.
// Runs on its own too (its exported jobs become the DAG): node_modules/.bin/node src/bin.ts tasks/monorepo/packages.ts
import { Job } from "effect-runner"

// Stands in for a real build (e.g. ["npx", "tsc", "-b", "packages/core"]): writes <dir>/index.js and prints its path.
// <dir> is the last argument (Node, Bun and Deno put different things before it in process.argv).
const BUILD = [
  `const fs = require("node:fs"), dir = process.argv.at(-1), file = dir + "/index.js"`,
  `fs.mkdirSync(dir, { recursive: true })`,
  `fs.writeFileSync(file, "export const built = true")`,
  `console.log(file)`
].join("; ")

/**
 * Runs the script with the runner's own runtime (process.execPath), not whichever `node` is first on the PATH. Node
 * and Bun evaluate a script with `-e`; Deno with `eval`. (A command job runs its argv as written, on every runtime.)
 */
const evaluate = "Deno" in globalThis ? "eval" : "-e"
const build = (name: string) =>
  Job.command(`build-${name}`, [process.execPath, evaluate, BUILD, `.runner/monorepo/${name}/dist`], {
    description: `build package ${name}`,
    timeout: "2 minutes"
  })

export const buildCore = build("core")
export const buildCli = build("cli")
