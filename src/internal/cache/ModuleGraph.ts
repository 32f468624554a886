/**
 * The local modules a task file's code imports, transitively: a helper two imports deep changes a job's cache key,
 * a file nothing imports does not (the most reported false hit of other tools: "helpers are not in the hash").
 * Imports are read from the source text — static `import`/`export ... from`, `import("literal")`, `require("literal")`
 * — and followed when relative (`./`, `../`); packages (node_modules) are covered by the lockfile instead. A
 * specifier that names a `.js` file also finds the `.ts` beside it, as TypeScript resolves it.
 *
 * Gotcha: a computed `import(name)` cannot be followed; such a module counts only through the lockfile or `files`.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"

export interface Module {
  /** Path relative to the root given to `modules`, with `/`. */
  readonly path: string
  /** sha256 (hex) of its content. */
  readonly sha256: string
}

const specifiers = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)(["'])([^"'\n]+)\1/gm
const extensions = [".ts", ".tsx", ".mts", ".cts", ".js", ".mjs", ".cjs", ".jsx", ".json"]

/** The files a relative specifier may name, in the order they are tried. */
const candidates = (from: string, specifier: string): ReadonlyArray<string> => {
  const base = path.resolve(path.dirname(from), specifier)
  const out = [base]
  const ext = path.extname(base)
  if (ext === ".js" || ext === ".mjs" || ext === ".cjs" || ext === ".jsx") {
    const stem = base.slice(0, -ext.length)
    out.push(stem + ext.replace("j", "t"))
  }
  for (const e of extensions) out.push(base + e)
  for (const e of extensions) out.push(path.join(base, "index" + e))
  return out
}

const isFile = (file: string): boolean => {
  try {
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

/** The relative specifiers a module's text imports (comments are not parsed out: a commented import counts, safely). */
export const importsOf = (text: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const match of text.matchAll(specifiers)) {
    const specifier = match[2]!
    if (specifier.startsWith("./") || specifier.startsWith("../")) out.push(specifier)
  }
  return out
}

/**
 * `entry` and every local module it reaches, sorted by path, each with its content's hash. Paths are relative to
 * `root`; a module outside `root` keeps its absolute path. An import that resolves to nothing is ignored here (the
 * task file would not have loaded).
 */
export const modules = (entry: string, root: string): ReadonlyArray<Module> => {
  const seen = new Map<string, string>()
  const queue = [path.resolve(entry)]
  while (queue.length > 0) {
    const file = queue.pop()!
    if (seen.has(file)) continue
    let text: string
    try {
      text = fs.readFileSync(file, "utf8")
    } catch {
      continue
    }
    seen.set(file, crypto.createHash("sha256").update(text).digest("hex"))
    if (file.endsWith(".json")) continue
    for (const specifier of importsOf(text)) {
      const found = candidates(file, specifier).find(isFile)
      if (found !== undefined && !found.split(path.sep).includes("node_modules")) queue.push(found)
    }
  }
  return [...seen].map(([file, sha256]) => {
    const relative = path.relative(root, file)
    return { path: relative.startsWith("..") ? file : relative.split(path.sep).join("/"), sha256 }
  }).sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
}
