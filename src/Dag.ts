/**
 * A Dag names a set of jobs; its dependencies are found through each job's `needs`. internal/Plan.ts validates it
 * (duplicate ids, cycles, needs that are not jobs, conflicting resources) and orders it for the executor.
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
import * as CachePolicy from "./internal/cache/Policy.ts"
import * as checks from "./internal/checks.ts"
import * as define from "./internal/define.ts"
import * as render from "./internal/render.ts"
import * as Job from "./Job.ts"
import type * as Observer from "./internal/Observer.ts"
import type * as Resource from "./Resource.ts"
import * as Trigger from "./internal/Trigger.ts"

const TypeId = "~effect-runner/Dag" as const

export interface Options<LOut = never, LE = unknown, E = unknown> {
  /**
   * The services the jobs require beyond the runner's own (FileSystem, Path, ChildProcessSpawner, HttpClient): built once per run,
   * before the first job starts, shared by all its jobs, released after the last one ends (on success, failure and
   * interruption). A failure to build it fails the run before any job starts. It may itself use the runner's services.
   * Default: none.
   */
  readonly layer?: Layer.Layer<LOut, LE, Job.Services>
  /** At most this many jobs of this DAG run at once (`--concurrency` overrides). Default: the CPU count. */
  readonly concurrency?: number
  readonly description?: string
  /**
   * The `cache` of every job that does not set its own (`cache: false` on a job opts out): see `Job.Options.cache`.
   * Default: none (jobs run every time unless they set `cache`).
   */
  readonly cache?: CachePolicy.Input
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

/**
 * A DAG made by `Dag.make`. `Jobs` is phantom (no member uses it): the jobs and DAGs `Dag.make` was given, as a tuple type, so that the test kit
 * (`effect-runner/test`) can type a run's job ids and outputs. Any `Dag<X>` is a `Dag` (= `Dag<any>`: untyped).
 */
export interface Dag<Jobs = any> {
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
  /** The `cache` of its jobs that set none. */
  readonly cache: CachePolicy.Policy | undefined
  /** Where it was made (file:line:column) and the calls that led there, innermost first, as `Job.definedVia`. */
  readonly definedVia: ReadonlyArray<string>
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
 *
 * @example
 * ```ts
 * export default Dag.make("nightly", [load, report], {
 *   layer: Layer.mergeAll(FetchHttpClient.layer, DbLive), // built once per run, released after the last job
 *   concurrency: 4,
 *   schedule: "0 2 * * *",
 *   onFailure: (summary) => Effect.log(`${summary.failed.length} job(s) failed`)
 * })
 * ```
 */
// `Jobs` is constrained to `unknown` elements, not `Job.Any`: as a contextual type, `Job.Any` would make a `Job.make`
// written inline infer `any` requirements, which would pass the check unseen.
export const make = <const Jobs extends ReadonlyArray<unknown>, LOut = never, LE = never>(
  name: string,
  jobs: Jobs & NoInfer<CheckProvided<Jobs, LOut>>,
  options: Options<LOut, LE, Failure<Jobs>> = {}
): Dag<Jobs> => {
  const sites = define.callSites(make, true)
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
        reason: `is not a job or DAG (found ${render.kindOf(entry)}); check its import`
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
    cache: CachePolicy.make(options.cache, `dag "${name}"`),
    layer: layers.length === 0 ? undefined : layers.length === 1 ? layers[0] : Layer.mergeAll(...(layers as [Layer.Layer<any, any, any>])),
    get definedVia() {
      return define.formatted(sites)
    }
  }
}
