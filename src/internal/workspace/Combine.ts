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
import * as path from "node:path"
import * as Dag from "../../Dag.ts"
import * as Plan from "../Plan.ts"
import {
  CycleDetected,
  DuplicateJobId,
  InvalidOption,
  MissingDependency,
  PackageTaskFileInvalid,
  UnknownJob,
  WorkspaceInvalid,
  type WorkspaceProblem
} from "../../Errors.ts"
import * as shellProcess from "../shell.ts"
import * as Job from "../../Job.ts"
import * as define from "../define.ts"
import * as Loader from "../Loader.ts"
import type { Package, Workspace } from "./Discovery.ts"

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
    // A job reached from several packages belongs to the one it was defined in, told by its call sites: recorded
    // for every job here, past the first 1,000 too (internal/define.ts).
    const recording = define.recordAllSites(true)
    // Imported concurrently (the runtime overlaps reading and compiling them); results are used in package order.
    const results = yield* Effect.forEach(files, ({ absolute, pkg }) => {
      const file = path.relative(process.cwd(), absolute) || absolute
      return Loader.load(file).pipe(
        Effect.flatMap((loaded) => reachable(loaded.dag)),
        Effect.mapError((error) => new PackageTaskFileInvalid({ pkg: pkg.name, file, reason: error.message })),
        Effect.result
      )
    }, { concurrency: 16 }).pipe(Effect.ensuring(Effect.sync(() => define.recordAllSites(recording))))
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
 * The jobs of a task file's DAG and all they need. Not `Plan.plan`: a package's job may need another package's job
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
 * A shell job runs in its package's folder unless it set `cwd` (a relative `cwd` is taken from the package folder);
 * a cached job's `files` and `outputs` are read from the package folder.
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
    run: { value: run, enumerable: true },
    // A cached job's `files` and `outputs` are globs relative to its package's folder.
    cache: { value: job.cache === false || job.cache === undefined ? job.cache : { ...job.cache, root: pkg.dir }, enumerable: true }
  })
}

