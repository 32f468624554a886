/**
 * Planning: validates a Dag (duplicate ids, cycles, needs that are not jobs, conflicting resources) and orders it
 * into levels for the executor. Internal: task files write Dags; the CLI, the executor and the test kit plan them.
 */
import * as Effect from "effect/Effect"
import { CycleDetected, DuplicateJobId, InvalidOption, MissingDependency, UnknownJob } from "../Errors.ts"
import type { Dag } from "../Dag.ts"
import * as Job from "../Job.ts"
import * as define from "./define.ts"
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
    const ordered = order(dag)
    if (!Array.isArray(ordered)) return Effect.fail(ordered)
    const selected = select(ordered, selection)
    if (!Array.isArray(selected)) return Effect.fail(selected)
    const resources = checkResources(selected)
    if (!Array.isArray(resources)) return Effect.fail(resources)
    const levels: Array<Array<number>> = []
    for (const planned of selected) (levels[planned.level] ??= []).push(planned.index)
    return Effect.succeed({ dag, jobs: selected, levels, resources })
  })

/** A job's position while it is being visited: its needs are not all placed yet. */
const VISITING = -1

/**
 * Depth-first post-order from the DAG's jobs: deterministic, and reports the first problem it meets. Each job is
 * planned (deps, level, dependents) when it is placed, in the same pass: its needs are placed before it. One pass
 * over each job's needs, not three (order, index, level): planning a 10,000-job DAG in a resume took 52 -> 30 ms of
 * CPU on Node. Jobs are found by id in one map (which also finds two jobs with one id: no second map keyed by the job
 * objects), and a need already placed is read there without a call, as most edges of a large DAG lead to jobs placed
 * earlier: planning the 10,000-job DAG of bench/run.ts took 33 -> 28 ms on Node, 54 -> 45 on Deno, 39 -> 22 on Bun
 * alone in a fresh process, and 24 -> 22, 36 -> 32, 15 -> 14 ms within a resume (medians of 9-15 runs, interleaved).
 */
const order = (dag: Dag): Array<PlannedJob> | PlanError => {
  const jobs: Array<PlannedJob> = []
  const dependents: Array<Array<number>> = []
  /** Each id met, to its slot in `met` and `positions`: the job met first with it, and VISITING or its place in `jobs`. */
  const slots = new Map<string, number>()
  const met: Array<Job.Any> = []
  const positions: Array<number> = []
  const stack: Array<string> = []
  const visit = (job: Job.Any): PlanError | undefined => {
    const known = slots.get(job.id)
    if (known !== undefined) {
      if (met[known] !== job) return new DuplicateJobId({ jobId: job.id, places: places(met[known]!, job) })
      return positions[known] === VISITING ? new CycleDetected({ path: [...stack.slice(stack.indexOf(job.id)), job.id] }) : undefined
    }
    const slot = met.length
    slots.set(job.id, slot)
    met.push(job)
    positions.push(VISITING)
    stack.push(job.id)
    const needs = job.needs
    const names = Object.keys(needs)
    const deps: Array<{ readonly name: string; readonly index: number }> = new Array(names.length)
    let level = 0
    for (let k = 0; k < names.length; k++) {
      const name = names[k]!
      const need = needs[name]
      if (!Job.isJob(need)) return new MissingDependency({ jobId: job.id, need: name, found: render.kindOf(need) })
      let placed = slots.get(need.id)
      if (placed === undefined || met[placed] !== need || positions[placed] === VISITING) {
        const error = visit(need)
        if (error !== undefined) return error
        placed = slots.get(need.id)!
      }
      const index = positions[placed]!
      deps[k] = { name, index }
      if (jobs[index]!.level >= level) level = jobs[index]!.level + 1
    }
    stack.pop()
    const index = jobs.length
    positions[slot] = index
    for (let k = 0; k < deps.length; k++) dependents[deps[k]!.index]!.push(index)
    const own: Array<number> = []
    dependents.push(own)
    jobs.push({ job, index, deps, dependents: own, level })
    return undefined
  }
  for (const job of dag.jobs) {
    const error = visit(job)
    if (error !== undefined) return error
  }
  return jobs
}

/** Where two jobs were defined; when a helper made both, the first call site that tells them apart. */
const places = (a: Job.Any, b: Job.Any): [string, string] => {
  const at = (job: Job.Any, depth: number) =>
    job.definedVia.slice(0, depth + 1).join(" via ") || define.unrecordedPlace
  for (let depth = 0; depth < Math.max(a.definedVia.length, b.definedVia.length); depth++) {
    if (a.definedVia[depth] !== b.definedVia[depth]) return [at(a, depth), at(b, depth)]
  }
  return [at(a, 0), at(b, 0)]
}

/**
 * The named jobs and all they need, renumbered in the same order. A kept job keeps all its needs, so its level is
 * unchanged; its dependents are only the kept ones.
 */
const select = (all: Array<PlannedJob>, selection: ReadonlyArray<string>): Array<PlannedJob> | UnknownJob => {
  if (selection.length === 0) return all
  const byId = new Map(all.map((planned) => [planned.job.id, planned]))
  const unknown = selection.filter((name) => !byId.has(name))
  if (unknown.length > 0) return new UnknownJob({ names: unknown, available: all.map((planned) => planned.job.id) })
  const keep: Array<boolean> = new Array(all.length).fill(false)
  const add = (planned: PlannedJob) => {
    if (keep[planned.index]) return
    keep[planned.index] = true
    for (const dep of planned.deps) add(all[dep.index]!)
  }
  for (const name of selection) add(byId.get(name)!)
  const renumbered: Array<number> = new Array(all.length)
  const jobs: Array<PlannedJob> = []
  const dependents: Array<Array<number>> = []
  for (const planned of all) {
    if (!keep[planned.index]) continue
    const index = jobs.length
    renumbered[planned.index] = index
    const deps = planned.deps.map((dep) => ({ name: dep.name, index: renumbered[dep.index]! }))
    for (const dep of deps) dependents[dep.index]!.push(index)
    const own: Array<number> = []
    dependents.push(own)
    jobs.push({ job: planned.job, index, deps, dependents: own, level: planned.level })
  }
  return jobs
}

const checkResources = (jobs: Array<PlannedJob>): Array<Resource.Resource> | InvalidOption => {
  const byName = new Map<string, Resource.Resource>()
  for (const { job } of jobs) {
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
