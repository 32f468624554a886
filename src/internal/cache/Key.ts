/**
 * A job's cache key: the manifest of everything its result depends on (see Manifest.ts). Made when the job is about
 * to start, once the outputs it needs are known: its id; its definition hash (the one resume compares); for code (an
 * Effect job, or a command whose argv or env is a function) the task file that defines it and every local module it
 * imports, transitively; each need's journaled output; each declared file's content; declared env values (as
 * digests); the nearest lockfile; the runner's version, the runtime and its version, the platform; `version`; the
 * run's partition key, when it has one.
 *
 * What a run computes once (the lockfile, each module graph) is kept in its `Context`, never between runs.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type * as Job from "../../Job.ts"
import * as Encoding from "../Encoding.ts"
import * as Runtime from "../runtime/Runtime.ts"
import * as FileHashes from "./FileHashes.ts"
import * as Manifest from "./Manifest.ts"
import * as ModuleGraph from "./ModuleGraph.ts"
import type * as Policy from "./Policy.ts"

/** What keys are computed with in one run. */
export interface Context {
  readonly runnerVersion: string
  /** The file-hash memo (the journal's). */
  readonly memo: FileHashes.Memo
  /** Each cached job's declared env values, as manifest parts (resolved before the run: see Preflight). */
  readonly env: ReadonlyMap<string, ReadonlyArray<Manifest.Part>>
  /** The folder relative paths are read from when a policy has no `root`. */
  readonly cwd: string
  /**
   * Where the run's DAG was made (`Dag.definedVia`): a job whose own call sites were not recorded (past the first
   * 1,000 of a stretch, internal/define.ts) counts the local modules of these files instead.
   */
  readonly dagDefinedVia: ReadonlyArray<string>
  /**
   * The run's slot key (see Partition), when it has one: a job may read its slot, so each slot has keys of its own
   * (a backfill of 30 days never reuses one day's output for another).
   */
  readonly partition: string | undefined
  /** The run's memo of module graphs and lockfiles, by absolute path. */
  readonly graphs: Map<string, ReadonlyArray<ModuleGraph.Module>>
  /** The module parts of the jobs defined from a set of files (joined by NUL), made once per run. */
  readonly moduleParts: Map<string, ReadonlyArray<Manifest.Part>>
  readonly lockfiles: Map<string, Manifest.Part | undefined>
}

export const context = (options: Omit<Context, "graphs" | "moduleParts" | "lockfiles">): Context => ({
  ...options,
  graphs: new Map(),
  moduleParts: new Map(),
  lockfiles: new Map()
})

/** The key could not be made trustworthily: the job runs, and its success is not kept. */
export interface Unusable {
  readonly _tag: "Unusable"
  readonly reason: string
}

export interface Keyed {
  readonly _tag: "Keyed"
  readonly manifest: Manifest.Manifest
  /** Globs of `files` that matched nothing (hashed as the empty set; the caller warns). */
  readonly unmatched: ReadonlyArray<string>
}

/**
 * The manifest of `job` with the journaled outputs of its needs (by the name it receives them under). `definitionHash`
 * is the job's, as the run computed it.
 */
export const make = (
  ctx: Context,
  job: Job.Any,
  policy: Policy.Policy,
  definitionHash: string,
  needs: ReadonlyArray<readonly [name: string, json: string | undefined]>
): Effect.Effect<Keyed | Unusable, FileHashes.FileUnreadable> =>
  Effect.gen(function*() {
    const parts: Array<Manifest.Part> = [
      { kind: "job", name: "", value: job.id },
      // Without its runtime field (`stable|runtime|code`): the runtime is a part of its own, named when it differs.
      { kind: "definition", name: "", value: withoutRuntime(definitionHash) }
    ]
    for (const [name, json] of needs) {
      const unrestorable = Encoding.unrestorableReason(json)
      if (unrestorable !== undefined) {
        return { _tag: "Unusable", reason: `the output of need "${name}" could not be journaled exactly (${unrestorable})` } as const
      }
      parts.push({ kind: "need", name, value: json === undefined ? "undefined" : Manifest.digest(json) })
    }
    if (hasCode(job)) parts.push(...modulePartsOf(ctx, job))
    const root = policy.root ?? ctx.cwd
    const hashed = yield* FileHashes.hash(root, policy.files, ctx.memo)
    for (const [file, sha256] of hashed.files) parts.push({ kind: "file", name: file, value: sha256 })
    parts.push(...(ctx.env.get(job.id) ?? []))
    const lockfile = lockfileOf(ctx, root)
    if (lockfile !== undefined) parts.push(lockfile)
    parts.push(
      { kind: "runner", name: "", value: ctx.runnerVersion },
      { kind: "runtime", name: "", value: Runtime.version },
      { kind: "platform", name: "", value: `${process.platform}-${process.arch}` },
      { kind: "version", name: "", value: policy.version }
    )
    if (ctx.partition !== undefined) parts.push({ kind: "partition", name: "", value: ctx.partition })
    // Parts are unique by kind and name without a pass over them (Manifest.make checks): files are a set of paths,
    // needs and env names are unique per job, modules are deduplicated where they are gathered.
    return { _tag: "Keyed", manifest: Manifest.make(parts), unmatched: hashed.unmatched } as const
  })

const withoutRuntime = (definitionHash: string): string => {
  const fields = definitionHash.split("|")
  return fields.length === 3 ? `${fields[0]}|${fields[2]}` : definitionHash
}

/** An Effect job, or a command whose argv or env is computed by a function: its behaviour is code. */
const hasCode = (job: Job.Any): boolean =>
  job.shell === undefined || typeof job.shell.argv === "function" || typeof job.shell.env === "function"

/**
 * The local modules of the files the job was defined in (the call to `Job.make` and the calls that led to it: a
 * helper that makes jobs counts with the file that called it). Packages are covered by the lockfile. For a job whose
 * call sites were not recorded, those of its DAG: the file that made the DAG imports the job's, as a rule, so its
 * modules are a superset (a change there may rerun the job without need, never reuse a stale output).
 */
const modulePartsOf = (ctx: Context, job: Job.Any): ReadonlyArray<Manifest.Part> => {
  const files = new Set<string>()
  for (const site of job.definedVia.length > 0 ? job.definedVia : ctx.dagDefinedVia) {
    const file = path.resolve(ctx.cwd, site.replace(/:\d+:\d+$/, ""))
    // The runner's own frames (Deno's stacks keep some) and packages: the runner version and the lockfile cover them.
    if (file.split(/[\\/]/).includes("node_modules") || file.startsWith(runnerSources)) continue
    files.add(file)
  }
  // Jobs defined from the same files share their parts: made once per run (1,000 jobs of a task file that imports
  // 100 local modules would otherwise build and deduplicate 100,000 parts).
  const id = [...files].join("\u0000")
  const known = ctx.moduleParts.get(id)
  if (known !== undefined) return known
  const byPath = new Map<string, Manifest.Part>()
  for (const file of files) {
    let graph = ctx.graphs.get(file)
    if (graph === undefined) {
      graph = ModuleGraph.modules(file, ctx.cwd)
      ctx.graphs.set(file, graph)
    }
    // Two entries importing the same helper: one part.
    for (const module of graph) byPath.set(module.path, { kind: "module", name: module.path, value: module.sha256 })
  }
  const parts = [...byPath.values()]
  ctx.moduleParts.set(id, parts)
  return parts
}

/** The folder of the runner's own sources (src/ or dist/), whatever calls into it. */
const runnerSources = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url)))) + path.sep

/** Lockfiles, in the order they are looked for in each folder. */
const lockfileNames = ["package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock", "bun.lock", "bun.lockb", "deno.lock"]

/** The nearest lockfile in `dir` or a folder above it, as a manifest part (its path relative to the cwd). */
const lockfileOf = (ctx: Context, dir: string): Manifest.Part | undefined => {
  const start = path.resolve(dir)
  if (ctx.lockfiles.has(start)) return ctx.lockfiles.get(start)
  let found: Manifest.Part | undefined
  for (let current = start; ; current = path.dirname(current)) {
    for (const name of lockfileNames) {
      const file = path.join(current, name)
      let bytes: Uint8Array
      try {
        bytes = fs.readFileSync(file)
      } catch {
        continue
      }
      const relative = path.relative(ctx.cwd, file).split(path.sep).join("/")
      found = { kind: "lockfile", name: relative, value: Manifest.digest(bytes) }
      break
    }
    if (found !== undefined || path.dirname(current) === current) break
  }
  ctx.lockfiles.set(start, found)
  return found
}
