/**
 * Builds dist/: the runner compiled by tsc (tsconfig.build.json) to ESM JavaScript with `.d.ts` declarations and
 * declaration maps, one file per source file. Nothing is bundled: `effect` and `@effect/platform-node` stay imports,
 * so the published runner and the user's task files share the user's single copy of Effect (peer dependencies).
 * `dist/.build.json` (not published) lists the build's inputs and when it started, for bin/runner.js's freshness
 * check in a clone.
 *
 * Run: node scripts/build.ts (`npm run build`; `npm ci` and `npm pack` run it as `prepare`).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const dist = path.join(root, "dist")
const started = Date.now()

const inputs = [
  ...(fs.readdirSync(path.join(root, "src"), { recursive: true }) as Array<string>)
    .filter((file) => file.endsWith(".ts") && file !== "bin.ts")
    .map((file) => `src/${file.split(path.sep).join("/")}`),
  "package.json",
  "tsconfig.json",
  "tsconfig.build.json"
]

fs.rmSync(dist, { recursive: true, force: true })
const tsc = spawnSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
  cwd: root,
  stdio: "inherit"
})
if (tsc.status !== 0) {
  process.stderr.write("build: tsc failed\n")
  process.exit(tsc.status ?? 1)
}
fs.writeFileSync(path.join(dist, ".build.json"), JSON.stringify({ builtAt: started, inputs }) + "\n")
process.stdout.write(`build: dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
