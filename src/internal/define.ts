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
  sites: () => ReadonlyArray<string>,
  shell?: Job.ShellDefinition
): Job.Job<A, E> => {
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
  return Object.setPrototypeOf({
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
    [sitesOf]: sites,
    layer: options.layer,
    cache: options.cache === false ? false : CachePolicy.make(options.cache, where),
    run: options.run as Job.Job<A, E>["run"]
  }, JobProto)
}

/** Where a job's call sites are kept (formatted on first use): a symbol, so no `Object.keys` of a job sees it. */
const sitesOf = Symbol.for("effect-runner/Job/sites")

/**
 * The prototype of every job: `definedAt` and `definedVia` are read only to report an error (duplicate ids), and
 * formatting 10,000 stack traces up front cost ~300 ms, so they are getters. On the prototype, not on each job: V8
 * turns an object whose literal has getters of its own (a new closure per job) into a slow dictionary object, measured
 * at ~700 bytes more per job (7 MB of a 10,000-job DAG's heap), and every job of a DAG now shares one shape.
 */
const JobProto = {
  get definedAt(): string | undefined {
    return (this as unknown as { readonly [sitesOf]: () => ReadonlyArray<string> })[sitesOf]()[0]
  },
  get definedVia(): ReadonlyArray<string> {
    return (this as unknown as { readonly [sitesOf]: () => ReadonlyArray<string> })[sitesOf]()
  }
}

/**
 * The file:line:column of the code that called Job.make / Job.command and of up to 3 callers above it. The frames are
 * captured now (cheap) and formatted on first use (the costly part), at most once. Call it directly from the public
 * constructor: the frame above it is skipped as the constructor's own.
 */
export const callSites = (): () => ReadonlyArray<string> => {
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
  // Frames: [0] "Error", [1] make/command/shell, [2...] the callers.
  return (stack?.split("\n").slice(2) ?? []).flatMap((frame) => {
    const location = frame.match(/\(?((?:file:\/\/)?[^\s()]+:\d+:\d+)\)?\s*$/)?.[1]
    if (location === undefined || location.startsWith("node:")) return []
    const path = location.replace(/^file:\/\//, "")
    return [path.startsWith(cwd + "/") ? path.slice(cwd.length + 1) : path]
  }).slice(0, 4)
}
