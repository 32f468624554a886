/**
 * Who and what executed a run, recorded with every start and resume so a past run can be reproduced: the user, host
 * and pid, the runner, Effect and runtime versions, the task file, and — when the task file is in a git repository —
 * its commit and whether the tree had uncommitted changes. A task file git does not track is recorded as untracked,
 * without a commit: no commit holds it, so none could reproduce the run.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as ChildProcess from "effect/process/ChildProcess"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
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
    // All at once (~15 ms each); outside a repository they print nothing useful. `ls-files` prints the file if tracked.
    const [commit, status, tracked] = yield* Effect.all([
      git("rev-parse", "HEAD"),
      git("status", "--porcelain", "--untracked-files=no"),
      git("ls-files", "--", absolute)
    ], { concurrency: 3 })
    const inRepo = /^[0-9a-f]{40,64}$/.test(commit)
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
      gitDirty: inRepo && tracked !== "" ? status !== "" : undefined,
      gitTracked: inRepo ? tracked !== "" : undefined
    }
  })
