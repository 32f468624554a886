/**
 * Job definitions: a typed Effect program with the outputs of the jobs it needs as input, and its policies (retry,
 * timeout, resources, criticality). `Job.make` for Effect code, `Job.command` for a program run from an argv array
 * (`Job.shell` is its former, deprecated name: it never ran a shell). A job's types carry its output, its errors
 * (including the runner's own it can meet: see `RunnerErrors`) and the services it requires.
 */
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import type * as Layer from "effect/Layer"
import type * as Path from "effect/Path"
import type * as HttpClient from "effect/http/HttpClient"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as CommandLine from "effect/process/CommandLine"
import type * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import type * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import { type CircuitOpen, InvalidOption, type JobTimeout, type OutputInvalid } from "./Errors.ts"
import { build, callSites, type Sites, TypeId, validateArgv } from "./internal/define.ts"
import * as shellProcess from "./internal/shell.ts"
import type * as Resource from "./Resource.ts"
import type * as retries from "./internal/retries.ts"
import type * as CachePolicy from "./internal/cache/Policy.ts"
import type * as Retry from "./Retry.ts"


/** The job being run, as the runner tells it to the job's own code (read with `Job.Current` or `Job.fencingToken`). */
export interface Running {
  readonly runId: string
  readonly jobId: string
  /**
   * The job's lease epoch (fencing token). In a cluster run (`--cluster`) it grows each time a worker takes the job
   * (a first start, or a takeover after a worker died or was cut off): send it with the job's external writes and
   * have the target refuse one older than the newest it has seen, so a worker that lost its lease cannot overwrite
   * its successor's work. In a local run it is 0: one process holds the run's lock and no lease is taken.
   */
  readonly fencingToken: number
}

/** The running job (undefined outside a job's `run`). */
export const Current: Context.Reference<Running | undefined> = Context.Reference<Running | undefined>(
  "effect-runner/Job/Current",
  { defaultValue: () => undefined }
)

/** The running job's fencing token (see `Running.fencingToken`); 0 outside a job. */
export const fencingToken: Effect.Effect<number> = Effect.map(Effect.service(Current), (running) => running?.fencingToken ?? 0)

/** The services the runner provides to every job: the file system, paths, child processes and an HTTP client. */
export type Services = FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner | HttpClient.HttpClient

/**
 * A job whose output type is `A`, whose typed failures are `E`, and which requires the services `R` beyond the
 * runner's own (`Services`): the DAG's `layer` must provide them (`Dag.make` does not type-check otherwise).
 *
 * `Id` and `Needs` are phantom: no member uses them, so they take no part in assignability or type identity (a
 * `Job<number, never, never, "load">` is a `Job<number, never>`), but they can be inferred from a job's type: the test
 * kit (`effect-runner/test`) reads a DAG's job ids and outputs through them. `Job.make` and `Job.command` set them.
 */
export interface Job<out A = unknown, out E = unknown, out R = never, Id extends string = string, Needs = {}> {
  readonly [TypeId]: typeof TypeId
  readonly id: string
  readonly kind: "effect" | "shell"
  /** The jobs whose outputs this job receives, by the name it receives them under. */
  readonly needs: Readonly<Record<string, Any>>
  /** What the job reads from its environment, resolved before the run starts and passed as `config`. */
  readonly config: Readonly<Record<string, Config.Config<unknown>>>
  /** Paths that must exist and be readable before the run starts (checked by the preflight and `runner check`). */
  readonly inputs: ReadonlyArray<string>
  readonly output: Schema.Codec<A, unknown> | undefined
  readonly retry: retries.Policy | undefined
  readonly timeout: Duration.Duration | undefined
  readonly uses: ReadonlyArray<Resource.Resource>
  readonly critical: boolean
  readonly description: string | undefined
  /** For shell jobs, the command as shown to people (secrets masked). */
  readonly command: string | undefined
  /** For shell jobs, what decides what runs: the argv (or the function making it), working directory, environment. */
  readonly shell: ShellDefinition | undefined
  /**
   * Where the job was defined (file:line:column), for error messages. Recorded for the first 1,000 jobs defined at
   * once (in one synchronous stretch, such as a task file's evaluation), and for every job of a workspace run:
   * past that, undefined, as capturing thousands of stacks slows a large DAG's start (see README, Limitations).
   */
  readonly definedAt: string | undefined
  /** The calls that led to the definition, innermost first (tells apart jobs made by one helper); as `definedAt`. */
  readonly definedVia: ReadonlyArray<string>
  /** The job's own layer, built once per run (on its first attempt) and released with the run's. */
  readonly layer: Layer.Layer<any, any, any> | undefined
  /** Its `cache` option, validated: `false` when it opts out of its DAG's default, undefined when it says nothing. */
  readonly cache: CachePolicy.Policy | false | undefined
  readonly run: (inputs: Record<string, unknown>) => Effect.Effect<A, E, Services | R>
}

/** Any job. */
export type Any = Job<any, any, any>

/**
 * The services a job requires beyond the runner's own, which a DAG's `layer` must provide: those of its `run` not
 * provided by its own `layer`, and those of the jobs it needs (they run in the same DAG).
 */
export type Requirements<J> = J extends Job<any, any, infer R> ? R : never

/** What a shell job was defined with (part of its definition hash: editing any of it re-runs the job on resume). */
export interface ShellDefinition {
  readonly argv: Argv | ((inputs: any) => Argv)
  readonly cwd: string | undefined
  readonly env: Env | ((inputs: any) => Env) | undefined
}

/** The inputs a job with these `needs` receives: each needed job's output under the same name. */
export type Inputs<Needs> = { readonly [K in keyof Needs]: Needs[K] extends Job<infer A, any, any> ? A : never }

/** A job's config declaration: names to Effect `Config`s (`{ url: Config.String("DB_URL") }`). */
export type ConfigSpec = Readonly<Record<string, Config.Config<any>>>

/** The values a config declaration resolves to, by the same names. */
export type ConfigValues<C> = { readonly [K in keyof C]: C[K] extends Config.Config<infer T> ? T : never }

/** What `run` receives: the needed outputs, and the resolved config under `config`. */
export type RunInputs<Needs, C> = Flatten<Inputs<Needs> & { readonly config: ConfigValues<C> }>

type Flatten<T> = { [K in keyof T]: T[K] } & {}

/** A job's `cache` option when it is an object: `{ files, env, outputs, version, ttl }` (see `Options.cache`). */
export type CacheOptions = CachePolicy.Options

/** The output type of a job: `Job.Output<typeof extract>`. */
export type Output<J> = J extends Job<infer A, any, any> ? A : never

export interface Options<Needs, A, E, R, C = {}, LOut = never, LE = never, LIn = never> {
  /** Jobs whose outputs this job receives, by name: `needs: { extract }`. Default: none. */
  readonly needs?: Needs
  /**
   * What the job reads from the environment: `{ url: Config.String("DB_URL"), password: Config.Redacted("DB_PASSWORD") }`.
   * Resolved for every selected job before the run starts (all problems reported at once); `run` receives the values
   * as `config`. Redacted values are masked (`***`) wherever they would be printed or journaled. Default: none.
   */
  readonly config?: C
  /** Paths (files or folders, relative to the current directory) that must be readable before the run starts. */
  readonly inputs?: ReadonlyArray<string>
  /** The job's work. Receives the outputs of `needs` and the resolved `config`, typed. */
  readonly run: (inputs: RunInputs<Needs, C>) => Effect.Effect<A, E, R>
  /**
   * Schema of the output, used to encode it for the journal and decode it on resume; an output that does not fit it
   * fails the job with `OutputInvalid` (in the job's error type). Default: JSON as is.
   */
  readonly output?: Schema.Codec<A, any, never, never>
  /** Retry policy for typed failures: any Schedule, or `{ times, delay, factor, jitter, maxDelay }`. Default: no retry. */
  readonly retry?: Retry.Input
  /** Time limit of each attempt; a timed-out attempt is a typed, retryable `JobTimeout` (in the job's error type). Default: none. */
  readonly timeout?: Duration.Input
  /**
   * Resources this job holds one permit of during each attempt (taken in order of name, freed during the retry
   * backoff); each attempt also takes one rate-limit slot of each. A resource's open breaker fails the attempt with
   * `CircuitOpen` (in the job's error type). Default: none.
   */
  readonly uses?: ReadonlyArray<Resource.Resource>
  /** When false, a failure skips this job's dependents but does not stop the run. Default: true. */
  readonly critical?: boolean
  /** Shown by `runner list` and `--dry-run`. Default: none. */
  readonly description?: string
  /**
   * Services for this job only: built once per run, before its first attempt (its retries share it), released when
   * the run ends. It may use the runner's services and the DAG's layer. A failure to build it fails the attempt.
   * Default: none (the job uses the runner's services and the DAG's `layer`).
   */
  readonly layer?: Layer.Layer<LOut, LE, LIn>
  /**
   * Skip the job when its inputs did not change: an earlier success with the same key (its definition and the code of
   * the local modules it imports, the outputs it needs, the declared `files` and `env`, the lockfile, runner, runtime
   * and platform, `version`) is reused, its output passed on. `true` for the defaults; `false` opts out of the DAG's
   * `cache`. Default: the DAG's `cache` (none).
   */
  readonly cache?: CachePolicy.Input
}

/**
 * True for a value made by `Job.make` or `Job.command`.
 *
 * @example
 * ```ts
 * const jobs = Object.values(await import("./tasks/etl.ts")).filter(Job.isJob)
 * ```
 */
export const isJob = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u

/**
 * What a job's definition says about the runner's own failures it can meet, read from its options' types: a `timeout`
 * (JobTimeout), resources in `uses` (CircuitOpen), an `output` schema (OutputInvalid). Only the presence of each option
 * is captured; the option's value is typed by `Options`.
 */
export interface Given<Timeout = undefined, Uses = undefined, Output = undefined> {
  readonly timeout?: Timeout
  readonly uses?: Uses
  readonly output?: Output
}

/**
 * The runner's failures a job defined with these options can meet, besides its own errors: `JobTimeout` when it has a
 * `timeout`, `CircuitOpen` when `uses` lists a resource (whether a resource has a breaker is a run-time option, so any
 * resource counts), `OutputInvalid` when it declares an `output` schema.
 */
export type RunnerErrors<Timeout, Uses, Output> =
  | ([Timeout] extends [undefined] ? never : JobTimeout)
  | ([Uses] extends [undefined] ? never : [Uses] extends [ReadonlyArray<never>] ? never : CircuitOpen)
  | ([Output] extends [undefined] ? never : OutputInvalid)

/**
 * Defines a job. Options are validated now, so a bad duration or retry count fails when the task file loads. The job's
 * error type is `run`'s errors, its layer's, and the runner's own it can meet (see `RunnerErrors`): a job with a
 * `timeout` can fail with `JobTimeout`, one that `uses` a resource with `CircuitOpen`.
 *
 * @example
 * ```ts
 * const extract = Job.make("extract", {
 *   output: Schema.Struct({ rows: Schema.Number }),
 *   timeout: "5 minutes",
 *   retry: { times: 3, delay: "1 second" },
 *   run: () => Effect.succeed({ rows: 42 })
 * })
 * const load = Job.make("load", {
 *   needs: { extract },
 *   config: { url: Config.String("DB_URL") },
 *   run: ({ extract, config }) => Effect.log(`loading ${extract.rows} rows into ${config.url}`)
 * })
 * // extract: Job<{ readonly rows: number }, JobTimeout | OutputInvalid>
 * ```
 */
export const make = <
  const Needs extends Readonly<Record<string, Any>> = {},
  A = void,
  E = never,
  R = never,
  const C extends ConfigSpec = {},
  LOut = never,
  LE = never,
  LIn = never,
  Timeout = undefined,
  Uses = undefined,
  Output = undefined,
  const Id extends string = string
>(
  id: Id,
  options: Options<Needs, A, E, R, C, LOut, LE, LIn> & Given<Timeout, Uses, Output>
): Job<
  A,
  E | LE | RunnerErrors<Timeout, Uses, Output>,
  Exclude<Exclude<R, LOut> | LIn, Services> | Requirements<Needs[keyof Needs]>,
  Id,
  Needs
> => build(id, "effect", options as unknown as Options<any, A, E | LE, Services>, undefined, callSites(make))

export interface CommandOptions<Needs, C = {}> {
  /** Jobs whose outputs this job receives, by name; the argv and env functions receive them. Default: none. */
  readonly needs?: Needs
  /** As for `Job.make`; the argv and env functions receive the values as `config`. */
  readonly config?: C
  /** Paths that must be readable before the run starts. Default: none. */
  readonly inputs?: ReadonlyArray<string>
  /** Working directory. Default: the runner's current directory. */
  readonly cwd?: string
  /**
   * Extra environment variables, added to the runner's environment, or a function of the inputs (and `config`)
   * returning them. Values may be Redacted. Default: none.
   */
  readonly env?: Env | ((inputs: RunInputs<Needs, C>) => Env)
  /** As for `Job.make`. Default: no retry. */
  readonly retry?: Retry.Input
  /** Time limit of each attempt; the process tree is killed when it runs out. Default: none. */
  readonly timeout?: Duration.Input
  /** As for `Job.make`. Default: none. */
  readonly uses?: ReadonlyArray<Resource.Resource>
  /** When false, a failure skips this job's dependents but does not stop the run. Default: true. */
  readonly critical?: boolean
  /** Shown by `runner list` and `--dry-run`. Default: none. */
  readonly description?: string
  /** As for `Job.make`, e.g. `{ files: ["tsconfig.json"], env: ["NODE_ENV"], outputs: ["dist"] }`. Default: the DAG's. */
  readonly cache?: CachePolicy.Input
}

/** @deprecated Renamed `CommandOptions`, as `Job.shell` is now `Job.command`. */
export type ShellOptions<Needs, C = {}> = CommandOptions<Needs, C>

/** What a command job outputs: its exit code (always 0 on success) and its standard output (the first 64 KiB). */
export interface CommandOutput {
  readonly exitCode: number
  readonly stdout: string
}

/** @deprecated Renamed `CommandOutput`. */
export type ShellOutput = CommandOutput

/**
 * The errors a command job can meet: a non-zero exit (`ShellExitError`, with its `exitCode`), a program that cannot be
 * started (`PlatformError`), and the runner's own its options call for (`JobTimeout`, `CircuitOpen`).
 */
export type CommandError = shellProcess.ShellError

/** Environment variables for a command. Values may be Redacted secrets. */
export type Env = Readonly<Record<string, string | Redacted.Redacted<string>>>

/** An argv array: the program, then each argument. Arguments may be Redacted secrets. */
export type Argv = ReadonlyArray<string | Redacted.Redacted<string>>

/**
 * Defines a job that runs a program with its arguments (an argv array): no shell is involved unless the argv names one
 * (`["sh", "-c", "..."]`), so nothing is split, globbed or expanded. Output lines go to the log prefixed with the job
 * id; a non-zero exit is a `ShellExitError` with the exit code and the last stderr lines; a timeout or interruption
 * kills the whole process tree.
 *
 * `argv` is an array, a `Job.cmd` template, or a function of the needed outputs (and `config`) returning either.
 *
 * @example
 * ```ts
 * const build = Job.command("build", ["npm", "run", "build"], { timeout: "10 minutes" })
 * const archive = Job.command("archive", ({ build }) => Job.cmd`tar -czf out.tar.gz ${build.stdout.trim()}`, {
 *   needs: { build }
 * })
 * ```
 */
export const command = <
  const Needs extends Readonly<Record<string, Any>> = {},
  const C extends ConfigSpec = {},
  Timeout = undefined,
  Uses = undefined,
  const Id extends string = string
>(
  id: Id,
  argv: Argv | ((inputs: RunInputs<Needs, C>) => Argv),
  options: CommandOptions<Needs, C> & Given<Timeout, Uses> = {}
): Job<CommandOutput, CommandError | RunnerErrors<Timeout, Uses, undefined>, never, Id, Needs> => makeCommand(id, argv, options, callSites(command))

/**
 * The former name of `Job.command`, which runs no shell: it behaves identically.
 *
 * @deprecated Use `Job.command` (same arguments, same behaviour).
 */
export const shell: typeof command = (id, argv, options = {}) => makeCommand(id, argv, options, callSites(shell))

const makeCommand = <Needs extends Readonly<Record<string, Any>>, C extends ConfigSpec>(
  id: string,
  argv: Argv | ((inputs: RunInputs<Needs, C>) => Argv),
  options: CommandOptions<Needs, C>,
  sites: Sites
): Job<CommandOutput, any> => {
  if (typeof argv !== "function") validateArgv(argv, `job "${id}"`)
  const run = (inputs: RunInputs<Needs, C>) => {
    const resolved = typeof argv === "function" ? argv(inputs) : argv
    const env = typeof options.env === "function" ? options.env(inputs) : options.env
    return shellProcess.run(id, resolved, { cwd: options.cwd, env })
  }
  const display = typeof argv === "function" ? "(argv computed from inputs)" : CommandLine.display(argv)
  const shell: ShellDefinition = { argv, cwd: options.cwd, env: options.env }
  return build(id, "shell", { ...options, run } as unknown as Options<any, CommandOutput, CommandError, Services>, display, sites, shell)
}

/**
 * Builds an argv from a template, as a shell would split it, but with every `${value}` one literal argument.
 * Shell syntax (`|`, `$VAR`, `*`) is rejected (throws InvalidOption): write `["sh", "-c", ...]` for a shell.
 * Backslashes are read as written, as a shell reads them: `a\ b` is one argument, `'C:\temp'` keeps its backslash.
 *
 * @example
 * ```ts
 * const pack = Job.command("pack", Job.cmd`tar -czf ${archive} -C ${dir} .`)
 * ```
 */
export const cmd = (strings: TemplateStringsArray, ...values: ReadonlyArray<CommandLine.TemplateExpression>): Argv => {
  // The raw text, not JavaScript's cooked escapes: cooked, `a\ b` would already be `a b` (two words) and `\\` one `\`.
  const words = CommandLine.template(Object.assign([...strings.raw], { raw: strings.raw }), ...values)
  if (Result.isFailure(words)) {
    throw new InvalidOption({ where: "Job.cmd", reason: words.failure.message })
  }
  return words.success
}
