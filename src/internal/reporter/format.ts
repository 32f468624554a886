/**
 * The words and numbers every view of a run shares, and that the operator commands borrow so that `runner show`
 * prints durations as the run's summary did: one sentence per event, durations, clock times.
 */
import type * as RunEvent from "../RunEvent.ts"

/** A duration as the summary prints it: `39ms`, `1.2s`, `3m5s`. */
export const formatMillis = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const minutes = Math.floor(ms / 60_000)
  return `${minutes}m${Math.round((ms % 60_000) / 1000)}s`
}

/** Whole seconds until a rate-limit slot opens, rounded up (a slot 200 ms away is "1 s" away). */
export const slotSeconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000))

/** "ran 2.1s", and ", waited 8.0s" when the job waited for resources. */
export const ranAndWaited = (ranMillis: number, waitedMillis: number): string =>
  `ran ${formatMillis(Math.max(0, ranMillis))}` + (waitedMillis > 0 ? `, waited ${formatMillis(waitedMillis)}` : "")

/**
 * How long ago something happened, in the one unit a person reads at a glance: `40s`, `5m`, `3h`, `2d` (a cached
 * job's success may be seconds or months old; `formatMillis` would say `4320m0s`).
 */
export const formatAge = (ms: number): string => {
  const seconds = Math.max(0, Math.floor(ms / 1000))
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)}h`
  return `${Math.floor(seconds / 86_400)}d`
}

/** "cached (from run R, 3h ago)": a reused success and its origin, as every view says it. */
export const cachedFrom = (fromRunId: string, ageMillis: number): string =>
  `cached (from run ${fromRunId}, ${formatAge(ageMillis)} ago)`

/**
 * A run's jobs by what became of them. `ran`: made at least one attempt (whatever its end); `cached`: an earlier run's
 * success reused without running (up-to-date skipping); `skipped`: not run because of a failure; the rest never
 * started (an interrupted run).
 */
export interface JobCounts {
  readonly total: number
  readonly ran: number
  readonly cached: number
  readonly skipped: number
}

/** The counts of a run's jobs, from their statuses and attempts (a journal's rows, a run's summary). */
export const countJobs = (jobs: ReadonlyArray<{ readonly status: string; readonly attempts: number }>): JobCounts => {
  let ran = 0
  let cached = 0
  let skipped = 0
  for (const job of jobs) {
    if (job.status === "cached") cached++
    else if (job.status === "skipped") skipped++
    else if (job.attempts > 0) ran++
  }
  return { total: jobs.length, ran, cached, skipped }
}

/**
 * "12 jobs: 3 ran, 9 cached": what became of a run's jobs, the skipped and the never started named only when there
 * are some. A run that reused most of its work says so at a glance (`history`, `show`, notifications).
 */
export const describeCounts = (counts: JobCounts): string => {
  if (counts.total === 0) return "no jobs"
  const notRun = counts.total - counts.ran - counts.cached - counts.skipped
  const parts = [
    `${counts.ran} ran`,
    ...(counts.cached > 0 ? [`${counts.cached} cached`] : []),
    ...(counts.skipped > 0 ? [`${counts.skipped} skipped`] : []),
    ...(notRun > 0 ? [`${notRun} not run`] : [])
  ]
  return `${counts.total} job${counts.total === 1 ? "" : "s"}: ${parts.join(", ")}`
}

/**
 * The UTC time of day, `14:05:09`, that plain and pretty lines start with. The text of the last second is kept: lines
 * come many to a second (5,000 restored jobs' lines at a resume), and a Date formatted per line was ~1.5 µs each.
 */
export const clock = (at: number): string => {
  const second = Math.floor(at / 1000)
  if (second !== clockSecond) {
    clockText = new Date(second * 1000).toISOString().slice(11, 19)
    clockSecond = second
  }
  return clockText
}
let clockSecond = Number.NaN
let clockText = ""

/** What became of `count` restored jobs (the line of one, or of those a text view counts on one line). */
export const describeRestored = (count: number): string =>
  `succeeded in an earlier attempt of this run: ${count === 1 ? "output" : "outputs"} restored from the journal`

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
      return describeRestored(1)
    case "JobCached":
      return cachedFrom(event.fromRunId, event.at - event.cachedAt)
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
