/**
 * Builds dist/, the bundle the runner starts from (src/bin.ts uses it while it is fresh): the runner's sources and
 * every public module of `effect` and `@effect/platform-node(-shared)` in a few files instead of hundreds.
 *
 * Layout: an entry file per public module (`dist/effect/Effect.js`, `dist/@effect/platform-node/NodeServices.js`;
 * a barrel such as `effect` or `effect/cli` as `dist/effect/index.js`, `dist/effect/cli/index.js`) and per source
 * file (`dist/src/Job.js`), which re-export from the chunks in `dist/chunks/`. The runner's modules are grouped by
 * when they are needed: `start` (the command line: every command loads it), `run` (running a task file) and
 * `commands` (the other commands and sources); the rest of Effect is split as its entry files need it, and loaded
 * only when a task file imports one of them. Each module is in exactly one file, so task files, which are served
 * these entry files for `effect/*`, `effect-runner` and the runner's own files, share the runner's module instances.
 * `dist/served.json` maps each served name (`effect/Effect`, `effect-runner`, `src/Job.ts`) to its entry file;
 * `dist/manifest.json` lists the build's inputs and when it started, for src/bin.ts's freshness check.
 *
 * Run: node scripts/build.ts (the `prepare` script: `npm ci` and `npm run build` run it).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { type Plugin, rolldown } from "rolldown"
import { entryPoints } from "../src/runtime/packageExports.ts"

const root = path.resolve(import.meta.dirname, "..")
const src = path.join(root, "src")
const dist = path.join(root, "dist")
const chunksDir = "chunks"
const shared = ["effect", "@effect/platform-node", "@effect/platform-node-shared"]
/** The module the runner starts from (it exports `start`), and the ones a run loads after it. */
const startModule = path.join(src, "cli/main.ts")
const runModules = ["cli/run.ts", "runtime/nodeHooks.ts", "runtime/bunPlugin.ts"].map((file) => path.join(src, file))

const started = Date.now()
const slash = (file: string): string => file.split(path.sep).join("/")

/** Every source file but the entry point, as `src/<path without .ts>` -> file. */
const sourceEntries = (): Record<string, string> => {
  const entries: Record<string, string> = {}
  for (const file of fs.readdirSync(src, { recursive: true }) as Array<string>) {
    const relative = slash(file)
    if (!relative.endsWith(".ts") || relative === "bin.ts") continue
    entries[`src/${relative.slice(0, -3)}`] = path.join(src, file)
  }
  return entries
}

interface PublicModule {
  readonly specifier: string
  readonly file: string
  /** Where it is served from, relative to dist/. */
  readonly served: string
}

/**
 * Every public module of the shared packages. A barrel (`index.js`: only `export * as X from "./X.js"` lines) is not
 * bundled but copied as `<specifier>/index.js`, where its relative imports name the entry files of its modules: its
 * namespaces are then those modules' own, and `effect/schema` and `effect/Schema` never share a file name.
 */
const publicModules = (): Array<PublicModule> =>
  shared.flatMap((name) =>
    // The real path: the bundler names modules by it, and a linked node_modules must not make one module two.
    [...entryPoints(fs.realpathSync(path.join(root, "node_modules", name)), ["import", "node", "default"])].map(([
      specifier,
      file
    ]) => ({
      specifier,
      file,
      served: file.endsWith(`${path.sep}index.js`) ? `${specifier}/index.js` : `${specifier}.js`
    }))
  )

const isBarrel = (module: PublicModule): boolean => module.served.endsWith("/index.js")

/**
 * `import.meta.url` in a source file means that file (cron prints the path of src/bin.ts, the loader recognises its
 * own frames): in the bundle it is rewritten to the source file's URL, computed from the chunk's own location.
 */
const sourceUrls: Plugin = {
  name: "effect-runner:source-urls",
  transform(code, id) {
    if (!id.startsWith(src + path.sep) || !code.includes("import.meta.url")) return null
    const relative = path.relative(path.join(dist, chunksDir), id).split(path.sep).join("/")
    return { code: code.replaceAll("import.meta.url", `new URL(${JSON.stringify(relative)}, import.meta.url).href`) }
  }
}

const inputOptions = {
  platform: "node" as const,
  // Runtime built-ins stay imports; everything else (Effect, undici, ws) is bundled.
  external: [/^node:/, /^bun:/],
  plugins: [sourceUrls],
  logLevel: "warn" as const
}

interface Graph {
  /** Static imports of each module. */
  readonly imports: Map<string, ReadonlyArray<string>>
  /** Every module reachable from the start module, lazily or not. */
  readonly all: Set<string>
}

/** Pass 1: the module graph of the runner, from its start module. */
const runnerGraph = async (): Promise<Graph> => {
  const imports = new Map<string, ReadonlyArray<string>>()
  const record: Plugin = {
    name: "effect-runner:record",
    buildEnd() {
      for (const id of this.getModuleIds()) imports.set(id, this.getModuleInfo(id)?.importedIds ?? [])
    }
  }
  const bundle = await rolldown({ ...inputOptions, plugins: [...inputOptions.plugins, record], input: { start: startModule } })
  await bundle.generate({ format: "es", codeSplitting: false })
  await bundle.close()
  return { imports, all: new Set(imports.keys()) }
}

/** The modules `roots` load statically, without `except`. */
const staticClosure = (graph: Graph, roots: ReadonlyArray<string>, except: ReadonlySet<string> = new Set()): Set<string> => {
  const found = new Set<string>()
  const stack = [...roots]
  while (stack.length > 0) {
    const id = stack.pop()!
    if (found.has(id) || except.has(id)) continue
    found.add(id)
    stack.push(...(graph.imports.get(id) ?? []))
  }
  return found
}

const build = async () => {
  const graph = await runnerGraph()
  const start = staticClosure(graph, [startModule])
  const run = staticClosure(graph, runModules, start)
  const isSource = (id: string) => id.startsWith(src + path.sep)
  const modules = publicModules()
  const entries: Record<string, string> = sourceEntries()
  for (const module of modules) if (!isBarrel(module)) entries[module.served.slice(0, -3)] = module.file
  const bundle = await rolldown({ ...inputOptions, input: entries, preserveEntrySignatures: "strict" })
  fs.rmSync(dist, { recursive: true, force: true })
  const { output } = await bundle.write({
    dir: dist,
    format: "es",
    entryFileNames: "[name].js",
    chunkFileNames: `${chunksDir}/[name].js`,
    // Class and function names are visible (error names, stack traces): keep them as in the sources.
    keepNames: true,
    // Effect's JSDoc is most of its size; the bundle is for running, not reading.
    comments: false,
    // A source with a non-ASCII character is held as UTF-16 and decoded more slowly: escape them.
    charset: "ascii",
    // Less text to read and hash at every start; names are kept (no mangling, no rewriting).
    minify: { compress: false, mangle: false, codegen: { removeWhitespace: true } },
    codeSplitting: {
      groups: [
        { name: "start", test: (id: string) => start.has(id), priority: 4 },
        { name: "run", test: (id: string) => run.has(id), priority: 3 },
        { name: "commands", test: (id: string) => graph.all.has(id) || isSource(id), priority: 2 }
      ]
    }
  })
  await bundle.close()
  for (const module of modules.filter(isBarrel)) copyBarrel(module)
  const inputs = new Set<string>([path.join(root, "package.json")])
  for (const chunk of output) {
    if (chunk.type !== "chunk") continue
    for (const id of chunk.moduleIds) if (path.isAbsolute(id) && !id.includes(`${path.sep}node_modules${path.sep}`)) inputs.add(id)
  }
  /** What a task file is served: a shared package's public specifier or a source file -> its entry file. */
  const served: Record<string, string> = { "effect-runner": "src/index.js" }
  for (const module of modules) served[module.specifier] = module.served
  for (const name of Object.keys(entries)) if (name.startsWith("src/")) served[`${name}.ts`] = `${name}.js`
  // Read at every start (src/bin.ts): kept small.
  const manifest = {
    /** When this build started: an input changed after it makes the bundle stale. */
    builtAt: started,
    /** The runner's files the bundle was built from (dependencies: node_modules/.package-lock.json). */
    inputs: [...inputs].map((file) => slash(path.relative(root, file))).sort()
  }
  fs.writeFileSync(path.join(dist, "manifest.json"), JSON.stringify(manifest, null, 1) + "\n")
  // Read when a task file is imported (src/runtime/nodeHooks.ts, bunPlugin.ts).
  fs.writeFileSync(path.join(dist, "served.json"), JSON.stringify(served, null, 1) + "\n")
  const chunks = output.filter((chunk) => chunk.type === "chunk" && chunk.fileName.startsWith(`${chunksDir}/`))
  const kib = (name: string) => {
    const chunk = chunks.find((c) => c.fileName === `${chunksDir}/${name}.js`)
    return `${name} ${chunk?.type === "chunk" ? Math.round(chunk.code.length / 1024) : 0} KiB`
  }
  process.stdout.write(
    `dist/: ${Object.keys(served).length} entry files; chunks ${["start", "run", "commands"].map(kib).join(", ")} ` +
      `and ${chunks.length - 3} more for the rest of Effect; built in ${Date.now() - started} ms\n`
  )
}

/** Copies a barrel next to the entry files of its modules, checking that each one it names exists. */
const copyBarrel = (module: PublicModule): void => {
  const target = path.join(dist, module.served)
  const code = fs.readFileSync(module.file, "utf8").replace(/^\/\/# sourceMappingURL=.*$/m, "")
  for (const [, imported] of code.matchAll(/\bfrom\s+"(\.[^"]+)"/g)) {
    if (!fs.existsSync(path.join(path.dirname(target), imported!))) {
      throw new Error(`${module.specifier}: its barrel imports ${imported}, which has no entry file`)
    }
  }
  fs.writeFileSync(target, code)
}

await build()
