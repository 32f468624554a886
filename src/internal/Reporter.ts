/**
 * The Reporter shows a run to people: live progress on a terminal (pretty), one line per event otherwise (plain),
 * or JSON lines for machines (json). Job logs (Effect.log inside jobs, shell output) reach it through `logger`.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { background } from "./background.ts"
import * as render from "./render.ts"
import type * as RunEvent from "./RunEvent.ts"

export type Format = "pretty" | "plain" | "json"
export type Level = "trace" | "debug" | "info" | "warn" | "error" | "fatal"

/** One log line from inside a job (or from the runner itself when jobId is undefined). */
export interface LogEntry {
  readonly at: number
  readonly level: Level
  readonly message: string
  readonly jobId: string | undefined
  readonly attempt: number | undefined
  /** The run the line belongs to (a daemon reports overlapping runs), when it was logged inside one. */
  readonly runId?: string | undefined
}

export class Reporter extends Context.Service<Reporter, {
  readonly event: (event: RunEvent.RunEvent) => Effect.Effect<void>
  readonly log: (entry: LogEntry) => void
}>()("effect-runner/Reporter") {}

/** Where output goes: `process.stdout` in the CLI, an array in tests. */
export interface Output {
  readonly write: (text: string) => void
  readonly isTTY?: boolean | undefined
  readonly columns?: number | undefined
}

export interface Options {
  readonly format: Format
  readonly output: Output
  /** Colors on a pretty terminal. Default: on unless NO_COLOR is set. */
  readonly color?: boolean
  /**
   * Plain and json lines are gathered and written once per turn of the event loop (and when the layer closes) rather
   * than one write each: a resumed 10,000-job run prints thousands of lines before its first job. Default: false.
   */
  readonly buffered?: boolean
}

/** The reporter for a format. Pretty redraws its live region until the layer's scope closes. */
export const layer = (options: Options): Layer.Layer<Reporter> =>
  Layer.effect(Reporter)(Effect.gen(function*() {
    const buffer = options.buffered === true && options.format !== "pretty" ? batched(options.output) : undefined
    if (buffer !== undefined) yield* Effect.addFinalizer(() => Effect.sync(buffer.flush))
    const output = buffer ?? options.output
    const view = options.format === "json" ? jsonView(output) : textView({ ...options, output })
    if (options.format === "pretty") {
      // In the background: redraws alone do not keep a stalled process alive (see internal/background.ts).
      yield* Effect.forkScoped(background(Effect.forever(Effect.andThen(Effect.sleep(250), view.refresh))))
      yield* Effect.addFinalizer(() => view.refresh)
    }
    return Reporter.of({ event: view.event, log: view.log })
  }))


/** An output that gathers what is written and writes it at the next turn of the event loop, or past 64 KiB. */
const batched = (out: Output): Output & { readonly flush: () => void } => {
  let pending = ""
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (pending === "") return
    const text = pending
    pending = ""
    out.write(text)
  }
  return {
    get isTTY() {
      return out.isTTY
    },
    get columns() {
      return out.columns
    },
    write: (text) => {
      pending += text
      if (pending.length >= 65536) flush()
      else if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
    flush
  }
}

interface View {
  readonly event: (event: RunEvent.RunEvent) => Effect.Effect<void>
  readonly log: (entry: LogEntry) => void
  readonly refresh: Effect.Effect<void>
}

/** How many runs' DAG names a reporter remembers: a daemon reports runs for months, and lines come after RunFinished. */
const REMEMBERED_RUNS = 1000

const jsonView = (out: Output): View => {
  // Every line carries its own run: `runner schedule` reports overlapping runs through one reporter.
  const dags = new Map<string, string>()
  // Every line parses, whatever an event carries.
  const line = (fields: Record<string, unknown>) => out.write(render.json(fields) + "\n")
  return {
    refresh: Effect.void,
    log: (entry) =>
      line({
        ts: new Date(entry.at).toISOString(),
        level: entry.level,
        dag: entry.runId === undefined ? undefined : dags.get(entry.runId),
        runId: entry.runId,
        jobId: entry.jobId,
        attempt: entry.attempt,
        event: "Log",
        message: entry.message
      }),
    event: (event) =>
      Effect.sync(() => {
        if (event._tag === "RunStarted") {
          dags.delete(event.runId)
          dags.set(event.runId, event.dag)
          if (dags.size > REMEMBERED_RUNS) dags.delete(dags.keys().next().value!)
        }
        const base = {
          ts: new Date(event.at).toISOString(),
          level: levelOfEvent(event),
          dag: event._tag === "RunFinished" ? event.dag : dags.get(event.runId),
          runId: event.runId,
          jobId: "jobId" in event ? event.jobId : undefined,
          attempt: "attempt" in event ? event.attempt : undefined,
          event: event._tag,
          message: describeEvent(event)
        }
        switch (event._tag) {
          case "RunFinished":
            return line({ ...base, status: event.status, durationMillis: event.durationMillis, jobs: event.jobs })
          case "AttemptFailed":
            return line({ ...base, error: event.error, retryInMillis: event.retryInMillis })
          case "JobSkipped":
            return line({ ...base, reason: event.reason })
          case "JobWaiting":
            return line({
              ...base,
              resource: event.resource,
              kind: event.kind,
              call: event.call,
              until: event.until === undefined ? undefined : new Date(event.until).toISOString()
            })
          case "JobAdmitted":
            return line({ ...base, resource: event.resource, kind: event.kind, call: event.call, waitedMillis: event.waitedMillis })
          default:
            return line(base)
        }
      })
  }
}

const levelOfEvent = (event: RunEvent.RunEvent): Level => {
  switch (event._tag) {
    case "AttemptFailed":
      return event.retryInMillis === undefined ? "error" : "warn"
    case "JobInterrupted":
    case "JobSkipped":
      return "warn"
    case "RunFinished":
      return event.status === "succeeded" ? "info" : "error"
    default:
      return "info"
  }
}

/** One sentence per event, shared by every format. */
export const describeEvent = (event: RunEvent.RunEvent): string => {
  switch (event._tag) {
    case "RunStarted":
      return `${event.resumed ? "resuming run" : "run"} ${event.runId} of ${event.dag}: ${event.jobIds.length} job${event.jobIds.length === 1 ? "" : "s"}, ` +
        `concurrency ${event.concurrency}, failure mode ${event.failureMode}`
    case "AttemptStarted":
      return event.attempt === 1 ? "started" : `started attempt ${event.attempt}`
    case "AttemptSucceeded":
      return event.attempt === 1 ? "succeeded" : `succeeded on attempt ${event.attempt}`
    case "AttemptFailed":
      return `attempt ${event.attempt} failed` +
        (event.retryInMillis === undefined ? "" : `, retrying in ${formatMillis(event.retryInMillis)}`) +
        `: ${event.error}`
    case "JobSkipped":
      return `skipped: ${event.reason}`
    case "JobInterrupted":
      return `interrupted during attempt ${event.attempt}${event.reason === undefined ? "" : `: ${event.reason}`}`
    case "JobRestored":
      return "succeeded in an earlier attempt of this run: output restored from the journal"
    case "JobWaiting":
      return `${event.call ? "a call waits" : event.attempt === 1 ? "waiting" : `attempt ${event.attempt} waiting`} for ` +
        (event.kind === "permit"
          ? `a permit of "${event.resource}"`
          : `a rate-limit slot of "${event.resource}"` +
            (event.until === undefined ? "" : `, next slot in ${slotSeconds(event.until - event.at)} s`))
    case "JobAdmitted":
      return `${event.call ? "a call got" : "got"} ${event.kind === "permit" ? "a permit" : "a rate-limit slot"} of ` +
        `"${event.resource}" after ${formatMillis(event.waitedMillis)}`
    case "RunFinished":
      return `run ${event.runId} ${event.status} in ${formatMillis(event.durationMillis)}`
  }
}

/** Whole seconds until a rate-limit slot opens, rounded up (a slot 200 ms away is "1 s" away). */
const slotSeconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000))

/** "ran 2.1s", and ", waited 8.0s" when the job waited for resources. */
const ranAndWaited = (ranMillis: number, waitedMillis: number): string =>
  `ran ${formatMillis(Math.max(0, ranMillis))}` + (waitedMillis > 0 ? `, waited ${formatMillis(waitedMillis)}` : "")

export const formatMillis = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const minutes = Math.floor(ms / 60_000)
  return `${minutes}m${Math.round((ms % 60_000) / 1000)}s`
}

const ansi = (enabled: boolean) => {
  const wrap = (code: string) => (s: string) => enabled ? `\x1b[${code}m${s}\x1b[0m` : s
  return { green: wrap("32"), red: wrap("31"), yellow: wrap("33"), dim: wrap("2"), bold: wrap("1"), cyan: wrap("36") }
}

const clock = (at: number) => new Date(at).toISOString().slice(11, 19)

/** Plain and pretty: the same lines; pretty adds colors and a live region of running jobs at the bottom. */
const textView = (options: Options): View => {
  const out = options.output
  const pretty = options.format === "pretty"
  const c = ansi(pretty && (options.color ?? globalThis.process?.env?.["NO_COLOR"] === undefined))
  const running = new Map<string, { readonly since: number; readonly attempt: number; readonly runId: string }>()
  // Per job of a run (runs of a daemon overlap, and their jobs may share ids): when it first waited or started, how
  // long it waited before its attempts, and since when it waits now.
  const timing = new Map<string, { readonly first: number; waited: number; since: number | undefined }>()
  type JobOfRun = { readonly runId: string; readonly jobId: string }
  const key = (job: JobOfRun) => `${job.runId}\u0000${job.jobId}`
  // What each job waits for now, in order: resource, kind, when a rate-limit slot opens.
  const waiting = new Map<string, Array<{ readonly resource: string; readonly kind: "permit" | "rate"; readonly until: number | undefined }>>()
  const timingOf = (job: JobOfRun, at: number) => {
    let t = timing.get(key(job))
    if (t === undefined) timing.set(key(job), t = { first: at, waited: 0, since: undefined })
    return t
  }
  /** How long the job ran and waited up to `at`. */
  const durations = (job: JobOfRun, at: number) => {
    const t = timing.get(key(job))
    if (t === undefined) return { ran: 0, waited: 0 }
    const waited = t.waited + (t.since === undefined ? 0 : Math.max(0, at - t.since))
    return { ran: at - t.first - waited, waited }
  }
  const done = (job: JobOfRun) => {
    running.delete(job.jobId)
    waiting.delete(job.jobId)
    timing.delete(key(job))
  }
  const counts = { total: 0, succeeded: 0, failed: 0, skipped: 0, retries: 0 }
  let regionLines = 0
  let now = 0
  let finished = false

  const region = (): string => {
    if (!pretty || finished || counts.total === 0) return ""
    // Truncate what is visible (the id), never the composed line: cutting through an escape code breaks the terminal.
    const idWidth = Math.max(10, (out.columns || 100) - 24)
    const rows = [...running.entries()].slice(0, 8).map(([id, r]) => {
      const extra = r.attempt > 1 ? c.yellow(` attempt ${r.attempt}`) : ""
      const shown = id.length > idWidth ? id.slice(0, idWidth - 1) + "…" : id
      const { ran, waited } = durations({ runId: r.runId, jobId: id }, now)
      return `  ${c.cyan("▸")} ${shown} ${c.dim(ranAndWaited(ran, waited))}${extra}`
    })
    if (running.size > 8) rows.push(c.dim(`  ... and ${running.size - 8} more running`))
    const waitLine = waitingLine(waiting, now)
    if (waitLine !== "") {
      // Cut the plain text, then color it: cutting through an escape code breaks the terminal.
      const width = Math.max(20, (out.columns || 100) - 3)
      rows.push(`  ${c.yellow(waitLine.length > width ? waitLine.slice(0, width - 1) + "…" : waitLine)}`)
    }
    const waitingJobs = waiting.size
    const done = counts.succeeded + counts.failed + counts.skipped
    rows.push(
      c.bold(`[${done}/${counts.total}]`) + ` ${c.green(`${counts.succeeded} done`)} · ` +
        `${counts.failed > 0 ? c.red(`${counts.failed} failed`) : "0 failed"} · ${counts.skipped} skipped · ` +
        `${running.size} running` + (waitingJobs > 0 ? ` · ${waitingJobs} waiting` : "") + (counts.retries > 0 ? ` · ${c.yellow(`${counts.retries} retries`)}` : "")
    )
    return rows.join("\n") + "\n"
  }
  /** Writes lines above the live region, then redraws it. */
  const print = (text: string) => {
    const clear = regionLines > 0 ? `\x1b[${regionLines}A\r\x1b[J` : ""
    const r = region()
    regionLines = r === "" ? 0 : r.split("\n").length - 1
    out.write(clear + text + r)
  }
  const jobLine = (at: number, jobId: string, text: string) =>
    print(`${c.dim(clock(at))} ${c.bold(jobId)} ${text}\n`)

  return {
    refresh: Effect.flatMap(Clock.currentTimeMillis, (t) =>
      Effect.sync(() => {
        now = t
        if (regionLines > 0 || running.size > 0 || waiting.size > 0) print("")
      })),
    log: (entry) => {
      const text = entry.level === "warn" || entry.level === "error" || entry.level === "fatal"
        ? c.yellow(entry.message)
        : entry.message
      if (entry.jobId === undefined) print(`${c.dim(clock(entry.at))} ${text}\n`)
      else print(`${c.dim(clock(entry.at))} ${c.dim(`[${entry.jobId}]`)} ${text}\n`)
    },
    event: (event) =>
      Effect.sync(() => {
        now = Math.max(now, event.at)
        switch (event._tag) {
          case "RunStarted":
            counts.total = event.jobIds.length
            finished = false
            return print(`${c.dim(clock(event.at))} ${describeEvent(event)}\n`)
          case "AttemptStarted":
            timingOf(event, event.at)
            running.set(event.jobId, { since: event.at, attempt: event.attempt, runId: event.runId })
            if (!pretty) jobLine(event.at, event.jobId, describeEvent(event))
            else print("")
            return
          case "JobWaiting": {
            const list = waiting.get(event.jobId) ?? []
            list.push({ resource: event.resource, kind: event.kind, until: event.until })
            waiting.set(event.jobId, list)
            const t = timingOf(event, event.at)
            if (!event.call && t.since === undefined) t.since = event.at
            if (!pretty) jobLine(event.at, event.jobId, c.yellow(`… ${describeEvent(event)}`))
            else print("")
            return
          }
          case "JobAdmitted": {
            const list = waiting.get(event.jobId) ?? []
            const i = list.findIndex((w) => w.resource === event.resource && w.kind === event.kind)
            if (i >= 0) list.splice(i, 1)
            if (list.length === 0) waiting.delete(event.jobId)
            const t = timing.get(key(event))
            if (!event.call && t !== undefined && t.since !== undefined) {
              t.waited += event.at - t.since
              t.since = undefined
            }
            if (pretty) print("")
            return
          }
          case "AttemptSucceeded": {
            const { ran, waited } = durations(event, event.at)
            done(event)
            counts.succeeded++
            return jobLine(
              event.at,
              event.jobId,
              `${c.green("✓")} ${describeEvent(event)} ${waited > 0 ? `(${ranAndWaited(ran, waited)})` : `in ${formatMillis(ran)}`}`
            )
          }
          case "AttemptFailed":
            if (event.retryInMillis === undefined) {
              done(event)
              counts.failed++
              return jobLine(event.at, event.jobId, `${c.red("✗")} ${c.red(describeEvent(event))}`)
            }
            counts.retries++
            return jobLine(event.at, event.jobId, c.yellow(`↻ ${describeEvent(event)}`))
          case "JobSkipped":
            done(event)
            counts.skipped++
            return jobLine(event.at, event.jobId, c.dim(`⊘ ${describeEvent(event)}`))
          case "JobInterrupted":
            done(event)
            return jobLine(event.at, event.jobId, c.yellow(`■ ${describeEvent(event)}`))
          case "JobRestored":
            counts.succeeded++
            return jobLine(event.at, event.jobId, c.dim(`↺ ${describeEvent(event)}`))
          case "RunFinished":
            finished = true
            // Only this run's jobs: another run of the daemon may still be going.
            for (const [jobId, r] of running) if (r.runId === event.runId) running.delete(jobId)
            for (const k of timing.keys()) if (k.startsWith(`${event.runId}\u0000`)) timing.delete(k)
            if (running.size === 0) waiting.clear()
            return print(summaryTable(event, c))
        }
      })
  }
}

const summaryTable = (event: RunEvent.RunFinished, c: ReturnType<typeof ansi>): string => {
  const idWidth = Math.min(40, Math.max(3, ...event.jobs.map((j) => j.jobId.length)))
  const status = (s: RunEvent.JobStatus) =>
    s === "succeeded" || s === "restored" ? c.green(s.padEnd(11)) : s === "failed" ? c.red(s.padEnd(11)) : c.yellow(s.padEnd(11))
  // The job's time from its start to its end, split: what it ran (backoff between attempts included) and what it
  // waited for resource permits and rate-limit slots, as the live view shows them.
  const rows = event.jobs.slice(0, 200).map((j) =>
    `${j.jobId.padEnd(idWidth)}  ${status(j.status)}  ${String(j.attempts).padStart(8)}  ` +
    `${formatMillis(Math.max(0, j.durationMillis - (j.waitedMillis ?? 0))).padStart(8)}  ` +
    `${(j.waitedMillis ?? 0) > 0 ? formatMillis(j.waitedMillis!).padStart(8) : "-".padStart(8)}` +
    (j.status === "succeeded" || j.status === "restored" || j.detail === undefined ? "" : `  ${firstLine(j.detail)}`)
  )
  if (event.jobs.length > 200) rows.push(c.dim(`... ${event.jobs.length - 200} more jobs`))
  const failed = event.jobs.filter((j) => j.status === "failed" && j.critical)
  const verdict = event.status === "succeeded"
    ? c.green(`run ${event.runId} succeeded in ${formatMillis(event.durationMillis)}`)
    : event.status === "interrupted"
    ? c.yellow(`run ${event.runId} was interrupted after ${formatMillis(event.durationMillis)}`)
    : c.red(`run ${event.runId} failed in ${formatMillis(event.durationMillis)}: ` +
      (failed.length > 0
        ? `critical job${failed.length > 1 ? "s" : ""} ${failed.map((j) => `"${j.jobId}"`).join(", ")} failed`
        : "a critical job was interrupted"))
  const reasons = failed.map((j) => `  ${c.bold(j.jobId)}: ${j.detail ?? "failed"}`.replace(/\n/g, "\n    "))
  return [
    "",
    c.bold(`${"job".padEnd(idWidth)}  ${"status".padEnd(11)}  attempts       ran    waited`),
    ...rows,
    "",
    verdict,
    ...reasons,
    ""
  ].join("\n")
}

/** "waiting: b, c for db; r2 for api, next slot in 8 s": the jobs waiting for each resource, in order. */
const waitingLine = (
  waiting: ReadonlyMap<string, ReadonlyArray<{ readonly resource: string; readonly kind: "permit" | "rate"; readonly until: number | undefined }>>,
  now: number
): string => {
  const byResource = new Map<string, { readonly jobs: Array<string>; until: number | undefined }>()
  for (const [jobId, waits] of waiting) {
    for (const wait of waits) {
      let entry = byResource.get(wait.resource)
      if (entry === undefined) byResource.set(wait.resource, entry = { jobs: [], until: undefined })
      if (!entry.jobs.includes(jobId)) entry.jobs.push(jobId)
      if (wait.kind === "rate" && wait.until !== undefined) entry.until = Math.min(entry.until ?? Infinity, wait.until)
    }
  }
  if (byResource.size === 0) return ""
  const parts = [...byResource].map(([resource, { jobs, until }]) => {
    const shown = jobs.length > 5 ? `${jobs.slice(0, 5).join(", ")} and ${jobs.length - 5} more` : jobs.join(", ")
    return `${shown} for ${resource}` + (until === undefined ? "" : `, next slot in ${slotSeconds(until - now)} s`)
  })
  return `waiting: ${parts.join("; ")}`
}

const firstLine = (s: string) => {
  const line = s.split("\n")[0] ?? ""
  return line.length > 100 ? line.slice(0, 97) + "..." : line
}
