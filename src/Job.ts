/**
 * Job definitions: a typed Effect program with the outputs of the jobs it needs as input, and its policies (retry,
 * timeout, resources, criticality). `Job.make` for Effect code, `Job.shell` for a command run from an argv array.
 */
import * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import type * as Path from "effect/Path"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as CommandLine from "effect/process/CommandLine"
import type * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import type * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import { InvalidOption } from "./Errors.ts"
import * as duration from "./internal/duration.ts"
import * as shellProcess from "./internal/shell.ts"
import * as Resource from "./Resource.ts"
import * as retries from "./internal/retries.ts"
import type * as Retry from "./Retry.ts"

const TypeId = "~effect-runner/Job" as const

/** The services the runner provides to every job: the file system, paths and child processes. */
export type Services = FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner

/**
 * A job whose output type is `A`, whose typed failures are `E`, and which requires the services `R` beyond the
 * runner's own (`Services`): the DAG's `layer` must provide them (`Dag.make` does not type-check otherwise).
 */
export interface Job<out A = unknown, out E = unknown, out R = never> {
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
  /** Where the job was defined (file:line:column), for error messages. */
  readonly definedAt: string | undefined
  /** The calls that led to the definition, innermost first (tells apart jobs made by one helper). */
  readonly definedVia: ReadonlyArray<string>
  /** The job's own layer, built once per run (on its first attempt) and released with the run's. */
  readonly layer: Layer.Layer<any, any, any> | undefined
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

/** The output type of a job. */
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
  /** Schema of the output, used to encode it for the journal and decode it on resume. Default: JSON as is. */
  readonly output?: Schema.Codec<A, any, never, never>
  /** Retry policy for typed failures: any Schedule, or `{ times, delay, factor, jitter, maxDelay }`. Default: no retry. */
  readonly retry?: Retry.Input
  /** Time limit of each attempt; a timed-out attempt is a typed, retryable failure. Default: none. */
  readonly timeout?: Duration.Input
  /**
   * Resources this job holds one permit of during each attempt (taken in order of name, freed during the retry
   * backoff); each attempt also takes one rate-limit slot of each. Default: none.
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
}

export const isJob = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u

/** Defines a job. Options are validated now, so a bad duration or retry count fails when the task file loads. */
export const make = <
  const Needs extends Readonly<Record<string, Any>> = {},
  A = void,
  E = never,
  R = never,
  const C extends ConfigSpec = {},
  LOut = never,
  LE = never,
  LIn = never
>(
  id: string,
  options: Options<Needs, A, E, R, C, LOut, LE, LIn>
): Job<A, E | LE, Exclude<Exclude<R, LOut> | LIn, Services> | Requirements<Needs[keyof Needs]>> =>
  build(id, "effect", options as unknown as Options<any, A, E | LE, Services>, undefined, callSites())

export interface ShellOptions<Needs, C = {}> {
  readonly needs?: Needs
  /** As for `Job.make`; the argv and env functions receive the values as `config`. */
  readonly config?: C
  readonly inputs?: ReadonlyArray<string>
  /** Working directory. Default: the runner's current directory. */
  readonly cwd?: string
  /**
   * Extra environment variables, added to the runner's environment, or a function of the inputs (and `config`)
   * returning them. Values may be Redacted.
   */
  readonly env?: Env | ((inputs: RunInputs<Needs, C>) => Env)
  readonly retry?: Retry.Input
  readonly timeout?: Duration.Input
  readonly uses?: ReadonlyArray<Resource.Resource>
  readonly critical?: boolean
  readonly description?: string
}

/** What a shell job outputs: its exit code (always 0 on success) and its standard output (the first 64 KiB). */
export interface ShellOutput {
  readonly exitCode: number
  readonly stdout: string
}

/** Environment variables for a command. Values may be Redacted secrets. */
export type Env = Readonly<Record<string, string | Redacted.Redacted<string>>>

/** An argv array: the program, then each argument. Arguments may be Redacted secrets. */
export type Argv = ReadonlyArray<string | Redacted.Redacted<string>>

/**
 * Defines a job that runs a command. No shell is involved unless the argv names one (`["sh", "-c", "..."]`). Output
 * lines go to the log prefixed with the job id; a non-zero exit is a `ShellExitError` with the last stderr lines;
 * a timeout or interruption kills the whole process tree.
 *
 * `argv` is an array, a `Job.cmd` template, or a function of the needed outputs returning either.
 */
export const shell = <const Needs extends Readonly<Record<string, Any>> = {}, const C extends ConfigSpec = {}>(
  id: string,
  argv: Argv | ((inputs: RunInputs<Needs, C>) => Argv),
  options: ShellOptions<Needs, C> = {}
): Job<ShellOutput, shellProcess.ShellError> => {
  if (typeof argv !== "function") validateArgv(argv, `job "${id}"`)
  const run = (inputs: RunInputs<Needs, C>) => {
    const resolved = typeof argv === "function" ? argv(inputs) : argv
    const env = typeof options.env === "function" ? options.env(inputs) : options.env
    return shellProcess.run(id, resolved, { cwd: options.cwd, env })
  }
  const command = typeof argv === "function" ? "(argv computed from inputs)" : CommandLine.display(argv)
  const shell: ShellDefinition = { argv, cwd: options.cwd, env: options.env }
  return build(id, "shell", { ...options, run } as unknown as Options<any, ShellOutput, shellProcess.ShellError, Services>, command, callSites(), shell)
}

/**
 * Builds an argv from a template, as a shell would split it, but with every `${value}` one literal argument:
 * `Job.cmd\`tar -czf ${archive} -C ${dir} .\``. Shell syntax (`|`, `$VAR`, `*`) is rejected: write `["sh", "-c", ...]`.
 * Backslashes are read as written, as a shell reads them: `a\ b` is one argument, `'C:\temp'` keeps its backslash.
 */
export const cmd = (strings: TemplateStringsArray, ...values: ReadonlyArray<CommandLine.TemplateExpression>): Argv => {
  // The raw text, not JavaScript's cooked escapes: cooked, `a\ b` would already be `a b` (two words) and `\\` one `\`.
  const words = CommandLine.template(Object.assign([...strings.raw], { raw: strings.raw }), ...values)
  if (Result.isFailure(words)) {
    throw new InvalidOption({ where: "Job.cmd", reason: words.failure.message })
  }
  return words.success
}

const validateArgv = (argv: Argv, where: string) => {
  if (!Array.isArray(argv) || argv.length === 0 || typeof argv[0] !== "string" || argv[0] === "") {
    throw new InvalidOption({ where, reason: "argv must be a non-empty array whose first element is the program" })
  }
}

const build = <A, E>(
  id: string,
  kind: "effect" | "shell",
  options: Options<Readonly<Record<string, Any>>, A, E, Services>,
  command: string | undefined,
  sites: () => ReadonlyArray<string>,
  shell?: ShellDefinition
): Job<A, E> => {
  if (typeof id !== "string" || id.trim() === "") {
    throw new InvalidOption({ where: sites()[0] ?? "Job.make", reason: "a job needs a non-empty string id" })
  }
  const where = `job "${id}"`
  if (typeof options?.run !== "function") {
    throw new InvalidOption({ where, reason: "run must be a function returning an Effect" })
  }
  const needs = options.needs ?? {}
  if (Object.hasOwn(needs, "config")) {
    throw new InvalidOption({ where: `${where} needs`, reason: "\"config\" is reserved for the job's config; name the need otherwise" })
  }
  const config = options.config ?? {}
  for (const [name, value] of Object.entries(config)) {
    if (!Config.isConfig(value)) {
      throw new InvalidOption({ where: `${where} config.${name}`, reason: "must be an Effect Config, e.g. Config.String(\"DB_URL\")" })
    }
  }
  if (options.layer !== undefined && !Layer.isLayer(options.layer)) {
    throw new InvalidOption({ where: `${where} layer`, reason: "must be an Effect Layer, e.g. Layer.effect(MyService)(...)" })
  }
  const inputs = options.inputs ?? []
  if (!Array.isArray(inputs) || inputs.some((path) => typeof path !== "string" || path === "")) {
    throw new InvalidOption({ where: `${where} inputs`, reason: "must be an array of non-empty paths" })
  }
  return {
    [TypeId]: TypeId,
    id,
    kind,
    needs,
    config,
    inputs,
    output: options.output,
    retry: options.retry === undefined ? undefined : retries.policy(options.retry, `${where} retry`),
    timeout: options.timeout === undefined ? undefined : duration.parse(options.timeout, `${where} timeout`),
    uses: options.uses ?? [],
    critical: options.critical ?? true,
    description: options.description,
    command,
    shell,
    // Read only to report an error (duplicate ids): formatting 10,000 stack traces up front cost ~300 ms.
    get definedAt() {
      return sites()[0]
    },
    get definedVia() {
      return sites()
    },
    layer: options.layer,
    run: options.run as Job<A, E>["run"]
  }
}

/**
 * The file:line:column of the code that called Job.make / Job.shell and of up to 3 callers above it. The frames are
 * captured now (cheap) and formatted on first use (the costly part), at most once.
 */
const callSites = (): () => ReadonlyArray<string> => {
  const holder: { stack?: string } = {}
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 6
  Error.captureStackTrace(holder, callSites)
  Error.stackTraceLimit = limit
  let sites: ReadonlyArray<string> | undefined
  return () => sites ??= format(holder.stack)
}

const format = (stack: string | undefined): ReadonlyArray<string> => {
  const cwd = globalThis.process?.cwd?.() ?? ""
  // Frames: [0] "Error", [1] make/shell, [2...] the callers.
  return (stack?.split("\n").slice(2) ?? []).flatMap((frame) => {
    const location = frame.match(/\(?((?:file:\/\/)?[^\s()]+:\d+:\d+)\)?\s*$/)?.[1]
    if (location === undefined || location.startsWith("node:")) return []
    const path = location.replace(/^file:\/\//, "")
    return [path.startsWith(cwd + "/") ? path.slice(cwd.length + 1) : path]
  }).slice(0, 4)
}
