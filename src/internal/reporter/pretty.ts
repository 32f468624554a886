/**
 * What the pretty view adds to the plain lines: colors, and a live region at the bottom of the terminal — the running
 * jobs with how long they ran and waited, what waits for which resource, and the counters — redrawn under each line.
 */
import { ranAndWaited, slotSeconds } from "./format.ts"

/** ANSI colors, or the identity when they are off (plain, NO_COLOR). */
export const ansi = (enabled: boolean) => {
  const wrap = (code: string) => (s: string) => enabled ? `\x1b[${code}m${s}\x1b[0m` : s
  return { green: wrap("32"), red: wrap("31"), yellow: wrap("33"), dim: wrap("2"), bold: wrap("1"), cyan: wrap("36") }
}

export type Colors = ReturnType<typeof ansi>

/** A resource a job waits for now. */
export interface Wait {
  readonly resource: string
  readonly kind: "permit" | "rate"
  /** When the rate-limit slot opens. */
  readonly until: number | undefined
}

/** The jobs' progress the region shows. */
export interface Progress {
  readonly running: ReadonlyMap<string, { readonly since: number; readonly attempt: number; readonly runId: string }>
  readonly waiting: ReadonlyMap<string, ReadonlyArray<Wait>>
  readonly counts: {
    readonly total: number
    readonly succeeded: number
    /** Reused from an earlier run (up-to-date): done without running, counted in "done" and named apart. */
    readonly cached: number
    readonly failed: number
    readonly skipped: number
    readonly retries: number
  }
  /** How long a job ran and waited up to `at`. */
  readonly durations: (job: { readonly runId: string; readonly jobId: string }, at: number) => { readonly ran: number; readonly waited: number }
}

/** The live region's text (ending with a newline), for a terminal `columns` wide at time `now`. */
export const region = (progress: Progress, now: number, columns: number | undefined, c: Colors): string => {
  const { counts, running, waiting } = progress
  // Truncate what is visible (the id), never the composed line: cutting through an escape code breaks the terminal.
  const idWidth = Math.max(10, (columns || 100) - 24)
  const rows = [...running.entries()].slice(0, 8).map(([id, r]) => {
    const extra = r.attempt > 1 ? c.yellow(` attempt ${r.attempt}`) : ""
    const shown = id.length > idWidth ? id.slice(0, idWidth - 1) + "…" : id
    const { ran, waited } = progress.durations({ runId: r.runId, jobId: id }, now)
    return `  ${c.cyan("▸")} ${shown} ${c.dim(ranAndWaited(ran, waited))}${extra}`
  })
  if (running.size > 8) rows.push(c.dim(`  ... and ${running.size - 8} more running`))
  const waitLine = waitingLine(waiting, now)
  if (waitLine !== "") {
    // Cut the plain text, then color it: cutting through an escape code breaks the terminal.
    const width = Math.max(20, (columns || 100) - 3)
    rows.push(`  ${c.yellow(waitLine.length > width ? waitLine.slice(0, width - 1) + "…" : waitLine)}`)
  }
  const waitingJobs = waiting.size
  const done = counts.succeeded + counts.cached + counts.failed + counts.skipped
  rows.push(
    c.bold(`[${done}/${counts.total}]`) + ` ${c.green(`${counts.succeeded + counts.cached} done`)}` +
      (counts.cached > 0 ? ` (${counts.cached} cached)` : "") + " · " +
      `${counts.failed > 0 ? c.red(`${counts.failed} failed`) : "0 failed"} · ${counts.skipped} skipped · ` +
      `${running.size} running` + (waitingJobs > 0 ? ` · ${waitingJobs} waiting` : "") + (counts.retries > 0 ? ` · ${c.yellow(`${counts.retries} retries`)}` : "")
  )
  return rows.join("\n") + "\n"
}

/** "waiting: b, c for db; r2 for api, next slot in 8 s": the jobs waiting for each resource, in order. */
const waitingLine = (
  waiting: ReadonlyMap<string, ReadonlyArray<Wait>>,
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
