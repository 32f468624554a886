/**
 * The plain and pretty views: the same line per event and log; pretty adds colors and a live region of running jobs
 * at the bottom (pretty.ts), plain writes one line for each job start and wait instead.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as RunEvent from "../RunEvent.ts"
import { clock, describeEvent, describeRestored, formatMillis, ranAndWaited } from "./format.ts"
import * as pretty from "./pretty.ts"
import type { Options, View } from "./Reporter.ts"
import { summaryTable } from "./summary.ts"

/** How many restored jobs of a run get a line each; the others share one. */
const RESTORED_LINES = 10

/** The view for plain or pretty (`options.format`). */
export const view = (options: Options): View => {
  const out = options.output
  // Pretty: a live region under the lines, so job starts and waits show there rather than as lines of their own.
  const live = options.format === "pretty"
  const c = pretty.ansi(live && (options.color ?? globalThis.process?.env?.["NO_COLOR"] === undefined))
  const running = new Map<string, { readonly since: number; readonly attempt: number; readonly runId: string }>()
  // Per job of a run (runs of a daemon overlap, and their jobs may share ids): when it first waited or started, how
  // long it waited before its attempts, and since when it waits now.
  const timing = new Map<string, { readonly first: number; waited: number; since: number | undefined }>()
  type JobOfRun = { readonly runId: string; readonly jobId: string }
  const key = (job: JobOfRun) => `${job.runId}\u0000${job.jobId}`
  // What each job waits for now, in order: resource, kind, when a rate-limit slot opens.
  const waiting = new Map<string, Array<pretty.Wait>>()
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
  const counts = { total: 0, succeeded: 0, cached: 0, failed: 0, skipped: 0, retries: 0 }
  let regionLines = 0
  let now = 0
  let finished = false

  /** Writes lines above the live region, then redraws it. */
  const print = (text: string) => {
    const clear = regionLines > 0 ? `\x1b[${regionLines}A\r\x1b[J` : ""
    const r = !live || finished || counts.total === 0 ? "" : pretty.region({ running, waiting, counts, durations }, now, out.columns, c)
    regionLines = r === "" ? 0 : r.split("\n").length - 1
    out.write(clear + text + r)
  }
  const jobLine = (at: number, jobId: string, text: string) =>
    print(`${c.dim(clock(at))} ${c.bold(jobId)} ${text}\n`)

  // A resumed run restores its earlier successes in one burst before its first new job: the first RESTORED_LINES
  // get a line each, the others one line that counts them, written before whatever comes next. A 10,000-job run
  // killed at 50% printed 5,000 lines (on a terminal, 5,000 redraws of the live region) before its first new job.
  const restoredOf = new Map<string, number>()
  const heldBack = new Map<string, { count: number; at: number }>()
  const restored = (event: RunEvent.JobRestored) => {
    const n = (restoredOf.get(event.runId) ?? 0) + 1
    restoredOf.set(event.runId, n)
    if (n <= RESTORED_LINES) return jobLine(event.at, event.jobId, c.dim(`↺ ${describeRestored(1)}`))
    const held = heldBack.get(event.runId)
    if (held === undefined) heldBack.set(event.runId, { count: 1, at: event.at })
    else {
      held.count++
      held.at = event.at
    }
  }
  const releaseHeldBack = () => {
    if (heldBack.size === 0) return
    let text = ""
    for (const { count, at } of heldBack.values()) {
      text += `${c.dim(clock(at))} ${c.dim(`↺ and ${count} more job${count === 1 ? "" : "s"} ${describeRestored(count)}`)}\n`
    }
    heldBack.clear()
    print(text)
  }

  /** Shows one event (see `event` and `events`). */
  const show = (event: RunEvent.RunEvent) => {
    now = Math.max(now, event.at)
    if (event._tag !== "JobRestored") releaseHeldBack()
    switch (event._tag) {
      case "RunStarted":
        counts.total = event.jobIds.length
        finished = false
        return print(`${c.dim(clock(event.at))} ${describeEvent(event)}\n`)
      case "AttemptStarted":
        timingOf(event, event.at)
        running.set(event.jobId, { since: event.at, attempt: event.attempt, runId: event.runId })
        if (!live) jobLine(event.at, event.jobId, describeEvent(event))
        else print("")
        return
      case "JobWaiting": {
        const list = waiting.get(event.jobId) ?? []
        list.push({ resource: event.resource, kind: event.kind, until: event.until })
        waiting.set(event.jobId, list)
        const t = timingOf(event, event.at)
        if (!event.call && t.since === undefined) t.since = event.at
        if (!live) jobLine(event.at, event.jobId, c.yellow(`… ${describeEvent(event)}`))
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
        if (live) print("")
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
      case "JobCached":
        // Done without running: a line of its own (it never started, so nothing else shows it) and a count.
        done(event)
        counts.cached++
        return jobLine(event.at, event.jobId, `${c.green("↺")} ${c.green(describeEvent(event))}`)
      case "JobRestored":
        counts.succeeded++
        return restored(event)
      case "RunFinished":
        finished = true
        restoredOf.delete(event.runId)
        // Only this run's jobs: another run of the daemon may still be going.
        for (const [jobId, r] of running) if (r.runId === event.runId) running.delete(jobId)
        for (const k of timing.keys()) if (k.startsWith(`${event.runId}\u0000`)) timing.delete(k)
        if (running.size === 0) waiting.clear()
        return print(summaryTable(event, c))
    }
  }

  return {
    refresh: Effect.flatMap(Clock.currentTimeMillis, (t) =>
      Effect.sync(() => {
        releaseHeldBack()
        now = t
        if (regionLines > 0 || running.size > 0 || waiting.size > 0) print("")
      })),
    log: (entry) => {
      releaseHeldBack()
      const text = entry.level === "warn" || entry.level === "error" || entry.level === "fatal"
        ? c.yellow(entry.message)
        : entry.message
      if (entry.jobId === undefined) print(`${c.dim(clock(entry.at))} ${text}\n`)
      else print(`${c.dim(clock(entry.at))} ${c.dim(`[${entry.jobId}]`)} ${text}\n`)
    },
    event: (event) => Effect.sync(() => show(event)),
    events: (events) =>
      Effect.sync(() => {
        for (const event of events) show(event)
      })
  }
}
