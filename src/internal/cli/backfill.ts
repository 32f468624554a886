/**
 * `runner backfill <file> --from D --to D [...]`: runs a DAG once per slot of its schedule (or of `--every`) in
 * `[from, to)`, under each slot's run key, as internal/backfill/ describes. Also `runner backfill status [id]`,
 * `runner backfill cancel <id>` and `runner backfill resume <id>` (running the same command again continues too).
 * SIGINT/SIGTERM stop it like the scheduler: no new slots, running ones get --grace, a second signal interrupts them.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import { InvalidOption } from "../../Errors.ts"
import * as Audit from "../Audit.ts"
import * as Backfill from "../backfill/Backfill.ts"
import * as Slots from "../backfill/Slots.ts"
import * as Store from "../backfill/Store.ts"
import * as duration from "../duration.ts"
import type * as Plan from "../Plan.ts"
import * as Runtime from "../runtime/Runtime.ts"
import { formatMillis } from "../reporter/format.ts"
import * as StatusLine from "../reporter/StatusLine.ts"
import { isPostgresUrl, redact } from "../sql/Dialect.ts"
import * as JournalClient from "../sql/JournalClient.ts"
import { journalPath, loadPlan, print, requirePositive } from "./common.ts"
import { InFile, RunFailed, SchedulerInterrupted } from "./exit.ts"
import * as observers from "./observers.ts"
import { cancel, found, status } from "./backfillStatus.ts"
import { isoTime, jsonFlag, printJson, withJournal } from "./operator.ts"
import * as runServices from "./runServices.ts"
import { version } from "./version.ts"

/** The live status line: `backfill 12/31 slots done · running 2026-01-13, 2026-01-14 · 1 failed · ETA 3m20s`. */
const statusText = (p: Backfill.Progress): string =>
  [
    `backfill ${p.done}/${p.total} slots done`,
    p.running.length === 0 ? undefined : `running ${p.running.join(", ")}`,
    `${p.failed} failed`,
    p.etaMillis === undefined ? undefined : `ETA ${formatMillis(p.etaMillis)}`
  ].filter((part) => part !== undefined).join(" · ")

/** More slots than this need --yes. */
export const CONFIRM_ABOVE = 10_000

const actions = ["status", "cancel", "resume"] as const

const flags = {
  target: Argument.String("file").pipe(
    Argument.withDescription("the task file to backfill; or status [id], cancel <id>, resume <id>")
  ),
  id: Argument.String("id").pipe(Argument.withDescription("a backfill id (status, cancel, resume)"), Argument.optional),
  from: Flag.String("from").pipe(
    Flag.withDescription("the first time of the range, included: a date 2026-01-02 or a time 2026-01-02T05:30 in the schedule's zone"),
    Flag.optional
  ),
  to: Flag.String("to").pipe(Flag.withDescription("the end of the range, excluded (same forms as --from)"), Flag.optional),
  every: Flag.String("every").pipe(
    Flag.withDescription("for a DAG without schedule: 1d (keys 2026-01-02), 1h (keys 2026-01-02T05) or a cron expression"),
    Flag.optional
  ),
  timezone: Flag.String("timezone").pipe(
    Flag.withDescription("the zone --every and the dates are read in (default: the schedule's, else the machine's)"),
    Flag.optional
  ),
  reprocess: Flag.Literals("reprocess", ["missing", "failed", "all"]).pipe(
    Flag.withDescription(
      "missing (default): slots not succeeded yet; failed: only slots whose last run failed or was interrupted; all: every slot"
    ),
    Flag.withDefault("missing" as const)
  ),
  maxActive: Flag.Int("max-active").pipe(Flag.withDescription("at most N slots run at once (default 1)"), Flag.withDefault(1)),
  order: Flag.Literals("order", ["asc", "desc"]).pipe(
    Flag.withDescription("asc (default): oldest slot first; desc: newest first"),
    Flag.withDefault("asc" as const)
  ),
  jobs: Flag.String("jobs").pipe(
    Flag.withDescription("run only these jobs (and what they need) in each slot: --jobs a,b"),
    Flag.optional
  ),
  dryRun: Flag.Boolean("dry-run").pipe(
    Flag.withDescription("list every slot with what would happen to it; run nothing"),
    Flag.withDefault(false)
  ),
  yes: Flag.Boolean("yes").pipe(
    Flag.withDescription(`run even more than ${CONFIRM_ABOVE.toLocaleString("en-US")} slots`),
    Flag.withDefault(false)
  ),
  grace: Flag.String("grace").pipe(
    Flag.withDescription("on SIGTERM, how long running slots may take to finish before they are interrupted (default 30s)"),
    Flag.withDefault("30 seconds")
  ),
  logFormat: Flag.Literals("log-format", ["pretty", "plain", "json"]).pipe(
    Flag.withDescription(
      "pretty (default on a terminal: the slots' lines, and a live status line of slots done, running, failed and " +
        "the ETA), plain (default otherwise: a progress line after each slot) or json lines"
    ),
    Flag.optional
  ),
  json: jsonFlag,
  ...runServices.flags,
  ...observers.flags
}

type Input = runServices.Input & {
  readonly target: string
  readonly id: Option.Option<string>
  readonly from: Option.Option<string>
  readonly to: Option.Option<string>
  readonly every: Option.Option<string>
  readonly timezone: Option.Option<string>
  readonly reprocess: Backfill.Reprocess
  readonly maxActive: number
  readonly order: Backfill.Order
  readonly jobs: Option.Option<string>
  readonly dryRun: boolean
  readonly yes: boolean
  readonly grace: string
  readonly logFormat: Option.Option<"pretty" | "plain" | "json">
  readonly json: boolean
}

/** What a backfill was asked for, as journaled (`options`) and read back by `resume`. */
const Request = Schema.Struct({
  file: Schema.String,
  from: Schema.String,
  to: Schema.String,
  every: Schema.optionalKey(Schema.String),
  timezone: Schema.optionalKey(Schema.String),
  reprocess: Schema.Literals(["missing", "failed", "all"]),
  maxActive: Schema.Number,
  order: Schema.Literals(["asc", "desc"]),
  jobs: Schema.Array(Schema.String)
})
type Request = typeof Request.Type

const invalid = (where: string, reason: string) => new InvalidOption({ where, reason })

const requestOf = (input: Input, file: string): Effect.Effect<Request, InvalidOption> =>
  Effect.gen(function*() {
    yield* requirePositive("--max-active", input.maxActive)
    yield* requirePositive("--concurrency", input.concurrency)
    const from = Option.getOrUndefined(input.from)
    const to = Option.getOrUndefined(input.to)
    if (from === undefined || to === undefined) {
      return yield* invalid(from === undefined ? "--from" : "--to", "is required: runner backfill <file> --from 2026-01-01 --to 2026-02-01")
    }
    const every = Option.getOrUndefined(input.every)
    const timezone = Option.getOrUndefined(input.timezone)
    const jobs = Option.match(input.jobs, {
      onNone: () => [],
      onSome: (list) => list.split(",").map((id) => id.trim()).filter((id) => id !== "")
    })
    if (Option.isSome(input.jobs) && jobs.length === 0) return yield* invalid("--jobs", `names no job: ${JSON.stringify(input.jobs.value)}`)
    return {
      file,
      from,
      to,
      ...(every === undefined ? {} : { every }),
      ...(timezone === undefined ? {} : { timezone }),
      reprocess: input.reprocess,
      maxActive: input.maxActive,
      order: input.order,
      jobs
    }
  })

/** The slots of a request, against its DAG. */
const rangeOf = (plan: Plan.Plan, request: Request): Effect.Effect<Slots.Range, InvalidOption> =>
  Effect.try({ try: () => Slots.resolve(plan.dag, request), catch: (error) => error as InvalidOption })

/** What makes running the same command again continue a backfill rather than start another. */
const identityOf = (plan: Plan.Plan, request: Request, range: Slots.Range): string =>
  JSON.stringify({
    file: path.resolve(request.file),
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    cadence: range.cadence.description,
    reprocess: request.reprocess,
    jobs: [...request.jobs].sort(),
    dag: plan.dag.name
  })

const describe = (plan: Plan.Plan, request: Request, range: Slots.Range): string =>
  `backfill of ${plan.dag.name}: ${range.slots.length} slot${range.slots.length === 1 ? "" : "s"} of ${range.cadence.description} ` +
  `in [${request.from}, ${request.to}), reprocess ${request.reprocess}, order ${request.order}, max-active ${request.maxActive}` +
  (request.jobs.length === 0 ? "" : `, jobs ${request.jobs.join(", ")}`)

const start = (input: Input, request: Request, resumeId: string | undefined) =>
  Effect.gen(function*() {
    const plan = yield* loadPlan(request.file, request.jobs)
    const range = yield* rangeOf(plan, request)
    const file = journalPath(input.journal)
    if (range.slots.length === 0) return yield* print(`${describe(plan, request, range)}: no slot in the range; nothing to do`)
    if (range.slots.length > CONFIRM_ABOVE && !input.yes && !input.dryRun) {
      return yield* invalid(
        "--yes",
        `the range has ${range.slots.length.toLocaleString("en-US")} slots of ${range.cadence.description}, more than ` +
          `${CONFIRM_ABOVE.toLocaleString("en-US")}: pass --yes to run them all (or narrow --from/--to; --dry-run lists them)`
      )
    }
    if (file === "none") return yield* invalid("--journal", "none keeps nothing, but a backfill is journaled (to resume it): give a journal file")
    if (input.dryRun) return yield* dryRun(input, plan, request, range, file)
    const format = Option.getOrElse(input.logFormat, () => process.stdout.isTTY ? "pretty" as const : "plain" as const)
    // Pretty: the slots' runs print plain lines (several may run at once: one run's live region does not fit), and
    // the backfill's progress stays on a status line below them.
    const status = format === "pretty" ? StatusLine.make(process.stdout) : undefined
    const audit = yield* Audit.collect(request.file, version)
    const identity = identityOf(plan, request, range)
    const run = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const existing = resumeId === undefined
        ? yield* Effect.orDie(Store.unfinished(plan.dag.name, identity))
        : yield* Effect.orDie(Store.get(resumeId))
      if (existing !== undefined && Store.processAlive(existing)) {
        return yield* invalid(
          "backfill",
          `${existing.id} of ${plan.dag.name} is being run by pid ${existing.pid} on ${existing.host} since ` +
            `${new Date(existing.updatedAt).toISOString()}; runner backfill cancel ${existing.id} stops it`
        )
      }
      let backfill: Store.Backfill
      if (existing === undefined) {
        const id = Store.makeId(now)
        yield* Effect.orDie(Store.create({
          id,
          dag: plan.dag.name,
          file: path.resolve(request.file),
          from: range.from.getTime(),
          to: range.to.getTime(),
          identity,
          // Absolute, so `backfill resume <id>` finds the file from another folder too.
          options: JSON.stringify({ ...request, file: path.resolve(request.file) }),
          who: JSON.stringify(audit),
          createdAt: now
        }, range.slots))
        backfill = (yield* Effect.orDie(Store.get(id)))!
        yield* Effect.logInfo(`backfill ${id}: ${describe(plan, request, range)}`)
      } else {
        yield* Effect.orDie(Store.claim(existing.id, now))
        backfill = existing
      }
      const rows = yield* Effect.orDie(Store.slots(backfill.id))
      const todo = rows.filter((row) => row.state !== "succeeded" && row.state !== "skipped")
      if (request.order === "desc") todo.reverse()
      const doneBefore = rows.length - todo.length
      if (existing !== undefined) {
        yield* Effect.logInfo(
          `backfill ${backfill.id}: continuing (${existing.state}): ${doneBefore} of ${rows.length} slots done, ${todo.length} to go`
        )
      }
      const stop = { graceful: Deferred.makeUnsafe<void>(), now: Deferred.makeUnsafe<void>() }
      const unregister = Runtime.onSignal((count) => {
        Deferred.doneUnsafe(count === 1 ? stop.graceful : stop.now, Effect.void)
        return true
      })
      const grace = yield* Effect.try({
        try: () => duration.parse(input.grace as Duration.Input, "--grace"),
        catch: (error) => error as InvalidOption
      })
      const summary = yield* Backfill.execute({
        backfill,
        plan,
        slots: todo,
        total: rows.length,
        doneBefore,
        reprocess: request.reprocess,
        maxActive: request.maxActive,
        concurrency: runServices.concurrency(input, plan),
        failureMode: input.failureMode,
        runnerVersion: version,
        audit,
        grace,
        ...(status === undefined ? {} : { onProgress: (progress) => status.set(statusText(progress)) })
      }, stop).pipe(Effect.ensuring(Effect.sync(() => {
        unregister()
        status?.clear()
      })))
      const state: Store.State = summary.stoppedBy === "cancel"
        ? "cancelled"
        : summary.stoppedBy === "signal"
        ? "interrupted"
        : summary.failed.length > 0 || summary.interrupted > 0 || summary.stoppedBy === "preflight"
        ? "failed"
        : "succeeded"
      yield* Effect.orDie(Store.finish(backfill.id, state, yield* Clock.currentTimeMillis))
      const counts = yield* Effect.orDie(Store.counts(backfill.id))
      return { backfill, summary, state, counts, total: rows.length }
    }).pipe(
      // The backfill's own tables, beside the runs' Journal, over a second connection to the same journal.
      Effect.provide(JournalClient.layer(file, { durability: input.durability })),
      Effect.catchTag("SqlError", (error) => Effect.fail(invalid("journal", `${redact(file)}: ${error.message}`)))
    )
    const { backfill, counts, state, summary, total } = yield* run.pipe(
      runServices.provide(input, format === "pretty" ? "plain" : format, status?.output ?? process.stdout)
    )
    const failed = summary.failed
    if (format === "json") {
      yield* print(JSON.stringify({
        backfill: backfill.id,
        dag: plan.dag.name,
        state,
        slots: total,
        succeeded: counts.succeeded ?? 0,
        skipped: counts.skipped ?? 0,
        failed: failed.map((f) => ({ key: f.key, runId: f.runId ?? null, note: f.note })),
        interrupted: summary.interrupted,
        notStarted: summary.notStarted
      }))
    } else {
      const parts = [
        `${counts.succeeded ?? 0} succeeded`,
        `${counts.skipped ?? 0} skipped`,
        `${failed.length} failed`,
        ...(summary.interrupted > 0 ? [`${summary.interrupted} interrupted`] : []),
        ...(summary.notStarted > 0 ? [`${summary.notStarted} not started`] : [])
      ]
      const lines = [`\nbackfill ${backfill.id} of ${plan.dag.name} ${state}: ${total} slots: ${parts.join(", ")}`]
      if (failed.length > 0) {
        lines.push("failed slots:", ...failed.map((f) => `  ${f.key}  ${f.note}`))
      }
      if (state !== "succeeded") lines.push(`continue it: runner backfill resume ${backfill.id} (or the same command again)`)
      yield* print(lines.join("\n"))
    }
    if (summary.preflight !== undefined) return yield* new InFile({ file: request.file, error: summary.preflight })
    if (state === "interrupted") return yield* new SchedulerInterrupted()
    if (state !== "succeeded") return yield* new RunFailed({ runId: backfill.id })
  })

/** `--dry-run`: every slot with what would happen to it now. */
const dryRun = (input: Input, plan: Plan.Plan, request: Request, range: Slots.Range, file: string) =>
  Effect.gen(function*() {
    const keys = range.slots.map((slot) => slot.key)
    const [latest, continued] = isPostgresUrl(file) || fs.existsSync(file)
      ? yield* withJournal(input.journal, () =>
        Effect.all([
          Store.latestRuns(plan.dag.name, keys),
          Effect.flatMap(Store.unfinished(plan.dag.name, identityOf(plan, request, range)), (b) =>
            b === undefined ? Effect.succeed(undefined) : Effect.map(Store.counts(b.id), (counts) => ({ b, counts })))
        ]))
      : [new Map<string, Store.LatestRun>(), undefined] as const
    const slots = request.order === "desc" ? [...range.slots].reverse() : range.slots
    const decisions = slots.map((slot) => ({ slot, decision: Backfill.decide(latest.get(slot.key), request.reprocess) }))
    const running = decisions.filter((d) => d.decision.run).length
    if (input.json) {
      return yield* printJson({
        dag: plan.dag.name,
        cadence: range.cadence.description,
        from: isoTime(range.from.getTime()),
        to: isoTime(range.to.getTime()),
        slots: decisions.map(({ decision, slot }) => ({
          key: slot.key,
          start: isoTime(slot.start.getTime()),
          end: isoTime(slot.end.getTime()),
          run: decision.run,
          what: decision.text
        }))
      })
    }
    const width = Math.max(...keys.map((key) => key.length))
    const done = continued === undefined ? 0 : (continued.counts.succeeded ?? 0) + (continued.counts.skipped ?? 0)
    yield* print([
      `${describe(plan, request, range)} (dry run: nothing runs)`,
      ...(continued === undefined ? [] : [
        `(the same command continues backfill ${continued.b.id}, ${continued.b.state}: ${done} of ${range.slots.length} slots done)`
      ]),
      ...decisions.map(({ decision, slot }) => `  ${slot.key.padEnd(width)}  ${decision.text}`),
      `would run ${running} slot${running === 1 ? "" : "s"}, skip ${decisions.length - running}`
    ].join("\n"))
  })

/** `resume <id>`: runs the backfill again with the options it was journaled with (from any folder). */
const resume = (input: Input, id: string) =>
  Effect.gen(function*() {
    const file = journalPath(input.journal)
    const b = yield* withJournal(input.journal, () => found(id, file))
    if (b.state === "succeeded") return yield* print(`backfill ${id} succeeded already; nothing to resume`)
    const request = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(Request))(b.options).pipe(
      Effect.mapError((error) => invalid("backfill", `${id}: its options cannot be read back: ${error.message}`))
    )
    yield* start(input, request, id)
  })

const handler = (input: Input) =>
  Effect.suspend(() => {
    const action = (actions as ReadonlyArray<string>).includes(input.target) ? input.target : undefined
    const id = Option.getOrUndefined(input.id)
    switch (action) {
      case "status":
        return status(input, id)
      case "cancel":
      case "resume":
        if (id === undefined) return Effect.fail(invalid(`backfill ${action}`, "needs a backfill id (runner backfill status lists them)"))
        return action === "cancel" ? cancel(input, id) : resume(input, id)
      default:
        if (id !== undefined) {
          return Effect.fail(invalid("backfill", `one task file, got ${input.target} and ${id} (status, cancel and resume take an id)`))
        }
        return Effect.flatMap(requestOf(input, input.target), (request) => start(input, request, undefined))
    }
  })

export const command = Command.make("backfill", flags, handler).pipe(
  Command.withDescription(
    "Run a DAG once per slot of its schedule (or --every) in [--from, --to): missing, failed or all slots; status, cancel, resume"
  )
)
