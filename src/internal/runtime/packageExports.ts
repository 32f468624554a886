/**
 * The public entry points of a package: the specifiers its `exports` map makes importable, with their files. The Bun
 * plugin registers them as virtual modules; the build bundles each as an entry of dist/.
 */
import * as fs from "node:fs"
import * as path from "node:path"

type Target = string | null | { readonly [condition: string]: Target } | ReadonlyArray<Target>

/**
 * `specifier -> absolute file` for every public entry point of the package installed at `root`: the exports map's
 * exact keys, and its `*` patterns expanded over the files that exist. `conditions` are tried in order.
 */
export const entryPoints = (root: string, conditions: ReadonlyArray<string>): Map<string, string> => {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))
  const name: string = manifest.name
  const exports: Target = manifest.exports
  const found = new Map<string, string>()
  if (typeof exports === "string") found.set(name, path.join(root, exports))
  if (typeof exports !== "object" || exports === null || Array.isArray(exports)) return found
  const map = exports as { readonly [key: string]: Target }
  const pick = (target: Target): string | null => pickTarget(target, conditions)
  const keys = Object.keys(map).filter((key) => key.startsWith("."))
  // Node's order for pattern keys: the longest prefix before "*" wins, then the longer key.
  const patterns = keys.filter((key) => key.split("*").length === 2).map((key) => {
    const [prefix, suffix] = key.split("*") as [string, string]
    return { key, prefix, suffix, target: pick(map[key]!) }
  }).sort((a, b) => b.prefix.length - a.prefix.length || b.key.length - a.key.length)
  const exported = (subpath: string, via: string): boolean => {
    if (subpath in map) return false // an exact key, listed on its own
    const match = patterns.find((p) =>
      subpath.length >= p.key.length && subpath.startsWith(p.prefix) && subpath.endsWith(p.suffix)
    )
    return match?.key === via
  }
  for (const key of keys) {
    if (key.includes("*") || key.endsWith(".json")) continue
    const target = pick(map[key]!)
    if (target !== null) found.set(key === "." ? name : name + key.slice(1), path.join(root, target))
  }
  for (const { key, prefix, suffix, target } of patterns) {
    if (target === null || target.split("*").length !== 2) continue
    // "./*": "./dist/*.js": every file under ./dist ending in .js whose subpath no more specific key excludes.
    const [targetPrefix, targetSuffix] = target.split("*") as [string, string]
    const slash = targetPrefix.lastIndexOf("/") + 1
    const start = targetPrefix.slice(slash)
    const dir = path.join(root, targetPrefix.slice(0, slash))
    let files: Array<string>
    try {
      files = fs.readdirSync(dir, { recursive: true }) as Array<string>
    } catch {
      continue
    }
    for (let file of files) {
      if (!file.endsWith(targetSuffix) || !file.startsWith(start)) continue
      if (path.sep !== "/") file = file.split(path.sep).join("/")
      const subpath = prefix + file.slice(start.length, file.length - targetSuffix.length) + suffix
      if (exported(subpath, key)) found.set(name + subpath.slice(1), path.join(dir, file))
    }
  }
  return found
}

/** The target for the given conditions, or null when the subpath is not exported. */
const pickTarget = (target: Target, conditions: ReadonlyArray<string>): string | null => {
  if (target === null || typeof target === "string") return target
  if (Array.isArray(target)) {
    for (const t of target) {
      const picked = pickTarget(t, conditions)
      if (picked !== null) return picked
    }
    return null
  }
  const byCondition = target as { readonly [condition: string]: Target }
  for (const condition of conditions) {
    if (condition in byCondition) return pickTarget(byCondition[condition]!, conditions)
  }
  return null
}
