/**
 * Whether a job with `cache` runs or reuses an earlier success: the newest success kept under its key (any run, any
 * trigger, in this journal) is reused unless it is older than the job's `ttl`, the job's declared `outputs` are
 * missing, or its output no longer decodes with the job's current schema. Failures and interruptions are never kept,
 * so never reused. A miss says why, in words: against the job's newest kept success, each part of the manifest that
 * differs ("file src/a.ts changed", "env NODE_ENV differs", "needed output of build changed").
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import type * as Job from "../../Job.ts"
import * as Encoding from "../Encoding.ts"
import type * as Journal from "../Journal.ts"
import type * as RunEvent from "../RunEvent.ts"
import type * as FileHashes from "./FileHashes.ts"
import * as Key from "./Key.ts"
import * as Manifest from "./Manifest.ts"
import type * as Policy from "./Policy.ts"

export type Decision =
  /** The job does not run: this success's output is passed on. */
  | { readonly _tag: "Hit"; readonly entry: Journal.CacheEntry; readonly output: unknown }
  /** The job runs, because of `reason`; its success is kept under `record` (none when the key is unusable). */
  | {
    readonly _tag: "Miss"
    readonly reason: string
    /** True when the reason compares with an earlier success (worth telling); false for a first run or a forced one. */
    readonly explained: boolean
    readonly record: RunEvent.CacheRecord | undefined
    readonly unmatched: ReadonlyArray<string>
  }

export interface Request {
  readonly dag: string
  readonly job: Job.Any
  readonly policy: Policy.Policy
  readonly definitionHash: string
  readonly needs: ReadonlyArray<readonly [name: string, json: string | undefined]>
  /** Reuse nothing (`--force`, `RUNNER_CACHE=off`): why, to say so. The success is still kept. */
  readonly forced: string | undefined
  readonly now: number
}

/**
 * What a decision reads of the journal: the success kept under a key, and a job's newest one. A run passes its
 * Journal; `--dry-run` and `runner why` pass a read-only view of the journal file (see Preview.ts).
 */
export type Lookup = Pick<Journal.Journal["Service"], "cached" | "latestCached">

/**
 * Which jobs reuse nothing in one invocation, and why (the reason a forced miss gives): `RUNNER_CACHE=off` (all),
 * `--force` (all) or `--force=<job>,...` (those named). Shared by runs and their previews.
 */
export const forcing = (off: boolean, force: "all" | ReadonlyArray<string> | undefined) => {
  const named = new Set(Array.isArray(force) ? force : [])
  return (jobId: string): string | undefined =>
    off
      ? "RUNNER_CACHE=off: nothing is reused"
      : force === "all"
      ? "--force: nothing is reused"
      : named.has(jobId)
      ? "--force names it"
      : undefined
}

export const decide = (
  journal: Lookup,
  ctx: Key.Context,
  request: Request
): Effect.Effect<Decision, FileHashes.FileUnreadable | Journal.JournalError> =>
  Effect.gen(function*() {
    const { job, policy } = request
    const keyed = yield* Key.make(ctx, job, policy, request.definitionHash, request.needs)
    if (keyed._tag === "Unusable") {
      return { _tag: "Miss", reason: keyed.reason, explained: true, record: undefined, unmatched: [] } as const
    }
    // Encoded once (JSON of every part: 10,000 files make ~1 MB, ~5 ms), when a hit is checked or a miss kept.
    let encoded: string | undefined
    const encode = () => encoded ??= Manifest.encode(keyed.manifest)
    const miss = (reason: string, explained = true): Decision => ({
      _tag: "Miss",
      reason,
      explained,
      record: { key: keyed.manifest.key, manifest: encode() },
      unmatched: keyed.unmatched
    })
    if (request.forced !== undefined) return miss(request.forced, false)
    const found = yield* journal.cached(keyed.manifest.key)
    if (Option.isNone(found)) {
      const why = yield* explain(journal, request.dag, job.id, keyed.manifest)
      return miss(why.reason, why.earlier)
    }
    const entry = found.value
    const from = `the success of run ${entry.runId}`
    // The same key means the same canonical parts, so the same encoded manifest: any other text is a damaged row.
    if (entry.manifest !== encode()) return miss(`the kept entry of ${from} is damaged (its manifest does not match its key)`)
    const age = request.now - entry.createdAt
    if (policy.ttl !== undefined && age > Duration.toMillis(policy.ttl)) {
      return miss(`${from} is older than its ttl (${Duration.format(policy.ttl)})`)
    }
    const missing = missingOutputs(policy, ctx.cwd)
    if (missing !== undefined) return miss(`its declared output ${JSON.stringify(missing)} is missing`)
    const unrestorable = Encoding.unrestorableReason(entry.json)
    if (unrestorable !== undefined) return miss(`${from} could not be journaled exactly (${unrestorable})`)
    const decoded = yield* Effect.result(Encoding.decode(job.output, entry.json))
    if (decoded._tag === "Failure") return miss(`the output of ${from} no longer decodes with its schema (${decoded.failure})`)
    return { _tag: "Hit", entry, output: decoded.success } as const
  })

/** Why there is no success under this key: what differs from the job's newest kept success, or that there is none. */
export const explain = (
  journal: Lookup,
  dag: string,
  jobId: string,
  current: Manifest.Manifest
): Effect.Effect<{ readonly reason: string; readonly earlier: boolean }, Journal.JournalError> =>
  Effect.map(journal.latestCached(dag, jobId), (latest) => {
    if (Option.isNone(latest)) return { reason: "no earlier success is kept for it", earlier: false }
    const previous = Manifest.decode(latest.value.manifest)
    if (previous === undefined) return { reason: "its kept success's manifest is unreadable", earlier: true }
    const differences = Manifest.differences(previous, current)
    if (differences.length === 0) return { reason: "its kept success is under another key (written by another runner version?)", earlier: true }
    const shown = differences.slice(0, 3).join("; ")
    return { reason: differences.length > 3 ? `${shown}; and ${differences.length - 3} more (runner why)` : shown, earlier: true }
  })

/** The first declared output glob that matches no file, if any. */
const missingOutputs = (policy: Policy.Policy, cwd: string): string | undefined => {
  const root = policy.root ?? cwd
  for (const pattern of policy.outputs) {
    let found = false
    for (const _ of fs.globSync(pattern, { cwd: root })) {
      found = true
      break
    }
    if (!found) return pattern
  }
  return undefined
}
