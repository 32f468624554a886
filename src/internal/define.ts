/**
 * How `Job.make` and `Job.command` build a job: options validated when the task file loads (so a bad duration fails
 * with the file and option named), and where the job was defined, captured cheaply and formatted only when an error
 * needs it.
 */
import * as Config from "effect/Config"
import * as Layer from "effect/Layer"
import { InvalidOption } from "../Errors.ts"
import type * as Job from "../Job.ts"
import * as CachePolicy from "./cache/Policy.ts"
import * as duration from "./duration.ts"
import * as retries from "./retries.ts"

/** Marks a job; `Job.isJob` checks for it. */
export const TypeId = "~effect-runner/Job" as const

/** Throws InvalidOption unless `argv` is a non-empty array whose first element names the program. */
export const validateArgv = (argv: Job.Argv, where: string) => {
  if (!Array.isArray(argv) || argv.length === 0 || typeof argv[0] !== "string" || argv[0] === "") {
    throw new InvalidOption({ where, reason: "argv must be a non-empty array whose first element is the program" })
  }
}

/** Validates a job's options (InvalidOption naming the job and option) and makes the job. */
export const build = <A, E>(
  id: string,
  kind: "effect" | "shell",
  options: Job.Options<Readonly<Record<string, Job.Any>>, A, E, Job.Services>,
  command: string | undefined,
  sites: Sites,
  shell?: Job.ShellDefinition
): Job.Job<A, E> => {
  if (typeof id !== "string" || id.trim() === "") {
    throw new InvalidOption({ where: formatted(sites)[0] ?? "Job.make", reason: "a job needs a non-empty string id" })
  }
  if (typeof options?.run !== "function") {
    throw new InvalidOption({ where: named(id), reason: "run must be a function returning an Effect" })
  }
  const needs = options.needs ?? {}
  if (Object.hasOwn(needs, "config")) {
    throw new InvalidOption({ where: `${named(id)} needs`, reason: "\"config\" is reserved for the job's config; name the need otherwise" })
  }
  const config = options.config ?? {}
  // Only what was given is checked: 10,000 jobs that set no config or inputs pay for no checks.
  if (options.config !== undefined) {
    for (const [name, value] of Object.entries(config)) {
      if (!Config.isConfig(value)) {
        throw new InvalidOption({ where: `${named(id)} config.${name}`, reason: "must be an Effect Config, e.g. Config.String(\"DB_URL\")" })
      }
    }
  }
  if (options.layer !== undefined && !Layer.isLayer(options.layer)) {
    throw new InvalidOption({ where: `${named(id)} layer`, reason: "must be an Effect Layer, e.g. Layer.effect(MyService)(...)" })
  }
  const inputs = options.inputs ?? []
  if (options.inputs !== undefined && (!Array.isArray(inputs) || inputs.some((path) => typeof path !== "string" || path === ""))) {
    throw new InvalidOption({ where: `${named(id)} inputs`, reason: "must be an array of non-empty paths" })
  }
  return new JobImpl(
    id,
    kind,
    needs,
    config,
    inputs,
    options.output,
    options.retry === undefined ? undefined : retries.policy(options.retry, `${named(id)} retry`),
    options.timeout === undefined ? undefined : duration.parse(options.timeout, `${named(id)} timeout`),
    options.uses ?? [],
    options.critical ?? true,
    options.description,
    command,
    shell,
    sites,
    options.layer,
    options.cache === undefined ? undefined : options.cache === false ? false : CachePolicy.make(options.cache, named(id)),
    options.run as Job.Job<A, E>["run"]
  ) as unknown as Job.Job<A, E>
}

/** How errors name a job's options: `job "<id>"`. */
const named = (id: string) => `job "${id}"`

/** Where a job's call sites are kept (formatted on first use): a symbol, so no `Object.keys` of a job sees it. */
const sitesOf = Symbol.for("effect-runner/Job/sites")

/**
 * A job. A class rather than an object literal given a prototype (`Object.setPrototypeOf`): V8 builds it in one
 * shape from its constructor: 10,000 `Job.make` calls took ~10-25% less CPU on Node and ~30% less on Deno.
 * `definedAt` and `definedVia` are read only to report an error or to key a cache, and formatting 10,000 stack
 * traces up front cost ~300 ms, so they are getters on the prototype (own getters, a closure per job, made every job
 * a slow dictionary object, ~700 bytes more each).
 */
class JobImpl {
  constructor(
    id: string,
    kind: "effect" | "shell",
    needs: Readonly<Record<string, Job.Any>>,
    config: Job.ConfigSpec,
    inputs: ReadonlyArray<string>,
    output: unknown,
    retry: unknown,
    timeout: unknown,
    uses: ReadonlyArray<unknown>,
    critical: boolean,
    description: string | undefined,
    command: string | undefined,
    shell: Job.ShellDefinition | undefined,
    sites: Sites,
    layer: unknown,
    cache: unknown,
    run: unknown
  ) {
    // Assigned in the order the object literal had: `Object.keys` of a job is unchanged.
    const self = this as unknown as Record<string | symbol, unknown>
    self[TypeId] = TypeId
    self["id"] = id
    self["kind"] = kind
    self["needs"] = needs
    self["config"] = config
    self["inputs"] = inputs
    self["output"] = output
    self["retry"] = retry
    self["timeout"] = timeout
    self["uses"] = uses
    self["critical"] = critical
    self["description"] = description
    self["command"] = command
    self["shell"] = shell
    self[sitesOf] = sites
    self["layer"] = layer
    self["cache"] = cache
    self["run"] = run
  }
  get definedAt(): string | undefined {
    return formatted((this as unknown as { readonly [sitesOf]: Sites })[sitesOf])[0]
  }
  get definedVia(): ReadonlyArray<string> {
    return formatted((this as unknown as { readonly [sitesOf]: Sites })[sitesOf])
  }
}

/** The stack captured where a job was defined, and its call sites once formatted. */
export interface Sites {
  readonly stack?: string
  formatted?: ReadonlyArray<string>
}

/**
 * The stack at the call to Job.make / Job.command, to find the file:line:column of that call and of up to 3 callers
 * above it. Only captured now; formatted on first use (the costly part), at most once. One object per job: the
 * stack's holder keeps its formatted sites too. `called` is the public function the user called, which calls this
 * directly: on V8 the capture starts above it (each frame walked costs ~0.25 µs, the capture ~1.3 µs more).
 *
 * Captured for the first `recordedAtOnce` jobs defined in one synchronous stretch (a task file's module evaluation is
 * one), then no more, unless `recordAllSites` is on. Even the capture is costly where a DAG has thousands of jobs:
 * 10,000 captures took 35-65 ms on Deno (whose V8 walks 10 frames for every capture, whatever the limit), 35-60 on
 * Node and ~15 on Bun here, a third of a 10,000-job resume. A job without them is `unrecorded`: see its uses.
 * `always`: whatever the count, and not counted (a DAG's, one per `Dag.make`).
 */
export const callSites = (called: (...args: never) => unknown, always = false): Sites => {
  if (!always) {
    if (definedAtOnce++ === 0) queueMicrotask(endStretch)
    if (definedAtOnce > recordedAtOnce && !recordingAll) return unrecorded
  }
  // Captured here, not in a helper: JavaScriptCore leaves out the frame of a function that returns a call's result at
  // once, so Bun's stack would lose one of the frames `ownFrames` counts (and skip a caller's instead).
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = onBun ? 7 : 5
  const sites: Sites = onBun ? new Error() : {}
  if (!onBun) Error.captureStackTrace(sites, called)
  Error.stackTraceLimit = limit
  return sites
}

/**
 * How many jobs of a stretch have their call sites recorded. Task files written by hand define far fewer, so their
 * errors always say where; only DAGs generated by a loop go past it.
 */
export const recordedAtOnce = 1_000

/** The jobs defined since the current synchronous stretch began (reset when it ends). */
let definedAtOnce = 0
const endStretch = () => {
  definedAtOnce = 0
}

/** Whether every job's call sites are recorded, past `recordedAtOnce` too. */
let recordingAll = false

/**
 * Records the call sites of every job defined from now on, or stops (the previous setting is returned). The workspace
 * loader turns it on: it tells the package of a job by where it was defined.
 */
export const recordAllSites = (on: boolean): boolean => {
  const was = recordingAll
  recordingAll = on
  return was
}

/**
 * The sites of a job defined past `recordedAtOnce`: none. Its duplicate-id error says so; its cache key counts the
 * local modules of where its DAG was made instead (cache/Key.ts), a superset when that file imports the job's.
 */
const unrecorded: Sites = Object.freeze({ formatted: Object.freeze([]) })

/** How an error names the place of a job without call sites. */
export const unrecordedPlace = `a place not recorded (only the first ${recordedAtOnce} jobs defined at once record theirs)`

/**
 * Bun's `Error.captureStackTrace` formats the stack at once, while its `new Error()` keeps it until read: 10,000
 * `Job.make` took ~25 ms less CPU with `new Error()` (its stack then starts with `callSites` itself). On V8 (Node,
 * Deno) it is the other way round, by a little: an Error is the bigger object.
 */
const onBun = "Bun" in globalThis

/** The lines before the callers': "Error", and on Bun the frames of `callSites` and of make/command/shell/Dag.make. */
const ownFrames = onBun ? 3 : 1

/** The call sites, innermost first, as `file:line:column` (relative to the current folder when under it). */
export const formatted = (sites: Sites): ReadonlyArray<string> => sites.formatted ??= format(sites.stack)

const format = (stack: string | undefined): ReadonlyArray<string> => {
  const cwd = globalThis.process?.cwd?.() ?? ""
  return (stack?.split("\n").slice(ownFrames) ?? []).flatMap((frame) => {
    const location = frame.match(/\(?((?:file:\/\/)?[^\s()]+:\d+:\d+)\)?\s*$/)?.[1]
    // Runtimes' own frames: Node's `node:…`, Bun's `native:…` (Array.from calling back, say).
    if (location === undefined || location.startsWith("node:") || location.startsWith("native:")) return []
    const path = location.replace(/^file:\/\//, "")
    return [path.startsWith(cwd + "/") ? path.slice(cwd.length + 1) : path]
  }).slice(0, 4)
}
