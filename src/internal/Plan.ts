/**
 * Planning: validates a Dag (duplicate ids, cycles, needs that are not jobs, conflicting resources) and orders it
 * into levels for the executor. Internal: task files write Dags; the CLI, the executor and the test kit plan them.
 */
import * as Effect from "effect/Effect"
import { CycleDetected, DuplicateJobId, InvalidOption, MissingDependency, UnknownJob } from "../Errors.ts"
import type { Dag } from "../Dag.ts"
import * as Job from "../Job.ts"
import * as render from "./render.ts"
import type * as Resource from "../Resource.ts"

/** A job in a plan, with its dependencies and dependents as indexes into `Plan.jobs`. */
export interface PlannedJob {
  readonly job: Job.Any
  readonly index: number
  /** The jobs this one needs, under the names it receives their outputs by. */
  readonly deps: ReadonlyArray<{ readonly name: string; readonly index: number }>
  readonly dependents: ReadonlyArray<number>
  /** 0 for jobs that need nothing; otherwise one more than the deepest dependency. */
  readonly level: number
}

/** A validated DAG in topological order: every job comes after all the jobs it needs. */
export interface Plan {
  readonly dag: Dag
  readonly jobs: ReadonlyArray<PlannedJob>
  readonly levels: ReadonlyArray<ReadonlyArray<number>>
  readonly resources: ReadonlyArray<Resource.Resource>
}

export type PlanError = DuplicateJobId | CycleDetected | MissingDependency | UnknownJob | InvalidOption

/** Validates the DAG and orders it; with `selection`, keeps only the named jobs and what they need. */
export const plan = (dag: Dag, selection: ReadonlyArray<string> = []): Effect.Effect<Plan, PlanError> =>
  Effect.suspend(() => {
    const ordered = topologicalOrder(dag)
    if (!Array.isArray(ordered)) return Effect.fail(ordered)
    const selected = select(ordered, selection)
    if (!Array.isArray(selected)) return Effect.fail(selected)
    const resources = checkResources(selected)
    if (!Array.isArray(resources)) return Effect.fail(resources)
    return Effect.succeed(index(dag, selected, resources))
  })

/** Depth-first post-order from the DAG's jobs: deterministic, and reports the first problem it meets. */
const topologicalOrder = (dag: Dag): Array<Job.Any> | PlanError => {
  const order: Array<Job.Any> = []
  const byId = new Map<string, Job.Any>()
  const state = new Map<Job.Any, "visiting" | "done">()
  const stack: Array<string> = []
  const visit = (job: Job.Any): PlanError | undefined => {
    const seen = state.get(job)
    if (seen === "done") return undefined
    if (seen === "visiting") {
      return new CycleDetected({ path: [...stack.slice(stack.indexOf(job.id)), job.id] })
    }
    const twin = byId.get(job.id)
    if (twin !== undefined && twin !== job) {
      return new DuplicateJobId({ jobId: job.id, places: places(twin, job) })
    }
    byId.set(job.id, job)
    state.set(job, "visiting")
    stack.push(job.id)
    for (const [name, need] of Object.entries(job.needs)) {
      if (!Job.isJob(need)) return new MissingDependency({ jobId: job.id, need: name, found: render.kindOf(need) })
      const error = visit(need)
      if (error !== undefined) return error
    }
    stack.pop()
    state.set(job, "done")
    order.push(job)
    return undefined
  }
  for (const job of dag.jobs) {
    const error = visit(job)
    if (error !== undefined) return error
  }
  return order
}

/** Where two jobs were defined; when a helper made both, the first call site that tells them apart. */
const places = (a: Job.Any, b: Job.Any): [string, string] => {
  const at = (job: Job.Any, depth: number) =>
    job.definedVia.slice(0, depth + 1).join(" via ") || "an unknown place"
  for (let depth = 0; depth < Math.max(a.definedVia.length, b.definedVia.length); depth++) {
    if (a.definedVia[depth] !== b.definedVia[depth]) return [at(a, depth), at(b, depth)]
  }
  return [at(a, 0), at(b, 0)]
}

const select = (ordered: Array<Job.Any>, selection: ReadonlyArray<string>): Array<Job.Any> | UnknownJob => {
  if (selection.length === 0) return ordered
  const byId = new Map(ordered.map((job) => [job.id, job]))
  const unknown = selection.filter((name) => !byId.has(name))
  if (unknown.length > 0) return new UnknownJob({ names: unknown, available: ordered.map((job) => job.id) })
  const keep = new Set<Job.Any>()
  const add = (job: Job.Any) => {
    if (keep.has(job)) return
    keep.add(job)
    for (const need of Object.values(job.needs)) add(need)
  }
  for (const name of selection) add(byId.get(name)!)
  return ordered.filter((job) => keep.has(job))
}

const checkResources = (jobs: Array<Job.Any>): Array<Resource.Resource> | InvalidOption => {
  const byName = new Map<string, Resource.Resource>()
  for (const job of jobs) {
    for (const resource of job.uses) {
      const known = byName.get(resource.name)
      if (known === undefined) byName.set(resource.name, resource)
      else if (known !== resource && !sameLimits(known, resource)) {
        return new InvalidOption({
          where: `resource "${resource.name}"`,
          reason: `is defined twice with different limits (used by job "${job.id}"); define it once and import it`
        })
      }
    }
  }
  return [...byName.values()]
}

const sameLimits = (a: Resource.Resource, b: Resource.Resource) =>
  a.concurrency === b.concurrency && a.rate?.limit === b.rate?.limit &&
  (a.rate === undefined || b.rate === undefined ? a.rate === b.rate : a.rate.per.toString() === b.rate.per.toString()) &&
  (a.breaker === undefined || b.breaker === undefined
    ? a.breaker === b.breaker
    : a.breaker.failures === b.breaker.failures && a.breaker.window.toString() === b.breaker.window.toString() &&
      a.breaker.cooldown.toString() === b.breaker.cooldown.toString())

const index = (dag: Dag, ordered: Array<Job.Any>, resources: Array<Resource.Resource>): Plan => {
  const position = new Map(ordered.map((job, i) => [job, i]))
  const dependents: Array<Array<number>> = ordered.map(() => [])
  const levelOf: Array<number> = []
  const jobs = ordered.map((job, i): PlannedJob => {
    const deps = Object.entries(job.needs).map(([name, need]) => ({ name, index: position.get(need)! }))
    let level = 0
    for (const dep of deps) {
      dependents[dep.index]!.push(i)
      level = Math.max(level, levelOf[dep.index]! + 1)
    }
    levelOf.push(level)
    return { job, index: i, deps, dependents: dependents[i]!, level }
  })
  const levels: Array<Array<number>> = []
  for (const planned of jobs) (levels[planned.level] ??= []).push(planned.index)
  return { dag, jobs, levels, resources }
}

