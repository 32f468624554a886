/**
 * Monorepos from a task file: the jobs of a workspace's packages, combined into jobs `<package>#<job>` that run in
 * package order, to put in a `Dag.make` beside the repository's own jobs. `runner ws` uses the same machinery
 * (src/internal/workspace/).
 */
import * as Effect from "effect/Effect"
import type * as Combine from "./internal/workspace/Combine.ts"
import type * as Job from "./Job.ts"

/** Options of `Workspace.jobs`. */
export interface JobsOptions {
  /** The workspace root, or a folder inside it. Default: the current directory (the root is found above it). */
  readonly root?: string
  /** Package filters, as `--filter` takes them. Default: every package. */
  readonly filter?: ReadonlyArray<string>
}

/** The workspace jobs, ready for `Dag.make`, and `of(job)` for the workspace job of a job a package exports. */
export type Jobs = ReadonlyArray<Job.Job<unknown, unknown, any>> & Pick<Combine.Combined, "of">

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
    // Loaded when called: every task file imports this module (through the package's index), few call it.
    const [Discovery, Combine] = yield* Effect.promise(() =>
      Promise.all([import("./internal/workspace/Discovery.ts"), import("./internal/workspace/Combine.ts")])
    )
    const root = yield* Discovery.findRoot(options.root)
    const workspace = yield* Discovery.discover(root)
    const selected = options.filter === undefined || options.filter.length === 0
      ? undefined
      : yield* Discovery.select(workspace, options.filter)
    const loaded = yield* Combine.load(workspace)
    const combined = yield* Combine.combine(loaded, typeof ids === "string" ? [ids] : ids, selected)
    return Object.assign([...combined.jobs], { of: combined.of })
  }))
