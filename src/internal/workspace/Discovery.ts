/**
 * Finds a workspace (npm, Yarn, Bun or pnpm) and its packages: each package's manifest, task files and workspace
 * dependencies, in dependency order; `--filter` selection and dependency closures over them.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import {
  PackageCycle,
  PackageManifestInvalid,
  PackageNameDuplicate,
  UnknownPackage,
  WorkspaceGlobEmpty,
  WorkspaceInvalid,
  WorkspaceNotFound,
  type WorkspaceProblem
} from "../../Errors.ts"

/** A workspace package. */
export interface Package {
  /** Its package.json `name`. */
  readonly name: string
  /** Its folder, absolute, symbolic links resolved. */
  readonly dir: string
  /** Its folder relative to the workspace root. */
  readonly relativeDir: string
  /** The workspace packages it names in `dependencies`, `devDependencies` or `peerDependencies`. */
  readonly dependsOn: ReadonlyArray<string>
  /** Its task files, absolute: the `.ts` files of `tasks/`, or those its package.json `"effect-runner": { "tasks" }` names. */
  readonly taskFiles: ReadonlyArray<string>
}

export interface Workspace {
  /** The root folder, absolute. */
  readonly root: string
  /** Where the package patterns came from. */
  readonly source: "package.json" | "pnpm-workspace.yaml"
  /** Every package after those it depends on (and otherwise in the order of their folders). */
  readonly packages: ReadonlyArray<Package>
}

/** The nearest folder, from `from` up, with a package.json that has `workspaces` or with a pnpm-workspace.yaml. */
export const findRoot = (from: string = process.cwd()): Effect.Effect<string, WorkspaceNotFound> =>
  Effect.suspend(() => {
    for (let dir = path.resolve(from);; dir = path.dirname(dir)) {
      if (fs.existsSync(path.join(dir, "pnpm-workspace.yaml"))) return Effect.succeed(dir)
      const manifest = readJson(path.join(dir, "package.json"))
      if (typeof manifest === "object" && manifest !== null && "workspaces" in manifest) return Effect.succeed(dir)
      if (path.dirname(dir) === dir) return Effect.fail(new WorkspaceNotFound({ from: path.resolve(from) }))
    }
  })

/** Finds the workspace's packages and their task files. Every problem is reported, all at once. */
export const discover = (root: string): Effect.Effect<Workspace, WorkspaceInvalid> =>
  Effect.gen(function*() {
    const problems: Array<WorkspaceProblem> = []
    const absoluteRoot = fs.realpathSync(path.resolve(root))
    const { patterns, source } = readPatterns(absoluteRoot, problems)
    const manifests = yield* Effect.promise(() => matchPackages(absoluteRoot, patterns, source, problems))
    const packages: Array<Package & { readonly manifest: string; readonly deps: ReadonlyArray<string> }> = []
    const byName = new Map<string, Array<string>>()
    for (const manifestPath of manifests) {
      const relativeManifest = path.relative(absoluteRoot, manifestPath)
      const manifest = readJson(manifestPath)
      if (manifest instanceof Error || typeof manifest !== "object" || manifest === null || Array.isArray(manifest)) {
        problems.push(new PackageManifestInvalid({
          manifest: relativeManifest,
          reason: manifest instanceof Error ? `not valid JSON: ${manifest.message}` : "is not a JSON object"
        }))
        continue
      }
      const record = manifest as Record<string, unknown>
      const name = record["name"]
      if (typeof name !== "string" || name.trim() === "") {
        problems.push(new PackageManifestInvalid({
          manifest: relativeManifest,
          reason: "has no \"name\"; every workspace package needs one (its jobs are named <name>#<job>)"
        }))
        continue
      }
      byName.set(name, [...byName.get(name) ?? [], relativeManifest])
      const dir = path.dirname(manifestPath)
      const taskFiles = yield* Effect.promise(() => findTaskFiles(dir, relativeManifest, record["effect-runner"], problems))
      const deps = ["dependencies", "devDependencies", "peerDependencies"].flatMap((field) => {
        const value = record[field]
        return typeof value === "object" && value !== null ? Object.keys(value) : []
      })
      packages.push({ name, dir, relativeDir: path.relative(absoluteRoot, dir) || ".", manifest: relativeManifest, deps, dependsOn: [], taskFiles })
    }
    for (const [name, places] of byName) {
      if (places.length > 1) problems.push(new PackageNameDuplicate({ name, manifests: places }))
    }
    const names = new Set(byName.keys())
    const resolved = packages.map((p): Package => ({
      name: p.name,
      dir: p.dir,
      relativeDir: p.relativeDir,
      dependsOn: [...new Set(p.deps.filter((d) => names.has(d) && d !== p.name))].sort(),
      taskFiles: p.taskFiles
    }))
    const ordered = packageOrder(resolved, problems)
    if (problems.length > 0) return yield* new WorkspaceInvalid({ root: absoluteRoot, problems })
    return { root: absoluteRoot, source, packages: ordered }
  })

/** The workspace's package patterns: pnpm-workspace.yaml's `packages`, else package.json's `workspaces`. */
const readPatterns = (
  root: string,
  problems: Array<WorkspaceProblem>
): { readonly patterns: ReadonlyArray<string>; readonly source: Workspace["source"] } => {
  const yaml = path.join(root, "pnpm-workspace.yaml")
  if (fs.existsSync(yaml)) {
    const patterns = pnpmPackages(fs.readFileSync(yaml, "utf8"))
    if (patterns === undefined) {
      problems.push(new PackageManifestInvalid({ manifest: "pnpm-workspace.yaml", reason: "has no `packages:` list of folder patterns" }))
    }
    return { patterns: patterns ?? [], source: "pnpm-workspace.yaml" }
  }
  const manifest = readJson(path.join(root, "package.json"))
  const field = typeof manifest === "object" && manifest !== null && !(manifest instanceof Error)
    ? (manifest as Record<string, unknown>)["workspaces"]
    : undefined
  // npm and Bun: an array; Yarn also accepts { packages: [...], nohoist: [...] }.
  const list = Array.isArray(field) ? field : (field as { packages?: unknown } | null)?.packages
  if (!Array.isArray(list) || list.some((p) => typeof p !== "string")) {
    problems.push(new PackageManifestInvalid({
      manifest: "package.json",
      reason: "\"workspaces\" must be an array of folder patterns, or { \"packages\": [...] }"
    }))
    return { patterns: [], source: "package.json" }
  }
  return { patterns: list as ReadonlyArray<string>, source: "package.json" }
}

/**
 * The `packages:` list of a pnpm-workspace.yaml, block (`- "packages/*"`) or flow (`[a, b]`) style. Only that key is
 * read (pnpm's other keys, catalogs and settings, do not concern the runner), so no YAML parser is needed.
 */
export const pnpmPackages = (text: string): ReadonlyArray<string> | undefined => {
  const lines = text.split(/\r?\n/)
  const start = lines.findIndex((line) => /^packages\s*:/.test(line))
  if (start === -1) return undefined
  const unquote = (s: string) => s.trim().replace(/^(['"])(.*)\1$/, "$2")
  const rest = lines[start]!.replace(/^packages\s*:/, "").replace(/\s+#.*$/, "").trim()
  if (rest.startsWith("[")) {
    return rest.replace(/^\[|\]$/g, "").split(",").map(unquote).filter((s) => s !== "")
  }
  const patterns: Array<string> = []
  for (const line of lines.slice(start + 1)) {
    if (/^\s*(#.*)?$/.test(line)) continue
    const item = /^\s+-\s*(.*?)\s*(?:\s#.*)?$/.exec(line)
    if (item === null) break
    patterns.push(unquote(item[1]!))
  }
  return patterns
}

/** The package.json files of the folders the patterns match (negations, `!pattern`, remove folders). */
const matchPackages = async (
  root: string,
  patterns: ReadonlyArray<string>,
  source: string,
  problems: Array<WorkspaceProblem>
): Promise<ReadonlyArray<string>> => {
  const found = new Set<string>()
  const excluded = new Set<string>()
  for (const raw of patterns) {
    const negated = raw.startsWith("!")
    const pattern = raw.slice(negated ? 1 : 0).replace(/^\.\//, "").replace(/\/+$/, "")
    const manifests = await glob(root, pattern === "" || pattern === "." ? "package.json" : `${pattern}/package.json`)
    if (negated) manifests.forEach((m) => excluded.add(m))
    else if (manifests.length === 0) problems.push(new WorkspaceGlobEmpty({ pattern: raw, source: `${source} workspaces` }))
    else manifests.forEach((m) => found.add(m))
  }
  const rootManifest = path.join(root, "package.json")
  return [...found].filter((m) => !excluded.has(m) && m !== rootManifest).sort()
}

/** A package's task files: its package.json's `"effect-runner": { "tasks": [...] }` patterns, else `tasks/*.ts`. */
const findTaskFiles = async (
  dir: string,
  manifest: string,
  field: unknown,
  problems: Array<WorkspaceProblem>
): Promise<ReadonlyArray<string>> => {
  const isTs = (file: string) => /\.[cm]?tsx?$/.test(file) && !/\.d\.[cm]?tsx?$/.test(file)
  if (field === undefined) return (await glob(dir, "tasks/*.ts")).filter(isTs)
  const patterns = (field as { tasks?: unknown } | null)?.tasks
  if (!Array.isArray(patterns) || patterns.some((p) => typeof p !== "string" || p === "")) {
    problems.push(new PackageManifestInvalid({
      manifest,
      reason: "\"effect-runner\" must be { \"tasks\": [\"<pattern>\", ...] } (task file patterns relative to the package)"
    }))
    return []
  }
  const files = new Set<string>()
  for (const pattern of patterns as ReadonlyArray<string>) {
    const matched = (await glob(dir, pattern)).filter(isTs)
    if (matched.length === 0) problems.push(new WorkspaceGlobEmpty({ pattern, source: `${manifest} "effect-runner".tasks` }))
    matched.forEach((file) => files.add(file))
  }
  return [...files].sort()
}

/** node:fs/promises `glob` (Node >= 22, Bun and Deno have it), never entering node_modules; absolute, real paths. */
const glob = async (cwd: string, pattern: string): Promise<ReadonlyArray<string>> => {
  const out: Array<string> = []
  for await (const file of fsp.glob(pattern, { cwd, exclude: (name) => path.basename(String(name)) === "node_modules" })) {
    out.push(fs.realpathSync(path.resolve(cwd, String(file))))
  }
  return out.sort()
}

/** The parsed JSON file; an Error when it is not JSON; undefined when it cannot be read. */
const readJson = (file: string): unknown => {
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error))
  }
}

/** Packages in dependency order; a cycle is a problem (each reported once, with its path). */
const packageOrder = (packages: ReadonlyArray<Package>, problems: Array<WorkspaceProblem>): ReadonlyArray<Package> => {
  const byName = new Map(packages.map((p) => [p.name, p]))
  const state = new Map<string, "visiting" | "done">()
  const stack: Array<string> = []
  const order: Array<Package> = []
  const visit = (p: Package) => {
    const seen = state.get(p.name)
    if (seen === "done") return
    if (seen === "visiting") {
      problems.push(new PackageCycle({ path: [...stack.slice(stack.indexOf(p.name)), p.name] }))
      return
    }
    state.set(p.name, "visiting")
    stack.push(p.name)
    for (const dep of p.dependsOn) visit(byName.get(dep)!)
    stack.pop()
    state.set(p.name, "done")
    order.push(p)
  }
  packages.forEach(visit)
  return order
}

/** The packages `--filter` selects: `name`, `name...` (and its dependencies), `...name` (and its dependents), globs. */
export const select = (
  workspace: Workspace,
  filters: ReadonlyArray<string>
): Effect.Effect<ReadonlySet<string>, UnknownPackage> =>
  Effect.suspend(() => {
    const selected = new Set<string>()
    const unknown: Array<string> = []
    for (const filter of filters) {
      const dependents = filter.startsWith("...")
      const dependencies = filter.endsWith("...") && filter.length > 3
      const pattern = filter.replace(/^\.\.\./, "").replace(/\.\.\.$/, "")
      const matcher = nameMatcher(pattern)
      const matched = workspace.packages.filter((p) => matcher(p.name)).map((p) => p.name)
      if (matched.length === 0) unknown.push(filter)
      const add = [
        ...matched,
        ...(dependencies ? closure(workspace, matched, "dependencies") : []),
        ...(dependents ? closure(workspace, matched, "dependents") : [])
      ]
      add.forEach((name) => selected.add(name))
    }
    if (unknown.length > 0) {
      return Effect.fail(new UnknownPackage({ filters: unknown, available: workspace.packages.map((p) => p.name) }))
    }
    return Effect.succeed(selected)
  })

/** `*` matches any characters (so `@acme/*` matches every `@acme` package); anything else matches itself. */
const nameMatcher = (pattern: string): (name: string) => boolean => {
  if (!pattern.includes("*")) return (name) => name === pattern
  const regex = new RegExp(`^${pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`)
  return (name) => regex.test(name)
}

/** The packages the given ones depend on, or that depend on them, transitively (the given ones excluded). */
export const closure = (
  workspace: Workspace,
  names: ReadonlyArray<string>,
  direction: "dependencies" | "dependents"
): ReadonlyArray<string> => {
  const edges = new Map<string, Array<string>>(workspace.packages.map((p) => [p.name, []]))
  for (const p of workspace.packages) {
    for (const dep of p.dependsOn) {
      if (direction === "dependencies") edges.get(p.name)!.push(dep)
      else edges.get(dep)!.push(p.name)
    }
  }
  const seen = new Set<string>()
  const walk = (name: string) => {
    for (const next of edges.get(name) ?? []) {
      if (seen.has(next)) continue
      seen.add(next)
      walk(next)
    }
  }
  names.forEach(walk)
  return workspace.packages.map((p) => p.name).filter((name) => seen.has(name) && !names.includes(name))
}

