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
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const srcDir = fileURLToPath(new URL("../", import.meta.url))
const indexPath = fileURLToPath(new URL("../index.ts", import.meta.url))
const packages = ["effect", "@effect/platform-node", "@effect/platform-node-shared"]
const require = createRequire(indexPath)

export const register = (): void => {
  const Bun = (globalThis as any).Bun
  const specifiers = new Map<string, () => string>([["effect-runner", () => indexPath]])
  for (const name of packages) {
    for (const specifier of entryPoints(name)) specifiers.set(specifier, () => Bun.resolveSync(specifier, srcDir))
  }
  Bun.plugin({
    name: "effect-runner",
    setup(build: any) {
      for (const [specifier, resolve] of specifiers) {
        build.module(specifier, () => ({ exports: require(resolve()), loader: "object" }))
      }
    }
  })
}

type Target = string | null | { readonly [condition: string]: Target } | ReadonlyArray<Target>

/** The specifiers a package's `exports` map makes importable: its exact keys, and its `*` patterns expanded. */
const entryPoints = (name: string): Array<string> => {
  let root: string
  let exports: Record<string, Target>
  try {
    root = path.dirname(require.resolve(`${name}/package.json`))
    exports = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).exports
  } catch {
    return [] // not installed: leave the name to Bun's own resolution
  }
  if (typeof exports !== "object" || exports === null || Array.isArray(exports)) return [name]
  const keys = Object.keys(exports).filter((key) => key.startsWith("."))
  // Node's order for pattern keys: the longest prefix before "*" wins, then the longer key.
  const patterns = keys.filter((key) => key.split("*").length === 2).map((key) => {
    const [prefix, suffix] = key.split("*") as [string, string]
    return { key, prefix, suffix, target: pick(exports[key]!) }
  }).sort((a, b) => b.prefix.length - a.prefix.length || b.key.length - a.key.length)
  const exported = (subpath: string, via: string): boolean => {
    if (subpath in exports) return false // an exact key, listed on its own
    const match = patterns.find((p) =>
      subpath.length >= p.key.length && subpath.startsWith(p.prefix) && subpath.endsWith(p.suffix)
    )
    return match?.key === via
  }
  const found = new Set<string>()
  for (const key of keys) {
    if (!key.includes("*")) {
      if (pick(exports[key]!) !== null) found.add(key === "." ? name : name + key.slice(1))
    }
  }
  for (const { key, prefix, suffix, target } of patterns) {
    if (target === null || target.split("*").length !== 2) continue
    // "./*": "./dist/*.js": every file under ./dist ending in .js whose subpath no more specific key excludes.
    const [targetPrefix, targetSuffix] = target.split("*") as [string, string]
    const slash = targetPrefix.lastIndexOf("/") + 1
    const start = targetPrefix.slice(slash)
    let files: Array<string>
    try {
      files = fs.readdirSync(path.join(root, targetPrefix.slice(0, slash)), { recursive: true }) as Array<string>
    } catch {
      continue
    }
    for (let file of files) {
      if (!file.endsWith(targetSuffix) || !file.startsWith(start)) continue
      if (path.sep !== "/") file = file.split(path.sep).join("/")
      const subpath = prefix + file.slice(start.length, file.length - targetSuffix.length) + suffix
      if (exported(subpath, key)) found.add(name + subpath.slice(1))
    }
  }
  return [...found]
}

/** The target for Bun's import conditions, or null when the subpath is not exported. */
const pick = (target: Target): string | null => {
  if (target === null || typeof target === "string") return target
  if (Array.isArray(target)) {
    for (const t of target) {
      const picked = pick(t)
      if (picked !== null) return picked
    }
    return null
  }
  const conditions = target as { readonly [condition: string]: Target }
  for (const condition of ["bun", "import", "node", "default"]) {
    if (condition in conditions) return pick(conditions[condition]!)
  }
  return null
}
