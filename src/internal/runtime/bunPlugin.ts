/**
 * Bun import plugin: task files get the runner's own `effect`, `@effect/platform-node(-shared)` and `effect-runner`
 * (installed, the user's Effect: it is a peer dependency), wherever they live, so that one process never holds two
 * copies of Effect.
 *
 * Bun (1.4.5) does not offer bare specifiers to a runtime plugin's `onResolve`: only specifiers with a file extension
 * or a `namespace:` prefix reach it (oven-sh/bun#40579, #40397), so an `onResolve` for `effect` never runs and a task
 * outside the runner's folder fails to import `effect-runner`, or worse, gets `effect` auto-installed into Bun's
 * cache: a second copy. Virtual modules (`build.module`) do work for bare specifiers and take precedence over
 * resolution for every importer, so every public entry point of the shared packages is registered as one. Its
 * exports are the runner's own module, resolved from the runner's folder and loaded with `require` only when a task
 * first imports it. Extensionless relative imports and `enum` need nothing: Bun supports them natively.
 *
 * In a clone running from dist/, a task's import of one of the runner's source files by path gets its compiled file.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { entryPoints } from "./packageExports.ts"

const compiled = import.meta.url.endsWith(".js")
const ownDir = fileURLToPath(new URL("../../", import.meta.url))
const sourcesDir = fileURLToPath(new URL("../../../src/", import.meta.url))
const indexPath = fileURLToPath(new URL(compiled ? "../../index.js" : "../../index.ts", import.meta.url))
const packages = ["effect", "@effect/platform-node", "@effect/platform-node-shared"]
const require = createRequire(indexPath)

/** Installs the plugin. */
export const register = (): void => {
  const Bun = (globalThis as any).Bun
  const modules = sharedModules()
  Bun.plugin({
    name: "effect-runner",
    setup(build: any) {
      for (const [specifier, file] of modules) {
        build.module(specifier, () => ({ exports: require(file), loader: "object" }))
      }
      if (compiled && fs.existsSync(sourcesDir)) compiledInstead(build)
    }
  })
}

/** Every public entry point of the shared packages as installed beside the runner, and the runner's own index. */
const sharedModules = (): Map<string, string> => {
  const modules = new Map<string, string>([["effect-runner", indexPath]])
  for (const name of packages) {
    let root: string
    try {
      root = path.dirname(require.resolve(`${name}/package.json`))
    } catch {
      continue // not installed: leave the name to Bun's own resolution
    }
    for (const [specifier, file] of entryPoints(root, ["bun", "import", "node", "default"])) modules.set(specifier, file)
  }
  return modules
}

/** A task file that imports one of the runner's source files by path (`<clone>/src/Job.ts`) gets its compiled file. */
const compiledInstead = (build: any): void => {
  const escaped = sourcesDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  const source = new RegExp(`^(?:file://)?${escaped}(.+)\\.ts$`)
  build.onResolve({ filter: source }, (args: { readonly path: string }) => {
    const file = path.join(ownDir, `${source.exec(args.path)![1]!}.js`)
    return fs.existsSync(file) ? { path: file } : undefined
  })
}
