/**
 * What `--dry-run` and `runner why` share: a read-only view of the journal's cache (its kept successes and file-hash
 * memo) and the preview of a plan against it (cache/Preview.ts). The journal is opened as `runner history` opens it,
 * and never created: with no journal file (or `--journal none`) nothing is kept, so every job with `cache` would run.
 * Nothing is written: file hashes computed for the preview stay in memory.
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as fs from "node:fs"
import type { InvalidOption } from "../../Errors.ts"
import * as FileHashes from "../cache/FileHashes.ts"
import * as Key from "../cache/Key.ts"
import * as CachePolicy from "../cache/Policy.ts"
import * as Preview from "../cache/Preview.ts"
import * as Reuse from "../cache/Reuse.ts"
import * as Environment from "../Environment.ts"
import { JournalError } from "../Journal.ts"
import type * as Plan from "../Plan.ts"
import * as Preflight from "../Preflight.ts"
import { type JournalNotFound, JournalUnreadable } from "../SetupErrors.ts"
import * as CacheQueries from "../sql/CacheQueries.ts"
import { isPostgresUrl } from "../sql/Dialect.ts"
import { journalPath } from "./common.ts"
import { describeError, withJournal } from "./operator.ts"
import { version } from "./version.ts"

/** The journal's cache, read-only. */
export interface View {
  /** The journal file, or undefined for `--journal none`. */
  readonly file: string | undefined
  /** Whether the file exists (when it does not, nothing is kept and nothing was created). */
  readonly exists: boolean
  readonly lookup: Reuse.Lookup
  /** The journal's file-hash memo, copied: what the preview hashes is not written back. */
  readonly memo: FileHashes.Memo
}

const nothingKept: Reuse.Lookup = {
  cached: () => Effect.succeed(Option.none()),
  latestCached: () => Effect.succeed(Option.none())
}

/** Runs `use` with the cache of the journal the flag names (or none, when there is no such file). */
export const withView = <A, E>(
  flag: Option.Option<string>,
  use: (view: View) => Effect.Effect<A, E>
): Effect.Effect<A, Exclude<E, JournalError | SqlError> | JournalNotFound | JournalUnreadable | InvalidOption> =>
  Effect.suspend((): Effect.Effect<A, Exclude<E, JournalError | SqlError> | JournalNotFound | JournalUnreadable | InvalidOption> => {
    const file = journalPath(flag)
    if (file === "none" || (!isPostgresUrl(file) && !fs.existsSync(file))) {
      // Nothing is read, so nothing fails to be; the journal's errors are mapped as withJournal maps them.
      return use({ file: file === "none" ? undefined : file, exists: false, lookup: nothingKept, memo: FileHashes.memoryMemo() })
        .pipe(Effect.mapError((error) =>
          error instanceof JournalError
            ? new JournalUnreadable({ path: file, reason: describeError(error) })
            : error as Exclude<E, JournalError | SqlError>
        ))
    }
    return withJournal(flag, (file) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const memo = FileHashes.memoryMemo()
        for (const [path, known] of yield* CacheQueries.fileHashes()) memo.entries.set(path, known)
        const read = <X, Y>(effect: Effect.Effect<X, Y, SqlClient.SqlClient>) =>
          effect.pipe(
            Effect.provideService(SqlClient.SqlClient, sql),
            Effect.mapError((error) => new JournalError({ operation: "read cache", reason: describeError(error) }))
          )
        const lookup: Reuse.Lookup = {
          cached: (key) => read(CacheQueries.entry(key)),
          latestCached: (dag, jobId) => read(CacheQueries.latest(dag, jobId))
        }
        return yield* use({ file, exists: true, lookup, memo })
      }))
  })

/** Whether any job of the plan has `cache`. */
export const hasCache = (plan: Plan.Plan): boolean =>
  plan.jobs.some((p) => CachePolicy.effective(p.job.cache, plan.dag.cache) !== undefined)

export interface Request {
  readonly envFile: Option.Option<string>
  /** `--force` as the run takes it. */
  readonly force: "all" | ReadonlyArray<string> | undefined
  readonly assumeKept: boolean
  /** The run's slot key (`--key` of a slot of the DAG's schedule), which enters the keys. */
  readonly partition?: string | undefined
}

/**
 * The plan's preview against the view: declared env values and `RUNNER_CACHE` are read as a run reads them (the
 * environment, then `--env-file`).
 */
export const preview = (view: View, plan: Plan.Plan, request: Request) =>
  Effect.gen(function*() {
    const provider = yield* Environment.provider({ env: process.env, envFile: Option.getOrUndefined(request.envFile) })
    const resolved = yield* Preflight.inspect(plan, provider)
    const setting = yield* Effect.orElseSucceed(
      Config.String("RUNNER_CACHE").pipe(Config.withDefault("")).parse(provider),
      () => ""
    )
    const now = yield* Clock.currentTimeMillis
    const context = Key.context({ runnerVersion: version, memo: view.memo, env: resolved.cacheEnv, cwd: process.cwd(), partition: request.partition, dagDefinedVia: plan.dag.definedVia })
    const previewed = yield* Preview.plan(plan, {
      lookup: view.lookup,
      context,
      forced: Reuse.forcing(setting.trim().toLowerCase() === "off", request.force),
      now,
      assumeKept: request.assumeKept
    })
    return { previewed, now }
  })

/** An age in the largest unit that keeps it readable: `45s`, `12m`, `3h`, `2d`. */
export const age = (millis: number): string => {
  const s = Math.max(0, Math.floor(millis / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m`
  if (s < 86_400) return `${Math.floor(s / 3600)}h${s % 3600 >= 60 ? `${Math.floor((s % 3600) / 60)}m` : ""}`
  return `${Math.floor(s / 86_400)}d${s % 86_400 >= 3600 ? `${Math.floor((s % 86_400) / 3600)}h` : ""}`
}

/** `run (why)` or `cached (from run R, 5m ago)`. */
export const describe = (verdict: Preview.Verdict, now: number): string => {
  switch (verdict._tag) {
    case "NoCache":
      return "run (no cache)"
    case "Runs":
      return `run (${verdict.reason})`
    case "Cached":
      return `cached (from run ${verdict.entry.runId}, ${age(now - verdict.entry.createdAt)} ago)`
  }
}
