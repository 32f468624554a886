/**
 * Node import hooks for task files: extensionless relative imports, `enum`/`namespace`/parameter properties (Node's
 * type stripping rejects them, so such files are transformed instead), and `effect`, `@effect/platform-node(-shared)`
 * and `effect-runner` resolved to the runner's own copy (installed, the user's: Effect is a peer dependency) so that
 * one process never holds two copies of Effect, wherever the task file lives. Deno runs these resolve hooks too (when
 * the runner runs compiled). In a clone running from dist/, a task file that imports one of the runner's source
 * files by path gets its compiled file instead.
 */
import * as fs from "node:fs"
import * as Module from "node:module"
import { fileURLToPath } from "node:url"

/** The runner's own code: src/ (a clone) or dist/ (compiled). */
const ownDir = new URL("../../", import.meta.url).href
const compiled = import.meta.url.endsWith(".js")
const indexUrl = new URL(compiled ? "../../index.js" : "../../index.ts", import.meta.url).href
const sources = new URL("../../../src/", import.meta.url).href
const shared = /^(effect|@effect\/platform-node(-shared)?)(\/.*)?$/
const typescript = /\.(c|m)?tsx?$/
const needsTransform = /\benum\s+[\w$]+\s*\{|\bnamespace\s+[\w$.]+\s*\{|\bmodule\s+[\w$.]+\s*\{|constructor\s*\([^)]*\b(public|private|protected|readonly)\s/
const candidates = [".ts", ".tsx", ".mts", "/index.ts", "/index.mts", ".js", ".mjs", "/index.js"]

type Resolve = Parameters<typeof Module.registerHooks>[0]["resolve"] & {}
type ResolveResult = ReturnType<Resolve>

/** Installs the hooks. */
export const register = (): void => {
  const deno = "Deno" in globalThis
  Module.registerHooks({
    resolve(specifier, context, next) {
      const parent = context.parentURL
      if (parent === undefined || parent.startsWith(ownDir)) return next(specifier, context)
      if (specifier === "effect-runner") {
        return { url: indexUrl, format: compiled ? "module" : "module-typescript", shortCircuit: true }
      }
      if (shared.test(specifier)) return { url: import.meta.resolve(specifier), shortCircuit: true }
      const resolved = resolveLocal(specifier, context, next)
      return compiled ? compiledInstead(resolved) : resolved
    },
    // Deno strips types itself, enums and all.
    ...(deno ? {} : { load })
  })
}

/** A source file of the runner (`<clone>/src/Job.ts`) -> its compiled file, when the runner runs compiled. */
const compiledInstead = (resolved: ResolveResult): ResolveResult => {
  if (!resolved.url.startsWith(sources) || !resolved.url.endsWith(".ts")) return resolved
  const url = ownDir + resolved.url.slice(sources.length, -3) + ".js"
  return fs.existsSync(fileURLToPath(url)) ? { url, format: "module", shortCircuit: true } : resolved
}

/** Normal resolution, plus the extensions and index files that TypeScript lets an import leave out. */
const resolveLocal = (specifier: string, context: Parameters<Resolve>[1], next: Parameters<Resolve>[2]): ResolveResult => {
  try {
    return next(specifier, context)
  } catch (error) {
    const code = (error as { code?: string }).code
    const local = specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("file:")
    if (!local || (code !== "ERR_MODULE_NOT_FOUND" && code !== "ERR_UNSUPPORTED_DIR_IMPORT")) throw error
    const base = specifier.replace(/\.js$/, "")
    for (const suffix of candidates) {
      try {
        return next(base + suffix, context)
      } catch {
        // try the next candidate
      }
    }
    throw error
  }
}

const load: Parameters<typeof Module.registerHooks>[0]["load"] = (url, context, next) => {
  if (!url.startsWith("file:") || url.includes("/node_modules/") || !typescript.test(url)) return next(url, context)
  // Node's own loader strips types and rejects what needs a transform, so such files are read and transformed here.
  const source = fs.readFileSync(fileURLToPath(url), "utf8")
  if (!needsTransform.test(source)) return next(url, context)
  return { format: url.endsWith(".cts") ? "commonjs" : "module", source: transform(source, url), shortCircuit: true }
}

const transform = (source: string, url: string): string => {
  const emit = process.emitWarning
  // stripTypeScriptTypes warns that it is experimental on every call; the warning means nothing to task authors.
  process.emitWarning = () => {}
  try {
    return Module.stripTypeScriptTypes(source, { mode: "transform", sourceMap: true, sourceUrl: url })
  } finally {
    process.emitWarning = emit
  }
}
