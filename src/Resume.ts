/**
 * What a resumed run reuses: a job that succeeded earlier in the run is restored (its journaled output decoded and
 * passed on) only if its definition is unchanged (its code is compared only on the same runtime and version), everything it needs is restored too, and the output still decodes
 * with its `output` Schema. Every other job runs, and people are told why.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import type * as Dag from "./Dag.ts"
import * as Journal from "./Journal.ts"

export interface Decision {
  /** Outputs of the jobs that are restored, by job id. */
  readonly restored: ReadonlyMap<string, unknown>
  /** Why a job that succeeded earlier runs again. */
  readonly notes: ReadonlyArray<string>
}

export const decide = (plan: Dag.Plan, succeeded: ReadonlyArray<Journal.SucceededJob>): Effect.Effect<Decision> =>
  Effect.gen(function*() {
    const byId = new Map(succeeded.map((row) => [row.jobId, row]))
    const restored = new Map<string, unknown>()
    const notes: Array<string> = []
    for (const planned of plan.jobs) {
      const { job } = planned
      const row = byId.get(job.id)
      if (row === undefined) continue
      const change = compare(row.definitionHash, planned.definitionHash)
      if (change === "changed") {
        notes.push(`"${job.id}" runs again: its definition changed since it succeeded`)
        continue
      }
      if (change === "other runtime") {
        notes.push(`"${job.id}" is reused, but its code could not be compared: it succeeded on another runtime or version`)
      }
      const rerun = planned.deps.find((dep) => !restored.has(plan.jobs[dep.index]!.job.id))
      if (rerun !== undefined) {
        notes.push(`"${job.id}" runs again: it needs "${plan.jobs[rerun.index]!.job.id}", which runs again`)
        continue
      }
      if (Journal.isUnrestorable(row.encoded)) {
        notes.push(`"${job.id}" runs again: its output holds a secret (Redacted), which the journal never stores`)
        continue
      }
      if (job.output === undefined) {
        restored.set(job.id, row.encoded)
        continue
      }
      const decoded = yield* Effect.exit(Schema.decodeUnknownEffect(job.output)(row.encoded))
      if (Exit.isSuccess(decoded)) restored.set(job.id, decoded.value)
      else {
        const issue = String(Exit.isFailure(decoded) ? decoded.cause : "").split("\n")[0]
        notes.push(`"${job.id}" runs again: its journaled output no longer matches its output schema (${issue})`)
      }
    }
    return { restored, notes }
  })

/** Compares definition hashes (`stable|runtime|code`, see Dag.ts): the code counts only on the same runtime. */
const compare = (journaled: string | undefined, current: string): "same" | "changed" | "other runtime" => {
  if (journaled === undefined) return "changed"
  const [stable, runtime, code] = journaled.split("|")
  const [stableNow, runtimeNow, codeNow] = current.split("|")
  if (stable !== stableNow) return "changed"
  if (runtime !== runtimeNow) return "other runtime"
  return code === codeNow ? "same" : "changed"
}
