/**
 * Node import hooks for task files: extensionless relative imports, `enum`/`namespace`/parameter properties (Node's
 * type stripping rejects them, so such files are transformed instead), and `effect`/`effect-runner` imports
 * resolved to the runner's own copy so that one process never holds two copies of Effect. When the runner runs from
 * the bundle (dist/), its own copy is the bundle's: the shared packages and the runner's source files, whether named
 * by package or by path, are served the bundle's entry files. Deno runs these resolve hooks too (from the bundle only).
 */
import * as fs from "node:fs"
import * as Module from "node:module"
import { fileURLToPath } from "node:url"

const runnerRoot = new URL("../../", import.meta.url).href
// The example projects are the runner's users: their own package.json files hide the runner's self-reference.
const examples = new URL("../../examples/", import.meta.url).href
const indexUrl = new URL("../index.ts", import.meta.url).href
const shared = /^(effect|effect-runner|@effect\/platform-node(-shared)?)(\/.*)?$/
const packages = ["effect", "@effect/platform-node", "@effect/platform-node-shared"]
const typescript = /\.(c|m)?tsx?$/
const needsTransform = /\benum\s+[\w$]+\s*\{|\bnamespace\s+[\w$.]+\s*\{|\bmodule\s+[\w$.]+\s*\{|constructor\s*\([^)]*\b(public|private|protected|readonly)\s/
const candidates = [".ts", ".tsx", ".mts", "/index.ts", "/index.mts", ".js", ".mjs", "/index.js"]

type Resolve = Parameters<typeof Module.registerHooks>[0]["resolve"] & {}
type ResolveResult = ReturnType<Resolve>

/** Installs the hooks; `bundle` is the URL of dist/ when the runner runs from it. */
export const register = (bundle?: string): void => {
  const deno = "Deno" in globalThis
  const fromBundle = bundle === undefined ? undefined : bundleResolver(bundle)
  Module.registerHooks({
    resolve(specifier, context, next) {
      const parent = context.parentURL
      if (fromBundle !== undefined) {
        if (parent !== undefined && parent.startsWith(bundle!)) return next(specifier, context)
        return fromBundle(specifier) ?? fromBundle(resolveLocal(specifier, context, next))
      }
      if (shared.test(specifier) && parent !== undefined && (!parent.startsWith(runnerRoot) || parent.startsWith(examples))) {
        if (specifier === "effect-runner") return { url: indexUrl, format: "module-typescript", shortCircuit: true }
        return { url: import.meta.resolve(specifier), shortCircuit: true }
      }
      return resolveLocal(specifier, context, next)
    },
    // Deno strips types itself, enums and all.
    ...(deno ? {} : { load })
  })
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

/**
 * Serves the bundle's entry files (listed in its served.json) for `effect/Effect`, `effect-runner`, ... and for a
 * resolved file of the runner's own copy (a shared package's module, a source file). A bare specifier the bundle
 * does not serve gives undefined; a resolved file it does not serve is returned as it is.
 */
const bundleResolver = (bundle: string) => {
  const served: Readonly<Record<string, string>> = JSON.parse(fs.readFileSync(new URL("served.json", bundle), "utf8"))
  const serve = (name: string): ResolveResult | undefined => {
    const file = Object.hasOwn(served, name) ? served[name] : undefined
    return file === undefined ? undefined : { url: bundle + file, format: "module", shortCircuit: true }
  }
  function resolve(specifier: string): ResolveResult | undefined
  function resolve(resolved: ResolveResult): ResolveResult
  function resolve(input: string | ResolveResult): ResolveResult | undefined {
    if (typeof input === "string") return shared.test(input) ? serve(input) : undefined
    if (!input.url.startsWith(runnerRoot)) return input
    const relative = input.url.slice(runnerRoot.length)
    if (relative.startsWith("src/")) return serve(relative) ?? input
    for (const name of packages) {
      const prefix = `node_modules/${name}/dist/`
      if (!relative.startsWith(prefix) || !relative.endsWith(".js")) continue
      const subpath = relative.slice(prefix.length, -3)
      return serve(subpath === "index" ? name : `${name}/${subpath.replace(/\/index$/, "")}`) ?? input
    }
    return input
  }
  return resolve
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
