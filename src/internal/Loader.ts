/**
 * Imports a task file and finds what to run in it: the default export if it is a Dag, otherwise the exported jobs
 * as a Dag named after the file. Every way a file can be wrong becomes an error that names the file.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Dag from "../Dag.ts"
import { InvalidOption } from "../Errors.ts"
import { NothingToRun, TaskFileInvalid, TaskFileIsFolder, TaskFileNotFound } from "./SetupErrors.ts"
import * as Job from "../Job.ts"
import * as Runtime from "./runtime/Runtime.ts"

/** The runner's own code, its sources and its build: a location inside them says nothing about the task file. */
const runnerSources = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const runnerBundle = path.join(runnerSources, "..", "dist")
const isRunnerCode = (text: string): boolean => text.includes(runnerSources) || text.includes(runnerBundle)

export type LoadError = TaskFileNotFound | TaskFileIsFolder | TaskFileInvalid | NothingToRun

export interface Loaded {
  /** The task file as given on the command line. */
  readonly file: string
  readonly dag: Dag.Dag
}

/** Imports `file` (relative to the current directory) and returns its Dag. */
export const load = (file: string): Effect.Effect<Loaded, LoadError> =>
  Effect.gen(function*() {
    const absolute = path.resolve(file)
    const stat = yield* Effect.sync(() => fs.statSync(absolute, { throwIfNoEntry: false }))
    if (stat?.isDirectory() === true) return yield* new TaskFileIsFolder({ file, taskFiles: yield* taskFilesIn(file) })
    if (stat === undefined || !stat.isFile()) return yield* new TaskFileNotFound({ file })
    yield* Effect.promise(() => Runtime.prepareTaskImports())
    const exports = yield* Effect.tryPromise({
      try: () => Runtime.importTaskFile(pathToFileURL(absolute).href),
      catch: (error) => invalid(file, absolute, error)
    })
    return { file, dag: yield* findDag(file, exports) }
  })

/** The task files of a folder (`*.ts`, `*.mts`, `*.cts`, not declaration files; not recursive), sorted. */
const taskFilesIn = (folder: string) =>
  Effect.sync(() => {
    try {
      return fs.readdirSync(folder, { withFileTypes: true })
        .filter((entry) => entry.isFile() && /\.[cm]?ts$/.test(entry.name) && !/\.d\.[cm]?ts$/.test(entry.name))
        .map((entry) => path.join(folder, entry.name))
        .sort()
    } catch {
      return [] // unreadable: the message says it holds none
    }
  })

const findDag = (file: string, exports: Record<string, unknown>): Effect.Effect<Dag.Dag, NothingToRun | TaskFileInvalid> =>
  Effect.suspend((): Effect.Effect<Dag.Dag, NothingToRun | TaskFileInvalid> => {
    if (Dag.isDag(exports["default"])) return Effect.succeed(exports["default"])
    const jobs = Object.values(exports).filter(Job.isJob)
    if (jobs.length === 0) return Effect.fail(new NothingToRun({ file }))
    const name = path.basename(file).replace(/\.[cm]?[jt]sx?$/, "")
    return Effect.try({ try: () => Dag.make(name, jobs), catch: (error) => invalid(file, path.resolve(file), error) })
  })

/** Turns whatever the import threw into an error naming the file and, when it can be found, the line. */
const invalid = (file: string, absolute: string, error: unknown): TaskFileInvalid => {
  if (error instanceof InvalidOption) {
    return new TaskFileInvalid({ file, location: locate(file, absolute, error.stack), reason: error.message })
  }
  if (error instanceof Error) {
    const location = locate(file, absolute, `${error.stack ?? ""}\n${error.message}`)
    // A parse error has no stack frame in the file itself; a SyntaxError thrown while the module runs (JSON.parse) does.
    const ranInFile = (error.stack ?? "").split("\n").some((line) => /^\s+at /.test(line) && line.includes(absolute))
    const syntax = !ranInFile && !/does not provide an export named/.test(error.message) &&
      (error instanceof SyntaxError || (error as { code?: string }).code === "ERR_INVALID_TYPESCRIPT_SYNTAX")
    const message = error.message.split("\n").filter((line) => line.trim() !== "")
    const reason = syntax
      ? `syntax error: ${message.at(-1) ?? error.message}`
      : `failed to load: ${error.name}: ${message.join(" ")}` + (location === undefined ? userFrames(error.stack) : "")
    return new TaskFileInvalid({ file, location, reason })
  }
  return new TaskFileInvalid({ file, location: undefined, reason: `failed to load: threw ${String(error)}` })
}

/** The stack frames that point at user code (not Node internals, not the runner), to show where a load failed. */
const userFrames = (stack: string | undefined): string => {
  const frames = (stack ?? "").split("\n").filter((line) =>
    /^\s+at /.test(line) && !/\(node:|at node:/.test(line) && !isRunnerCode(line) && !line.includes("/node_modules/")
  )
  return frames.length === 0 ? "" : `\n${frames.join("\n")}`
}

/** The first `file:line[:col]` in `text` that points into the task file (or, failing that, any task source). */
const locate = (file: string, absolute: string, text: string | undefined): string | undefined => {
  if (text === undefined) return undefined
  const escaped = absolute.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  const own = new RegExp(`(?:file://)?${escaped}:(\\d+)(?::(\\d+))?`).exec(text)
  if (own !== null) return `${file}:${own[1]}${own[2] === undefined ? "" : `:${own[2]}`}`
  const other = /(?:file:\/\/)?(\/[^\s():]+\.[cm]?tsx?):(\d+)(?::(\d+))?/.exec(text)
  if (other !== null && !other[1]!.includes("/node_modules/") && !isRunnerCode(other[1]!)) {
    return `${path.relative(process.cwd(), other[1]!)}:${other[2]}${other[3] === undefined ? "" : `:${other[3]}`}`
  }
  return undefined
}
