/**
 * Node import hooks for task files: extensionless relative imports, `enum`/`namespace`/parameter properties (Node's
 * type stripping rejects them, so such files are transformed instead), and `effect`/`effect-runner` imports
 * resolved to the runner's own copy so that one process never holds two copies of Effect.
 */
import * as fs from "node:fs"
import * as Module from "node:module"
import { fileURLToPath } from "node:url"

const runnerRoot = new URL("../../", import.meta.url).href
const indexUrl = new URL("../index.ts", import.meta.url).href
const shared = /^(effect|effect-runner|@effect\/platform-node(-shared)?)(\/.*)?$/
const typescript = /\.(c|m)?tsx?$/
const needsTransform = /\benum\s+[\w$]+\s*\{|\bnamespace\s+[\w$.]+\s*\{|\bmodule\s+[\w$.]+\s*\{|constructor\s*\([^)]*\b(public|private|protected|readonly)\s/
const candidates = [".ts", ".tsx", ".mts", "/index.ts", "/index.mts", ".js", ".mjs", "/index.js"]

export const register = (): void => {
  Module.registerHooks({
    resolve(specifier, context, next) {
      const parent = context.parentURL
      if (shared.test(specifier) && parent !== undefined && !parent.startsWith(runnerRoot)) {
        if (specifier === "effect-runner") return { url: indexUrl, format: "module-typescript", shortCircuit: true }
        return { url: import.meta.resolve(specifier), shortCircuit: true }
      }
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
    },
    load(url, context, next) {
      if (!url.startsWith("file:") || url.includes("/node_modules/") || !typescript.test(url)) return next(url, context)
      // Node's own loader strips types and rejects what needs a transform, so such files are read and transformed here.
      const source = fs.readFileSync(fileURLToPath(url), "utf8")
      if (!needsTransform.test(source)) return next(url, context)
      return { format: url.endsWith(".cts") ? "commonjs" : "module", source: transform(source, url), shortCircuit: true }
    }
  })
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
