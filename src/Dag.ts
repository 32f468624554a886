/**
 * A Dag names a set of jobs; its dependencies are found through each job's `needs`. `plan` validates it (duplicate
 * ids, cycles, needs that are not jobs, conflicting resources) and orders it into levels for the executor.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import {
  type CircuitOpen,
  CycleDetected,
  DuplicateJobId,
  InvalidOption,
  type JobTimeout,
  MissingDependency,
  type OutputInvalid,
  type OutputNotJournalable,
  UnknownJob
} from "./Errors.ts"
import * as checks from "./internal/checks.ts"
import * as Job from "./Job.ts"
import type * as Observer from "./internal/Observer.ts"
import type * as Resource from "./Resource.ts"
import * as Trigger from "./internal/Trigger.ts"

const TypeId = "~effect-runner/Dag" as const

export interface Options<LOut = never, LE = unknown, E = unknown> {
  /**
   * The services the jobs require beyond the runner's own (FileSystem, Path, ChildProcessSpawner): built once per run,
   * before the first job starts, shared by all its jobs, released after the last one ends (on success, failure and
   * interruption). A failure to build it fails the run before any job starts. It may itself use the runner's services.
   * Default: none.
   */
  readonly layer?: Layer.Layer<LOut, LE, Job.Services>
  /** At most this many jobs of this DAG run at once (`--concurrency` overrides). Default: the CPU count. */
  readonly concurrency?: number
  readonly description?: string
  /**
   * When `runner schedule` runs this DAG: a cron expression, 5 fields (minute hour day month weekday) or 6 with
   * seconds first. `runner cron` prints the same as crontab lines. Default: not scheduled.
   */
  readonly schedule?: string
  /** The IANA time zone the schedule is read in (`"Europe/Berlin"`). Default: the machine's time zone. */
  readonly timezone?: string
  /** After downtime: `none` (log the missed slots), `latest` (run the most recent one), `all`. Default: "latest". */
  readonly catchUp?: Trigger.CatchUp
  /** When a slot comes while the previous run is going: `skip`, `queue` (run after it), `allow`. Default: "skip". */
  readonly overlap?: Trigger.Overlap
  /** Runs after a run of this DAG succeeded, with its summary. A failure is logged; the run still succeeded. */
  readonly onSuccess?: Hook<E>
  /**
   * Runs after a run failed or was interrupted, with its summary: `summary.failed` holds each failed job with its
   * error as text and its typed `cause` (E: the union of the jobs' errors and the runner's own, see `Failure`).
   * Never changes the outcome.
   *
   * @example
   * Dag.make("nightly", [migrate], {
   *   onFailure: (summary) =>
   *     Effect.forEach(summary.failed, (failed) =>
   *       Effect.failCause(failed.cause).pipe(
   *         Effect.catchTag("ShellExitError", (error) => Console.log(`${failed.jobId}: exit ${error.exitCode}`)),
   *         Effect.catchCause(() => Console.log(`${failed.jobId}: ${failed.error}`))
   *       ), { discard: true })
   * })
   */
  readonly onFailure?: Hook<E>
}

/** A DAG's end-of-run callback; `E` is what its failed jobs' causes can hold. */
export type Hook<E = unknown> = (summary: Observer.Summary<E>) => Effect.Effect<void, unknown, Job.Services>

/** The run summary a DAG's hooks receive (`summary.failed[i].cause` is a `Cause<E>`). */
export type Summary<E = unknown> = Observer.Summary<E>

/** The failures the runner itself gives a job: its timeout, an open circuit, an output that cannot be journaled. */
export type RunnerFailure = JobTimeout | CircuitOpen | OutputInvalid | OutputNotJournalable

/**
 * What a failed job of these can fail with: the jobs' own error types and the runner's. A DAG included as a member
 * is not typed by its jobs: it makes the union `unknown`.
 */
export type Failure<Jobs extends ReadonlyArray<unknown>> = ErrorOf<Jobs[number]> | RunnerFailure

type ErrorOf<J> = J extends Job.Job<any, infer E, any> ? E : J extends Dag ? unknown : never

export interface Dag {
  readonly [TypeId]: typeof TypeId
  readonly name: string
  /** The jobs named when the Dag was made; what they need is included when it is planned. */
  readonly jobs: ReadonlyArray<Job.Any>
  readonly concurrency: number | undefined
  readonly description: string | undefined
  /** When `runner schedule` runs it, if ever. */
  readonly trigger: Trigger.Trigger | undefined
  readonly onSuccess: Hook<any> | undefined
  readonly onFailure: Hook<any> | undefined
  /** Its `layer`, merged with the layers of the DAGs it includes. */
  readonly layer: Layer.Layer<any, any, any> | undefined
}

/** The services the jobs of this list require that neither the runner nor the layer (`LOut`) provides. */
export type Missing<Jobs extends ReadonlyArray<unknown>, LOut> = Exclude<Job.Requirements<Jobs[number]>, LOut | Job.Services>

/** Makes `Dag.make` fail to type-check, naming what is not a job or DAG, or the services no layer provides. */
export type CheckProvided<Jobs extends ReadonlyArray<unknown>, LOut> = [Exclude<Jobs[number], Job.Any | Dag>] extends [never]
  ? CheckMissing<Jobs, LOut>
  : { readonly "Dag.make takes jobs and DAGs": Exclude<Jobs[number], Job.Any | Dag> }

type CheckMissing<Jobs extends ReadonlyArray<unknown>, LOut> = [Missing<Jobs, LOut>] extends [never] ? unknown
  // Jobs typed `Job.Any` (built dynamically) are not checked statically.
  : 0 extends (1 & Missing<Jobs, LOut>) ? unknown
  : { readonly "the DAG's layer does not provide services its jobs require": Missing<Jobs, LOut> }

export const isDag = (u: unknown): u is Dag => typeof u === "object" && u !== null && TypeId in u

/**
 * Makes a DAG from jobs (and other DAGs, whose jobs and layers are included). Dependencies are included transitively.
 * The services the jobs require must be provided by `layer` (or be the runner's own), or this does not type-check.
 */
// `Jobs` is constrained to `unknown` elements, not `Job.Any`: as a contextual type, `Job.Any` would make a `Job.make`
// written inline infer `any` requirements, which would pass the check unseen.
export const make = <const Jobs extends ReadonlyArray<unknown>, LOut = never, LE = never>(
  name: string,
  jobs: Jobs & NoInfer<CheckProvided<Jobs, LOut>>,
  options: Options<LOut, LE, Failure<Jobs>> = {}
): Dag => {
  if (typeof name !== "string" || name.trim() === "") {
    throw new InvalidOption({ where: "Dag.make", reason: "a DAG needs a non-empty string name" })
  }
  if (!Array.isArray(jobs)) {
    throw new InvalidOption({ where: `dag "${name}"`, reason: "jobs must be an array of jobs" })
  }
  const concurrency = options.concurrency
  if (concurrency !== undefined) Result.getOrThrow(checks.positiveInteger(concurrency, `dag "${name}" concurrency`))
  if (options.layer !== undefined && !Layer.isLayer(options.layer)) {
    throw new InvalidOption({ where: `dag "${name}" layer`, reason: "must be an Effect Layer, e.g. Layer.effect(MyService)(...)" })
  }
  const flat: Array<Job.Any> = []
  const layers: Array<Layer.Layer<any, any, any>> = options.layer === undefined ? [] : [options.layer]
  ;(jobs as ReadonlyArray<Job.Any | Dag>).forEach((entry, i) => {
    if (isDag(entry)) {
      flat.push(...entry.jobs)
      if (entry.layer !== undefined) layers.push(entry.layer)
    } else if (Job.isJob(entry)) flat.push(entry)
    else {
      throw new InvalidOption({
        where: `dag "${name}" jobs[${i}]`,
        reason: `is not a job or DAG (found ${describe(entry)}); check its import`
      })
    }
  })
  const trigger = options.schedule === undefined ? undefined : Trigger.make(`dag "${name}"`, {
    schedule: options.schedule,
    timezone: options.timezone,
    catchUp: options.catchUp,
    overlap: options.overlap
  })
  for (const hook of ["onSuccess", "onFailure"] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== "function") {
      throw new InvalidOption({ where: `dag "${name}" ${hook}`, reason: "must be a function of the run summary returning an Effect" })
    }
  }
  return {
    [TypeId]: TypeId,
    name,
    jobs: flat,
    concurrency,
    description: options.description,
    trigger,
    onSuccess: options.onSuccess,
    onFailure: options.onFailure,
    layer: layers.length === 0 ? undefined : layers.length === 1 ? layers[0] : Layer.mergeAll(...(layers as [Layer.Layer<any, any, any>]))
  }
}

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
      if (!Job.isJob(need)) return new MissingDependency({ jobId: job.id, need: name, found: describe(need) })
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

const describe = (u: unknown): string =>
  u === undefined ? "undefined" : u === null ? "null" : typeof u === "object" ? "an object" : `a ${typeof u}`
