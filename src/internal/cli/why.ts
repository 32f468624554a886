/**
 * `runner why <file> <job>`: why a job with `cache` would run, or that it would not. The manifest of its newest kept
 * success (or, when today's inputs match an older one, of that one) beside today's, part by part, then each
 * difference in words ("file src/a.ts changed", "code of src/util.ts changed", "env NODE_ENV differs", "needed output
 * of build changed"). Today's manifest is made as a run would make it, with its needs' outputs from their previews: a
 * need that would be reused passes its kept output; one that would run is assumed to give the output of its newest
 * kept success (said so: it may come out different). Values are digests or plain facts, never secrets.
 * Reads the journal and writes nothing; exit 0 whatever it finds.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Journal from "../Journal.ts"
import * as Manifest from "../cache/Manifest.ts"
import * as CachePolicy from "../cache/Policy.ts"
import type * as Preview from "../cache/Preview.ts"
import * as cachePreview from "./cachePreview.ts"
import { journalFlag, loadPlan, print } from "./common.ts"
import { absolute, isoTime, jsonFlag, localTime, printJson, table } from "./operator.ts"

/** One row of the side-by-side table: a part's value then (the kept success) and now (today), if present. */
export interface Row {
  readonly kind: Manifest.Kind
  readonly name: string
  readonly then: string | undefined
  readonly now: string | undefined
}

/** What `why` found. */
export interface Explanation {
  readonly file: string
  readonly dag: string
  readonly job: string
  /** The journal read, undefined for `--journal none`; `exists` false when there is no such file. */
  readonly journal: string | undefined
  readonly journalExists: boolean
  readonly now: number
  /** The success compared with: the one today's key reuses, else the job's newest. */
  readonly kept: Journal.CacheEntry | undefined
  readonly verdict: Preview.Verdict
  readonly assumed: Preview.Previewed["assumed"]
  readonly rows: ReadonlyArray<Row>
  readonly differences: ReadonlyArray<string>
  /** The kept manifest could not be read (a corrupt row). */
  readonly unreadable: boolean
}

/** Both manifests' parts in the manifest's order (kind, then name), each with its value then and now. */
export const rows = (then: Manifest.Manifest | undefined, now: Manifest.Manifest | undefined): ReadonlyArray<Row> => {
  const id = (p: Manifest.Part) => `${p.kind}\u0000${p.name}`
  const byId = new Map<string, { kind: Manifest.Kind; name: string; then?: string; now?: string }>()
  for (const part of then?.parts ?? []) byId.set(id(part), { kind: part.kind, name: part.name, then: part.value })
  for (const part of now?.parts ?? []) {
    const row = byId.get(id(part))
    if (row === undefined) byId.set(id(part), { kind: part.kind, name: part.name, now: part.value })
    else row.now = part.value
  }
  const order = new Map<Manifest.Kind, number>(Manifest.kinds.map((kind, i) => [kind, i]))
  return [...byId.values()]
    .sort((a, b) => order.get(a.kind)! - order.get(b.kind)! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((row) => ({ kind: row.kind, name: row.name, then: row.then, now: row.now }))
}

/**
 * Digests (hex, alone or among the `|`-separated fields of a definition hash) shortened to 12 characters; other
 * values (versions, the platform) as they are.
 */
export const short = (value: string | undefined): string =>
  value === undefined
    ? "-"
    : value.split("|").map((field) => /^[0-9a-f]{13,}$/.test(field) ? field.slice(0, 12) : field).join("|")

const whereKept = (e: Explanation): string =>
  e.journal === undefined ? "--journal none keeps nothing" : e.journalExists ? e.journal : `no journal at ${e.journal}`

export const render = (e: Explanation): string => {
  const lines = [`job ${e.job} of dag ${e.dag} (${e.file})`]
  const kept = e.kept
  lines.push(
    kept === undefined
      ? `then: no success of ${e.job} is kept (${whereKept(e)})`
      : `then: the success of run ${kept.runId}, ${localTime(kept.createdAt)} (${cachePreview.age(e.now - kept.createdAt)} ago)`
  )
  lines.push(`now:  ${cachePreview.describe(e.verdict, e.now)}`)
  for (const a of e.assumed) {
    lines.push(
      a.runId === undefined
        ? `      need ${a.need} (job ${a.jobId}) would run and has no kept success: today's manifest cannot be made`
        : `      need ${a.need} (job ${a.jobId}) would run: its output is assumed to be that of its newest kept success ` +
          `(run ${a.runId}); if it comes out different, ${e.job} runs too`
    )
  }
  if (e.unreadable) lines.push(`      the kept success's manifest is unreadable: its parts cannot be shown`)
  if (e.rows.length > 0) {
    lines.push("", table(["kind", "name", "then", "now"], e.rows.map((r) => [r.kind, r.name || "-", short(r.then), short(r.now)])))
  }
  lines.push("")
  if (e.verdict._tag === "Cached") {
    lines.push(`up to date: the next run reuses run ${e.verdict.entry.runId}'s success`)
  } else if (e.differences.length > 0) {
    lines.push("differences:", ...e.differences.map((d) => `  ${d}`))
  } else {
    lines.push(`it runs: ${e.verdict._tag === "Runs" ? e.verdict.reason : "it has no cache"}`)
  }
  return lines.join("\n")
}

/** The `--json` document (values in full: digests and plain facts, never secrets). */
export const toJson = (e: Explanation) => ({
  file: e.file,
  dag: e.dag,
  job: e.job,
  cache: true,
  journal: e.journal === undefined ? null : absolute(e.journal),
  journalExists: e.journalExists,
  kept: e.kept === undefined ? null : { runId: e.kept.runId, createdAt: isoTime(e.kept.createdAt), key: e.kept.key },
  now: {
    status: e.verdict._tag === "Cached" ? "cached" : "run",
    reason: e.verdict._tag === "Runs" ? e.verdict.reason : null,
    fromRunId: e.verdict._tag === "Cached" ? e.verdict.entry.runId : null,
    key: e.verdict._tag === "Cached" ? e.verdict.entry.key : e.verdict._tag === "Runs" ? e.verdict.manifest?.key ?? null : null
  },
  assumed: e.assumed.map((a) => ({ need: a.need, job: a.jobId, runId: a.runId ?? null })),
  parts: e.rows.map((r) => ({ kind: r.kind, name: r.name, then: r.then ?? null, now: r.now ?? null })),
  differences: e.differences,
  upToDate: e.verdict._tag === "Cached"
})

export const command = Command.make("why", {
  file: Argument.String("file").pipe(Argument.withDescription("the task file, e.g. tasks/build.ts")),
  job: Argument.String("job").pipe(Argument.withDescription("the job with `cache` to explain")),
  journal: journalFlag,
  envFile: Flag.String("env-file").pipe(
    Flag.withDescription("read config variables from this dotenv file too, as the run would (declared env values count)"),
    Flag.optional
  ),
  json: jsonFlag
}, ({ envFile, file, job, journal, json }) =>
  Effect.gen(function*() {
    const plan = yield* loadPlan(file, [job])
    const planned = plan.jobs.find((p) => p.job.id === job)!
    if (CachePolicy.effective(planned.job.cache, plan.dag.cache) === undefined) {
      if (json) return yield* printJson({ file, dag: plan.dag.name, job, cache: false })
      return yield* print(`job ${job} of dag ${plan.dag.name} (${file}) has no cache: it runs every time (cache: true reuses its success)`)
    }
    const explanation = yield* cachePreview.withView(journal, (view) =>
      Effect.gen(function*() {
        const { now, previewed } = yield* cachePreview.preview(view, plan, { envFile, force: undefined, assumeKept: true })
        const own = previewed[planned.index]!
        const latest = Option.getOrUndefined(yield* view.lookup.latestCached(plan.dag.name, job))
        const kept = own.verdict._tag === "Cached" ? own.verdict.entry : latest
        const then = kept === undefined ? undefined : Manifest.decode(kept.manifest)
        const today = own.verdict._tag === "NoCache" ? undefined : own.verdict.manifest
        return {
          file,
          dag: plan.dag.name,
          job,
          journal: view.file,
          journalExists: view.exists,
          now,
          kept,
          verdict: own.verdict,
          assumed: own.assumed,
          rows: rows(then, today),
          differences: then === undefined || today === undefined ? [] : Manifest.differences(then, today),
          unreadable: kept !== undefined && then === undefined
        } satisfies Explanation
      }))
    yield* json ? printJson(toJson(explanation)) : print(render(explanation))
  })).pipe(
    Command.withDescription(
      "Explain whether a job with `cache` would run: its kept success's inputs beside today's, each difference named"
    )
  )
