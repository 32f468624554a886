/**
 * Bun import plugin: task files get the runner's own `effect`, `@effect/platform-node(-shared)` and `effect-runner`,
 * wherever they live, so that one process never holds two copies of Effect.
 *
 * Bun (1.4.5) does not offer bare specifiers to a runtime plugin's `onResolve`: only specifiers with a file extension
 * or a `namespace:` prefix reach it (oven-sh/bun#40579, #40397), so an `onResolve` for `effect` never runs and a task
 * outside the runner's folder fails to import `effect-runner`, or worse, gets `effect` auto-installed into Bun's
 * cache: a second copy. Virtual modules (`build.module`) do work for bare specifiers and take precedence over
 * resolution for every importer, so every public entry point of the shared packages is registered as one. Its
 * exports are the runner's own module, resolved from the runner's folder and loaded with `require` only when a task
 * first imports it. Extensionless relative imports and `enum` need nothing: Bun supports them natively.
 *
 * When the runner runs from the bundle (dist/), its own copy is the bundle's: the virtual modules are the bundle's
 * entry files, and a task's import of one of the runner's files by path is redirected to its entry file.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { entryPoints } from "./packageExports.ts"

const rootDir = fileURLToPath(new URL("../../", import.meta.url))
const indexPath = fileURLToPath(new URL("../index.ts", import.meta.url))
const packages = ["effect", "@effect/platform-node", "@effect/platform-node-shared"]
const require = createRequire(indexPath)

/** Installs the plugin; `bundle` is the URL of dist/ when the runner runs from it. */
export const register = (bundle?: string): void => {
  const Bun = (globalThis as any).Bun
  const served = bundle === undefined ? undefined : servedByBundle(fileURLToPath(bundle))
  const modules = served === undefined ? fromSources() : fromBundle(served)
  Bun.plugin({
    name: "effect-runner",
    setup(build: any) {
      for (const [specifier, file] of modules) {
        build.module(specifier, () => ({ exports: require(file), loader: "object" }))
      }
      if (served !== undefined) ownFilesFromBundle(build, served)
    }
  })
}

/** From the sources: every public entry point of the shared packages as installed, and src/index.ts. */
const fromSources = (): Map<string, string> => {
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

/** What the bundle serves (its served.json): a public specifier or `src/<file>.ts` -> the absolute entry file. */
const servedByBundle = (dist: string): Map<string, string> => {
  const served: Record<string, string> = JSON.parse(fs.readFileSync(path.join(dist, "served.json"), "utf8"))
  return new Map(Object.entries(served).map(([name, file]) => [name, path.join(dist, file)]))
}

/** From the bundle: the public specifiers (and `effect-runner`), not the source files. */
const fromBundle = (served: ReadonlyMap<string, string>): Map<string, string> =>
  new Map([...served].filter(([name]) => !name.startsWith("src/")))

/**
 * A task file that imports one of the runner's own files by path (`<runner>/src/Job.ts`,
 * `<runner>/node_modules/effect/dist/Effect.js`) gets the bundle's entry file for it instead.
 */
const ownFilesFromBundle = (build: any, served: ReadonlyMap<string, string>): void => {
  const escaped = rootDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  const own = new RegExp(`^(?:file://)?${escaped}(src/.+\\.ts|node_modules/(?:effect|@effect/platform-node(?:-shared)?)/dist/.+\\.js)$`)
  build.onResolve({ filter: own }, (args: { readonly path: string }) => {
    const relative = own.exec(args.path)![1]!
    let name = relative
    if (!relative.startsWith("src/")) {
      const [, pkg, subpath] = /^node_modules\/(.+?)\/dist\/(.+)\.js$/.exec(relative)!
      name = subpath === "index" ? pkg! : `${pkg}/${subpath!.replace(/\/index$/, "")}`
    }
    const file = served.get(name)
    return file === undefined ? undefined : { path: file }
  })
}
