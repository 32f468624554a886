/**
 * Monorepos: finds the packages of an npm, Yarn, Bun or pnpm workspace, loads their task files, and combines the
 * jobs they share into one DAG whose ids are `<package>#<job>`. A package's job runs after the same job of the
 * workspace packages it depends on (Turborepo's `^build`); typed `needs` that cross packages are kept as they are.
 *
 * The package order is expressed as ordinary `needs`: every planned job is a wrapper of the package's own job, with
 * the id `<package>#<job>`, its needs mapped to the wrappers of what it needs, and one extra need per package-order
 * edge, named `^<package>#<job>`. The wrapper removes those extra inputs before calling the job, so the job sees
 * exactly what its `needs` declare. Dag, the executor and the journal see an ordinary DAG and need no change.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { spawnSync } from "node:child_process"
import * as Dag from "./Dag.ts"
import {
  AffectedUnavailable,
  CycleDetected,
  DuplicateJobId,
  InvalidOption,
  MissingDependency,
  PackageCycle,
  PackageManifestInvalid,
  PackageNameDuplicate,
  PackageTaskFileInvalid,
  UnknownJob,
  UnknownPackage,
  WorkspaceGlobEmpty,
  WorkspaceInvalid,
  WorkspaceNotFound,
  type WorkspaceProblem
} from "./Errors.ts"
import * as shellProcess from "./internal/shell.ts"
import * as Job from "./Job.ts"
import * as Loader from "./internal/Loader.ts"
import * as render from "./internal/render.ts"

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

/** What `--affected` found. */
export interface Affected {
  readonly base: string
  readonly head: string
  /** The packages with changed files, and every package that depends on them. */
  readonly packages: ReadonlySet<string>
  /** The packages whose own files changed. */
  readonly changed: ReadonlyArray<string>
  /** How many changed files lie outside every package (they select nothing). */
  readonly outside: number
}

/**
 * The packages with files changed between `base` and `head` (default: the working tree, uncommitted and untracked
 * files included) and every package depending on them. Default base: the merge base of HEAD with the default
 * branch (origin/HEAD, else main, else master), else HEAD^. Fails when git cannot answer; never guesses.
 */
export const affected = (
  workspace: Workspace,
  options: { readonly base?: string | undefined; readonly head?: string | undefined } = {}
): Effect.Effect<Affected, AffectedUnavailable> =>
  Effect.suspend(() => {
    const git = (...args: ReadonlyArray<string>) => {
      const result = spawnSync("git", ["-C", workspace.root, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      if (result.error !== undefined) return { ok: false, out: "", err: result.error.message } as const
      return { ok: result.status === 0, out: result.stdout.trim(), err: result.stderr.trim() } as const
    }
    const fail = (reason: string) => Effect.fail(new AffectedUnavailable({ reason }))
    const top = git("rev-parse", "--show-toplevel")
    if (!top.ok) return fail(`${workspace.root} is not in a git repository (${render.firstLine(top.err) || "git failed"})`)
    const commit = (ref: string) => git("rev-parse", "--verify", "--quiet", `${ref}^{commit}`)
    if (options.head !== undefined && !commit(options.head).ok) return fail(`unknown ref "${options.head}" (--head)`)
    let base = options.base
    if (base !== undefined) {
      if (!commit(base).ok) return fail(`unknown ref "${base}" (--base)`)
    } else {
      if (git("rev-parse", "--is-shallow-repository").out === "true") {
        return fail("this is a shallow clone, so the merge base with the default branch cannot be trusted " +
          "(fetch more history, e.g. `git fetch --unshallow`, or pass --base REF)")
      }
      const origin = git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")
      const branch = [origin.ok ? origin.out : undefined, "main", "master"].find((ref) => ref !== undefined && commit(ref).ok)
      const head = options.head ?? "HEAD"
      if (branch !== undefined) {
        const mergeBase = git("merge-base", branch, head)
        if (!mergeBase.ok) return fail(`no merge base between ${branch} and ${head}`)
        base = mergeBase.out
      } else {
        if (!commit(`${head}^`).ok) return fail(`no default branch (origin/HEAD, main, master) and ${head} has no parent commit to compare with`)
        base = `${head}^`
      }
    }
    const diff = options.head === undefined ? git("diff", "--name-only", "-z", base) : git("diff", "--name-only", "-z", base, options.head)
    if (!diff.ok) return fail(`git diff failed: ${render.firstLine(diff.err)}`)
    const untracked = options.head === undefined ? git("ls-files", "--others", "--exclude-standard", "--full-name", "-z") : undefined
    // NUL-separated: file names are given as they are (no quoting of unusual characters).
    const files = [...diff.out.split("\0"), ...(untracked?.out.split("\0") ?? [])].filter((f) => f !== "")
    const toplevel = fs.realpathSync(top.out)
    const byDepth = [...workspace.packages].sort((a, b) => b.dir.length - a.dir.length)
    const changed = new Set<string>()
    let outside = 0
    for (const file of files) {
      const absolute = path.join(toplevel, file)
      const owner = byDepth.find((p) => absolute.startsWith(p.dir + path.sep))
      if (owner === undefined) outside++
      else changed.add(owner.name)
    }
    const changedNames = workspace.packages.map((p) => p.name).filter((name) => changed.has(name))
    const packages = new Set([...changedNames, ...closure(workspace, changedNames, "dependents")])
    return Effect.succeed({ base, head: options.head ?? "the working tree", packages, changed: changedNames, outside })
  })

/** A workspace with its task files loaded: each job and the package it belongs to. */
export interface Loaded {
  readonly workspace: Workspace
  /** Each package's jobs by id. */
  readonly jobs: ReadonlyMap<string, ReadonlyMap<string, Job.Any>>
  /** The package each job belongs to. */
  readonly owner: ReadonlyMap<Job.Any, Package>
}

/**
 * Imports every package's task files (see `Loader.load`) and finds the package each job belongs to: the package
 * whose task files include it; when several do (one imports the other's job), the one whose folder holds the code
 * that defined it. Every file that fails to load or plan is reported, all at once.
 */
export const load = (workspace: Workspace): Effect.Effect<Loaded, WorkspaceInvalid> =>
  Effect.gen(function*() {
    const problems: Array<WorkspaceProblem> = []
    const candidates = new Map<Job.Any, Array<Package>>()
    const files = workspace.packages.flatMap((pkg) => pkg.taskFiles.map((absolute) => ({ pkg, absolute })))
    // Imported concurrently (the runtime overlaps reading and compiling them); results are used in package order.
    const results = yield* Effect.forEach(files, ({ absolute, pkg }) => {
      const file = path.relative(process.cwd(), absolute) || absolute
      return Loader.load(file).pipe(
        Effect.flatMap((loaded) => reachable(loaded.dag)),
        Effect.mapError((error) => new PackageTaskFileInvalid({ pkg: pkg.name, file, reason: error.message })),
        Effect.result
      )
    }, { concurrency: 16 })
    results.forEach((result, i) => {
      if (result._tag === "Failure") return void problems.push(result.failure)
      const { pkg } = files[i]!
      for (const job of result.success) {
        const list = candidates.get(job) ?? []
        if (!list.includes(pkg)) list.push(pkg)
        candidates.set(job, list)
      }
    })
    const owner = new Map<Job.Any, Package>()
    const jobs = new Map<string, Map<string, Job.Any>>(workspace.packages.map((p) => [p.name, new Map()]))
    for (const [job, list] of candidates) {
      const pkg = list.length === 1 ? list[0]! : definingPackage(job, list) ?? list[0]!
      owner.set(job, pkg)
      const own = jobs.get(pkg.name)!
      const twin = own.get(job.id)
      if (twin !== undefined && twin !== job) {
        problems.push(new DuplicateJobId({ jobId: `${pkg.name}#${job.id}`, places: [twin.definedAt ?? "?", job.definedAt ?? "?"] }))
      }
      own.set(job.id, job)
    }
    if (problems.length > 0) return yield* new WorkspaceInvalid({ root: workspace.root, problems })
    return { workspace, jobs, owner }
  })

/**
 * The jobs of a task file's DAG and all they need. Not `Dag.plan`: a package's job may need another package's job
 * with the same id (app's `build` needs core's `build`), which is a duplicate only within one package.
 */
const reachable = (dag: Dag.Dag): Effect.Effect<ReadonlyArray<Job.Any>, MissingDependency> =>
  Effect.suspend(() => {
    const seen = new Set<Job.Any>()
    const queue = [...dag.jobs]
    while (queue.length > 0) {
      const job = queue.pop()!
      if (seen.has(job)) continue
      seen.add(job)
      for (const [name, need] of Object.entries(job.needs)) {
        if (!Job.isJob(need)) {
          const found = need === undefined ? "undefined" : need === null ? "null" : typeof need
          return Effect.fail(new MissingDependency({ jobId: job.id, need: name, found }))
        }
        queue.push(need)
      }
    }
    return Effect.succeed([...seen])
  })

/** The package whose folder holds the innermost call site of the job's definition, among the candidates. */
const definingPackage = (job: Job.Any, candidates: ReadonlyArray<Package>): Package | undefined => {
  const byDepth = [...candidates].sort((a, b) => b.dir.length - a.dir.length)
  for (const site of job.definedVia) {
    const file = path.resolve(site.replace(/:\d+:\d+$/, ""))
    const pkg = byDepth.find((p) => file.startsWith(p.dir + path.sep))
    if (pkg !== undefined) return pkg
  }
  return undefined
}

/** What the workspace DAG knows about one of its jobs. */
export interface JobInfo {
  /** The package the job belongs to. */
  readonly pkg: string
  /** The job as its task file defines it. */
  readonly original: Job.Any
  /** The names of the needs that are package-order edges (`^<package>#<job>`), not typed inputs. */
  readonly ordering: ReadonlySet<string>
}

const infos = new WeakMap<Job.Any, JobInfo>()

/** The package and package-order edges of a job of a workspace DAG; undefined for any other job. */
export const info = (job: Job.Any): JobInfo | undefined => infos.get(job)

/** The combined jobs: the requested ones per selected package, and the way to the wrapper of any loaded job. */
export interface Combined {
  /** Job `<pkg>#<id>` for each requested id and each selected package that has it, in package order. */
  readonly jobs: ReadonlyArray<Job.Any>
  /** The workspace job (`<pkg>#<id>`, with its package-order edges) for a job of a package's task file. */
  readonly of: <A, E, R>(job: Job.Job<A, E, R>) => Job.Job<A, E, R>
}

/**
 * Combines the loaded jobs: for each id in `ids` and each package in `packages` (default: all) that has a job with
 * that id, job `<pkg>#<id>`. Each needs, besides its own typed needs (whatever package they belong to, selected or
 * not), the same job of the nearest selected packages it depends on that have one. Fails with UnknownJob when no
 * package at all has one of the ids, and with CycleDetected when the package order and typed needs form a cycle.
 */
export const combine = (
  loaded: Loaded,
  ids: ReadonlyArray<string>,
  packages?: ReadonlySet<string>
): Effect.Effect<Combined, UnknownJob | CycleDetected | InvalidOption> =>
  Effect.suspend((): Effect.Effect<Combined, UnknownJob | CycleDetected | InvalidOption> => {
    const { workspace } = loaded
    const isSelected = (name: string) => packages === undefined || packages.has(name)
    const byName = new Map(workspace.packages.map((p) => [p.name, p]))
    const requested = new Set(ids)
    // A job no package has is a mistake; a job only unselected packages have is not (--affected often leaves none).
    const missing = ids.filter((id) => !workspace.packages.some((p) => loaded.jobs.get(p.name)!.has(id)))
    if (missing.length > 0) {
      const available = workspace.packages.flatMap((p) => [...loaded.jobs.get(p.name)!.keys()].map((id) => `${p.name}#${id}`))
      return Effect.fail(new UnknownJob({ names: missing, available }))
    }
    // The nearest packages below `pkg` that are selected and have job `id` (walking through those that are not).
    const orderTargets = (pkg: Package, id: string): ReadonlyArray<Job.Any> => {
      const out: Array<Job.Any> = []
      const seen = new Set<string>()
      const walk = (p: Package) => {
        for (const depName of p.dependsOn) {
          if (seen.has(depName)) continue
          seen.add(depName)
          const dep = byName.get(depName)!
          const job = loaded.jobs.get(depName)!.get(id)
          if (job !== undefined && isSelected(depName)) out.push(job)
          else walk(dep)
        }
      }
      walk(pkg)
      return out
    }
    const wrappers = new Map<Job.Any, Job.Any>()
    const stack: Array<Job.Any> = []
    const wrap = (job: Job.Any): Job.Any | CycleDetected => {
      const done = wrappers.get(job)
      if (done !== undefined) return done
      const pkg = loaded.owner.get(job)
      if (pkg === undefined) {
        throw new InvalidOption({ where: `job "${job.id}"`, reason: "is not a job of any workspace package's task files" })
      }
      const id = `${pkg.name}#${job.id}`
      if (stack.includes(job)) {
        const from = stack.indexOf(job)
        return new CycleDetected({ path: [...stack.slice(from), job].map((j) => `${loaded.owner.get(j)!.name}#${j.id}`) })
      }
      stack.push(job)
      const needs: Record<string, Job.Any> = {}
      for (const [name, need] of Object.entries(job.needs)) {
        const wrapped = wrap(need)
        if (!("run" in wrapped)) return wrapped
        needs[name] = wrapped
      }
      const ordering = new Set<string>()
      if (requested.has(job.id) && isSelected(pkg.name)) {
        for (const target of orderTargets(pkg, job.id)) {
          if (Object.values(job.needs).includes(target)) continue
          const wrapped = wrap(target)
          if (!("run" in wrapped)) return wrapped
          const name = `^${wrapped.id}`
          ordering.add(name)
          needs[name] = wrapped
        }
      }
      stack.pop()
      const wrapper = wrapJob(job, id, pkg, needs, ordering)
      infos.set(wrapper, { pkg: pkg.name, original: job, ordering })
      wrappers.set(job, wrapper)
      return wrapper
    }
    const jobs: Array<Job.Any> = []
    for (const pkg of workspace.packages) {
      if (!isSelected(pkg.name)) continue
      for (const id of ids) {
        const job = loaded.jobs.get(pkg.name)!.get(id)
        if (job === undefined) continue
        const wrapped = wrap(job)
        if (!("run" in wrapped)) return Effect.fail(wrapped)
        jobs.push(wrapped)
      }
    }
    const of = <A, E, R>(job: Job.Job<A, E, R>): Job.Job<A, E, R> => {
      const wrapped = wrap(job)
      if (!("run" in wrapped)) throw wrapped
      return wrapped
    }
    return Effect.succeed({ jobs, of })
  }).pipe(Effect.catchDefect((defect) => defect instanceof InvalidOption ? Effect.fail(defect) : Effect.die(defect)))

/**
 * The job as the workspace runs it: id `<pkg>#<id>`, needs mapped, the package-order inputs removed before it runs.
 * A shell job runs in its package's folder unless it set `cwd` (a relative `cwd` is taken from the package folder).
 */
const wrapJob = (
  job: Job.Any,
  id: string,
  pkg: Package,
  needs: Record<string, Job.Any>,
  ordering: ReadonlySet<string>
): Job.Any => {
  const own = (inputs: Record<string, unknown>): Record<string, unknown> => {
    if (ordering.size === 0) return inputs
    // The config reaches a job through the prototype of its inputs (see the executor): keep it.
    const kept: Record<string, unknown> = Object.create(Object.getPrototypeOf(inputs))
    for (const key of Object.keys(inputs)) if (!ordering.has(key)) kept[key] = inputs[key]
    return kept
  }
  const definition = job.shell
  const shell = definition === undefined ? undefined : {
    ...definition,
    cwd: definition.cwd === undefined ? pkg.dir : path.resolve(pkg.dir, definition.cwd)
  }
  const run: Job.Any["run"] = shell === undefined
    ? (inputs) => job.run(own(inputs))
    : (inputs) => {
      const values = own(inputs)
      const argv = typeof shell.argv === "function" ? shell.argv(values) : shell.argv
      const env = typeof shell.env === "function" ? shell.env(values) : shell.env
      return shellProcess.run(id, argv, { cwd: shell.cwd, env })
    }
  // The journal's definition hash reads the source of `run`: it must stay the job's own.
  Object.defineProperty(run, "toString", { value: () => job.run.toString() })
  // Copies the descriptors, so `definedAt` stays a lazy getter.
  return Object.create(Object.getPrototypeOf(job), {
    ...Object.getOwnPropertyDescriptors(job),
    id: { value: id, enumerable: true },
    needs: { value: needs, enumerable: true },
    shell: { value: shell, enumerable: true },
    run: { value: run, enumerable: true }
  })
}

/** Options of `Workspace.jobs`. */
export interface JobsOptions {
  /** The workspace root, or a folder inside it. Default: the current directory (the root is found above it). */
  readonly root?: string
  /** Package filters, as `--filter` takes them. Default: every package. */
  readonly filter?: ReadonlyArray<string>
}

/** The workspace jobs, ready for `Dag.make`, and `of(job)` for the workspace job of a job a package exports. */
export type Jobs = ReadonlyArray<Job.Job<unknown, unknown, any>> & Pick<Combined, "of">

/**
 * For a root task file: job `<pkg>#<id>` of every package that has job `id`, with the package-order edges, to put
 * in a `Dag.make` beside the repository's own jobs: `Dag.make("ci", [...await Workspace.jobs("build"), deploy])`.
 *
 * Their outputs are `unknown`: which packages have the job is known only when the workspace is read. For a typed
 * output, import the package's job and need `ws.of(job)`, which has that job's type.
 *
 * Gotcha: call it from a task file outside the packages' task files (a package's task file would load itself).
 */
export const jobs = (ids: string | ReadonlyArray<string>, options: JobsOptions = {}): Promise<Jobs> =>
  Effect.runPromise(Effect.gen(function*() {
    const root = yield* findRoot(options.root)
    const workspace = yield* discover(root)
    const selected = options.filter === undefined || options.filter.length === 0
      ? undefined
      : yield* select(workspace, options.filter)
    const loaded = yield* load(workspace)
    const combined = yield* combine(loaded, typeof ids === "string" ? [ids] : ids, selected)
    return Object.assign([...combined.jobs], { of: combined.of })
  }))
