/**
 * What a run would do with each job of a plan, without running anything: run it (and why) or reuse a kept success.
 * `--dry-run` prints it and `runner why` explains one job with it. The decision for each job with `cache` is the
 * run's own (`Reuse.decide`), made with the outputs its needs would have: a need previewed as reused passes its kept
 * output; a need that would run has no output yet, so its dependents run too — unless its output comes out unchanged
 * (early cutoff), which a preview cannot know. `runner why` assumes instead that such a need's output is that of its
 * newest kept success, and says so.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Journal from "../Journal.ts"
import type * as Plan from "../Plan.ts"
import * as Resume from "../Resume.ts"
import type * as Key from "./Key.ts"
import * as Manifest from "./Manifest.ts"
import * as CachePolicy from "./Policy.ts"
import * as Reuse from "./Reuse.ts"

export type Verdict =
  /** The job has no `cache`: it always runs. */
  | { readonly _tag: "NoCache" }
  /** The job would not run: this kept success's output is passed on. */
  | { readonly _tag: "Cached"; readonly entry: Journal.CacheEntry; readonly manifest: Manifest.Manifest | undefined }
  /**
   * The job would run, because of `reason`. `manifest`: today's, when it could be made (not when a need would run
   * first, nor when the key is unusable).
   */
  | { readonly _tag: "Runs"; readonly reason: string; readonly manifest: Manifest.Manifest | undefined }

export interface Previewed {
  readonly jobId: string
  readonly verdict: Verdict
  /**
   * Needs assumed to give the output of their newest kept success although they would run (`assumeKept` only), with
   * that success's run (undefined: none is kept, so the job's manifest could not be made).
   */
  readonly assumed: ReadonlyArray<{ readonly need: string; readonly jobId: string; readonly runId: string | undefined }>
}

export interface Options {
  readonly lookup: Reuse.Lookup
  readonly context: Key.Context
  /** Why a job reuses nothing in this invocation (`Reuse.forcing`), or undefined. */
  readonly forced: (jobId: string) => string | undefined
  readonly now: number
  /**
   * For a need that would run, take the output of its newest kept success (`runner why`) instead of running its
   * dependents too (`--dry-run`).
   */
  readonly assumeKept: boolean
}

/** Each job of the plan, in the plan's order, with what a run would do with it. */
export const plan = (
  planned: Plan.Plan,
  options: Options
): Effect.Effect<ReadonlyArray<Previewed>, Journal.JournalError> =>
  Effect.gen(function*() {
    const hashes = Resume.definitionHashes(planned)
    const dag = planned.dag.name
    const out: Array<Previewed> = []
    /** Each job's newest kept success, looked up once (for `assumeKept`). */
    const kept = new Map<number, Option.Option<Journal.CacheEntry>>()
    const latest = (index: number): Effect.Effect<Option.Option<Journal.CacheEntry>, Journal.JournalError> =>
      Effect.suspend(() => {
        const known = kept.get(index)
        if (known !== undefined) return Effect.succeed(known)
        return Effect.map(options.lookup.latestCached(dag, planned.jobs[index]!.job.id), (found) => {
          kept.set(index, found)
          return found
        })
      })
    for (const { deps, index, job } of planned.jobs) {
      const policy = CachePolicy.effective(job.cache, planned.dag.cache)
      if (policy === undefined) {
        out.push({ jobId: job.id, verdict: { _tag: "NoCache" }, assumed: [] })
        continue
      }
      const forced = options.forced(job.id)
      const needs: Array<readonly [string, string | undefined]> = []
      const running: Array<string> = []
      const assumed: Array<Previewed["assumed"][number]> = []
      for (const dep of deps) {
        const depId = planned.jobs[dep.index]!.job.id
        const before = out[dep.index]!.verdict
        if (before._tag === "Cached") {
          needs.push([dep.name, before.entry.json])
          continue
        }
        if (options.assumeKept) {
          const found = yield* latest(dep.index)
          assumed.push({ need: dep.name, jobId: depId, runId: Option.getOrUndefined(Option.map(found, (e) => e.runId)) })
          if (Option.isSome(found)) {
            needs.push([dep.name, found.value.json])
            continue
          }
        }
        running.push(depId)
      }
      let verdict: Verdict
      if (running.length > 0) {
        verdict = { _tag: "Runs", reason: forced ?? needsRun(running, options.assumeKept), manifest: undefined }
      } else {
        const decided = yield* Effect.result(Reuse.decide(options.lookup, options.context, {
          dag,
          job,
          policy,
          definitionHash: hashes.of(index),
          needs,
          forced,
          now: options.now
        }))
        if (decided._tag === "Failure") {
          const error = decided.failure
          if (error._tag === "JournalError") return yield* Effect.fail(error)
          verdict = { _tag: "Runs", reason: `${error.message} (a run stops at its preflight)`, manifest: undefined }
        } else if (decided.success._tag === "Hit") {
          const entry = decided.success.entry
          verdict = { _tag: "Cached", entry, manifest: Manifest.decode(entry.manifest) }
        } else {
          const record = decided.success.record
          verdict = {
            _tag: "Runs",
            reason: decided.success.reason,
            manifest: record === undefined ? undefined : Manifest.decode(record.manifest)
          }
        }
      }
      out.push({ jobId: job.id, verdict, assumed })
    }
    return out
  })

const needsRun = (ids: ReadonlyArray<string>, assumeKept: boolean): string => {
  const names = ids.length === 1 ? ids[0]! : `${ids.slice(0, -1).join(", ")} and ${ids.at(-1)}`
  return assumeKept
    ? `needs ${names}, which ${ids.length === 1 ? "runs and has" : "run and have"} no kept success to compare with`
    : `needs ${names}, which ${ids.length === 1 ? "runs" : "run"}; it is skipped after all if ` +
      `${ids.length === 1 ? `${names}'s output comes` : "their outputs come"} out unchanged`
}
