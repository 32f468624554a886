/**
 * What a resumed run reuses. A job that succeeded earlier in the run is restored (its journaled output decoded with its
 * `output` Schema's JSON codec and passed on) only if its definition is unchanged, everything it needs is restored
 * too, and its output could be journaled exactly. Every other job runs, and people are told why.
 *
 * A definition is everything that can change a job's result: its id, kind, needs, full output schema, and for shell
 * jobs the argv, working directory and environment; for functions (run, argv or env given as functions, a schema's
 * checks and transformations) their source text. Config values and the files a job reads are not part of it.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import type * as Dag from "../Dag.ts"
import type * as Plan from "./Plan.ts"
import * as Encoding from "./Encoding.ts"
import type * as Job from "../Job.ts"
import type * as Journal from "./Journal.ts"
import * as Runtime from "./runtime/Runtime.ts"

export interface Decision {
  /** Outputs of the jobs that are restored, by job id. */
  readonly restored: ReadonlyMap<string, Restored>
  /** Why a job that succeeded earlier runs again. */
  readonly notes: ReadonlyArray<string>
}

/** A restored job's output, and its journaled text (which the inputs of the jobs needing it are hashed from). */
export interface Restored {
  readonly output: unknown
  readonly json: string | undefined
}

/** The definition hash of every job of a plan, by its index in the plan (see `definitionHash`). */
export interface DefinitionHashes {
  /** The hash of the job at this index, computed when first asked for and kept. */
  readonly of: (index: number) => string
  /** Every job's, in plan order. */
  readonly all: () => ReadonlyArray<string>
}

/**
 * The plan's definition hashes, each computed when first read. A resumed run reads those of the jobs that succeeded
 * earlier (to compare them) before its first job starts, and the others one by one as their jobs succeed: hashing all
 * 10,000 jobs of a large DAG up front cost ~80 ms of CPU before the first new job.
 */
export const definitionHashes = (plan: Plan.Plan): DefinitionHashes => {
  const known: Array<string | undefined> = new Array(plan.jobs.length)
  const of = (index: number): string => known[index] ??= definitionHash(plan.jobs[index]!.job)
  return { of, all: () => plan.jobs.map((_, index) => of(index)) }
}

/** One hash for the plan's definitions, recorded with the run. */
export const planHash = (hashes: DefinitionHashes): string => {
  const all = crypto.createHash("sha256")
  for (const hash of hashes.all()) all.update(hash)
  return all.digest("hex").slice(0, 16)
}

export const decide = (
  plan: Plan.Plan,
  hashes: DefinitionHashes,
  succeeded: ReadonlyArray<Journal.SucceededJob>
): Effect.Effect<Decision> =>
  Effect.gen(function*() {
    const byId = new Map<string, Journal.SucceededJob>()
    for (const row of succeeded) byId.set(row.jobId, row)
    const restored = new Map<string, Restored>()
    /** Restored or not, by plan index: a job's needs come before it in the plan. */
    const reused: Array<boolean> = new Array(plan.jobs.length).fill(false)
    const notes: Array<string> = []
    for (const planned of plan.jobs) {
      const { job } = planned
      const row = byId.get(job.id)
      if (row === undefined) continue
      const change = compare(row.definitionHash, hashes.of(planned.index))
      if (change === "changed") {
        notes.push(`"${job.id}" runs again: its definition changed since it succeeded`)
        continue
      }
      if (change === "other runtime") {
        notes.push(`"${job.id}" is reused, but its code could not be compared: it succeeded on another runtime or version`)
      }
      const rerun = planned.deps.find((dep) => !reused[dep.index])
      if (rerun !== undefined) {
        notes.push(`"${job.id}" runs again: it needs "${plan.jobs[rerun.index]!.job.id}", which runs again`)
        continue
      }
      // No output and no schema (a job run for its effect): nothing to decode, and no Effect to run per job.
      if (row.json === undefined && job.output === undefined) {
        restored.set(job.id, nothing)
        reused[planned.index] = true
        continue
      }
      const unrestorable = Encoding.unrestorableReason(row.json)
      if (unrestorable !== undefined) {
        notes.push(`"${job.id}" runs again: its output was not journaled exactly (${unrestorable})`)
        continue
      }
      const decoded = yield* Effect.result(Encoding.decode(job.output, row.json))
      if (decoded._tag === "Success") {
        restored.set(job.id, { output: decoded.success, json: row.json })
        reused[planned.index] = true
      } else notes.push(`"${job.id}" runs again: its journaled output no longer matches its output schema (${decoded.failure})`)
    }
    return { restored, notes }
  })

/** The restored output of every job that has none: one object for them all (it is only read). */
const nothing: Restored = Object.freeze({ output: undefined, json: undefined })

/**
 * The hash of what a job receives: each need's name and journaled output. Checkpoints are kept with it, and a
 * resumed job reuses only those made for the same inputs. A need whose output could not be journaled exactly cannot
 * be compared: the hash is then unique to this execution, so its steps start afresh.
 */
export const inputHash = (inputs: ReadonlyArray<readonly [name: string, json: string | undefined]>): string => {
  const sorted = [...inputs].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
  if (sorted.some(([, json]) => Encoding.unrestorableReason(json) !== undefined)) {
    return `unique:${crypto.randomUUID()}`
  }
  return digest(JSON.stringify(sorted.map(([name, json]) => [name, json ?? null])))
}

/** Compares definition hashes (`stable|runtime|code`): the code counts only on the same runtime. */
const compare = (journaled: string | undefined, current: string): "same" | "changed" | "other runtime" => {
  if (journaled === undefined) return "changed"
  if (journaled === current) return "same"
  const [stable, runtime, code] = journaled.split("|")
  const [stableNow, runtimeNow, codeNow] = current.split("|")
  if (stable !== stableNow) return "changed"
  if (runtime !== runtimeNow) return "other runtime"
  return code === codeNow ? "same" : "changed"
}

/**
 * `stable|runtime|code`: the stable part (id, kind, needs, the output schema's structure, a shell job's static argv,
 * cwd and env) must match for a job to be reused; the code part (the source of `run`, of argv and env functions and of
 * the schema's functions) is compared only on the same runtime and version, because Bun and Deno reformat the source
 * they transpile while Node keeps it as written.
 */
export const definitionHash = (job: Job.Any): string => {
  const schema = job.output === undefined ? undefined : schemaFingerprint(job.output.ast)
  const code: Array<string> = [job.shell === undefined ? job.run.toString() : ""]
  const shell = job.shell === undefined ? null : {
    argv: typeof job.shell.argv === "function" ? (code.push(job.shell.argv.toString()), "(function)") : job.shell.argv.map(secretFree),
    cwd: job.shell.cwd ?? null,
    env: typeof job.shell.env === "function"
      ? (code.push(job.shell.env.toString()), "(function)")
      : job.shell.env === undefined
      ? null
      : Object.entries(job.shell.env).map(([name, value]) => [name, secretFree(value)])
  }
  // One JSON.stringify of the whole, the journals' format: it makes one flat string natively. Written out by hand
  // (template strings, a regex per name), 5,000 jobs' hashes took ~35 ms cold on Node and Deno, ~29 on Bun; this way
  // ~24, ~22 and ~26, sha256 included (a resume hashes the succeeded jobs before its first new one).
  const needs: Array<[string, string]> = []
  for (const name of Object.keys(job.needs)) needs.push([name, job.needs[name]!.id])
  const stable = digest(JSON.stringify([job.id, job.kind, needs, Object.keys(job.config), schema === undefined ? null : schema.stable, shell]))
  if (schema !== undefined) code.push(schema.code)
  return `${stable}|${Runtime.version}|${codeDigest(code.join("\u0000"))}`
}

/** A secret in a definition counts as "a secret", never by its value: rotating a password reuses the outputs. */
const secretFree = (value: string | Redacted.Redacted<string>): string => Redacted.isRedacted(value) ? "(redacted)" : value

interface Fingerprint {
  /** The schema's structure: node kinds, names, literals, annotations' data. */
  readonly stable: string
  /** The digest of the source text of the schema's functions (checks, transformations, declarations). */
  readonly code: string
}

const fingerprints = new WeakMap<object, Fingerprint>()

/**
 * A schema's AST as text, deterministic for the same definition. Shared subtrees are rendered each time they appear
 * (memoised), a subtree that contains itself as `[cycle]`; functions as a mark in the structure and their source in
 * the code part.
 */
const schemaFingerprint = (ast: object): Fingerprint => {
  const known = fingerprints.get(ast)
  if (known !== undefined) return known
  const sources: Array<string> = []
  const memo = new Map<object, string>()
  const visiting = new Set<object>()
  const render = (u: unknown): string => {
    switch (typeof u) {
      case "function":
        sources.push(u.toString())
        return "fn"
      case "symbol":
        return JSON.stringify(u.toString())
      case "bigint":
        return `${u}n`
      case "undefined":
        return "u"
      case "object":
        break
      default:
        return JSON.stringify(u)
    }
    if (u === null) return "null"
    const object = u as object
    const done = memo.get(object)
    if (done !== undefined) return done
    if (visiting.has(object)) return "[cycle]"
    visiting.add(object)
    const text = Array.isArray(object)
      ? `[${object.map(render).join(",")}]`
      : `{${Object.keys(object).map((key) => `${JSON.stringify(key)}:${render((object as Record<string, unknown>)[key])}`).join(",")}}`
    visiting.delete(object)
    memo.set(object, text)
    return text
  }
  const stable = render(ast)
  const fingerprint = { stable: digest(stable), code: digest(sources.join("\u0000")) }
  fingerprints.set(ast, fingerprint)
  return fingerprint
}

/** Generated DAGs share one `run` source among thousands of jobs: each distinct text is hashed once. */
const codeDigests = new Map<string, string>()
const codeDigest = (code: string): string => {
  let known = codeDigests.get(code)
  if (known === undefined) {
    known = digest(code)
    codeDigests.set(code, known)
  }
  return known
}

/** sha256, hex, first 16 characters. The one-shot `crypto.hash` (Node 21.7+, Bun) is 4× faster than `createHash`. */
const digest: (text: string) => string = typeof crypto.hash === "function"
  ? (text) => crypto.hash("sha256", text).slice(0, 16)
  : (text) => crypto.createHash("sha256").update(text).digest("hex").slice(0, 16)
