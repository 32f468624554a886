/**
 * Who and what executed a run, recorded with every start and resume so a past run can be reproduced: the user, host
 * and pid, the runner, Effect and runtime versions, the task file, and — when the task file is in a git repository —
 * its commit and whether the tree had uncommitted changes. A task file git does not track is recorded as untracked,
 * without a commit: no commit holds it, so none could reproduce the run.
 *
 * git costs a process each (~10–35 ms of the runner's CPU on Node, which forks its whole process to start one), so a
 * task file in no repository (no `.git` in its folder or above, GIT_DIR unset) starts none, and one in a repository
 * starts two: `status --porcelain=v2 --branch` gives the commit and the changes at once (bench/README.md, issue 18).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as ChildProcess from "effect/process/ChildProcess"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as versions from "./versions.ts"
import * as Runtime from "./runtime/Runtime.ts"

export interface Audit {
  readonly at: number
  readonly user: string
  readonly host: string
  readonly pid: number
  readonly runnerVersion: string
  readonly effectVersion: string
  readonly runtime: string
  /** The task file, absolute. */
  readonly taskFile: string
  /** The commit of the task file's repository, if it is in one, tracks the file (and git is installed). */
  readonly gitCommit: string | undefined
  /** Whether that repository had uncommitted changes. */
  readonly gitDirty: boolean | undefined
  /** False when the task file is in a repository that does not track it; undefined outside a repository. */
  readonly gitTracked: boolean | undefined
}

/**
 * An audit record as the journal keeps it (`runs.executions`, a JSON array, one record per start or resume), read back
 * with this Schema. Absent values are left out; `gitTracked` is absent from records older runners wrote. Fields a later
 * runner may add are kept as they are.
 */
export const Record = Schema.StructWithRest(
  Schema.Struct({
    at: Schema.Number,
    user: Schema.String,
    host: Schema.String,
    pid: Schema.Number,
    runnerVersion: Schema.String,
    effectVersion: Schema.String,
    runtime: Schema.String,
    taskFile: Schema.String,
    gitCommit: Schema.optionalKey(Schema.String),
    gitDirty: Schema.optionalKey(Schema.Boolean),
    gitTracked: Schema.optionalKey(Schema.Boolean)
  }),
  [Schema.Record(Schema.String, Schema.Unknown)]
)

/** The `runs.executions` column: the audit records of a run, oldest first, as JSON text. */
export const Executions = Schema.fromJsonString(Schema.Array(Record))

const userName = (): string => {
  try {
    return os.userInfo().username
  } catch {
    return process.env["USER"] ?? "unknown"
  }
}

/**
 * Whether git could find a repository for `folder`: a `.git` (folder, or file in a worktree or submodule) in it or
 * above, or GIT_DIR set. False means git would only fail, so it is not started. Looked up from the real path, as git
 * does from the folder it changes into (a symlinked folder leads into the repository it points into).
 */
const inRepository = (folder: string): boolean => {
  if (process.env["GIT_DIR"] !== undefined) return true
  let real = folder
  try {
    real = fs.realpathSync(folder)
  } catch {
    // a folder that is gone: git will say so
  }
  for (let dir = real; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, ".git"))) return true
    if (path.dirname(dir) === dir) return false
  }
}

/** Collects the audit facts of this process for a task file; git facts are best effort (absent without git). */
export const collect = (taskFile: string, runnerVersion: string): Effect.Effect<Audit, never, ChildProcessSpawner> =>
  Effect.gen(function*() {
    const spawner = yield* ChildProcessSpawner
    const absolute = path.resolve(taskFile)
    const git = (...args: ReadonlyArray<string>) =>
      spawner.string(ChildProcess.make("git", ["-C", path.dirname(absolute), ...args], { stdin: "ignore" })).pipe(
        Effect.map((out) => out.trim()),
        Effect.orElseSucceed(() => "")
      )
    // Both at once. `status` starts with `# branch.oid <commit>` ("(initial)" before the first commit), then one line
    // per changed tracked file; `ls-files` prints the file if it is tracked. Outside a repository both print nothing.
    const [status, tracked] = yield* ((yield* Effect.sync(() => inRepository(path.dirname(absolute))))
      ? Effect.all([
        git("status", "--porcelain=v2", "--branch", "--untracked-files=no"),
        git("ls-files", "--", absolute)
      ], { concurrency: 2 })
      : Effect.succeed(["", ""] as const))
    const lines = status === "" ? [] : status.split("\n")
    const commit = lines.find((line) => line.startsWith("# branch.oid "))?.slice("# branch.oid ".length) ?? ""
    const inRepo = /^[0-9a-f]{40,64}$/.test(commit)
    const changed = lines.some((line) => !line.startsWith("#"))
    return {
      at: yield* Clock.currentTimeMillis,
      user: userName(),
      host: os.hostname(),
      pid: process.pid,
      runnerVersion,
      effectVersion: versions.effect,
      runtime: Runtime.version,
      taskFile: absolute,
      gitCommit: inRepo && tracked !== "" ? commit : undefined,
      gitDirty: inRepo && tracked !== "" ? changed : undefined,
      gitTracked: inRepo ? tracked !== "" : undefined
    }
  })
