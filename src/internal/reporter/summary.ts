/**
 * The table a run ends with in plain and pretty: each job's status, attempts, time ran and waited (a cached job: the
 * run it came from); the verdict and why, with how many jobs were cached when some were.
 */
import * as render from "../render.ts"
import type * as RunEvent from "../RunEvent.ts"
import { formatMillis } from "./format.ts"
import type { Colors } from "./pretty.ts"

export const summaryTable = (event: RunEvent.RunFinished, c: Colors): string => {
  const idWidth = Math.min(40, Math.max(3, ...event.jobs.map((j) => j.jobId.length)))
  const status = (s: RunEvent.JobStatus) =>
    s === "succeeded" || s === "restored" || s === "cached"
      ? c.green(s.padEnd(11))
      : s === "failed"
      ? c.red(s.padEnd(11))
      : c.yellow(s.padEnd(11))
  // The job's time from its start to its end, split: what it ran (backoff between attempts included) and what it
  // waited for resource permits and rate-limit slots, as the live view shows them.
  const rows = event.jobs.slice(0, 200).map((j) =>
    `${j.jobId.padEnd(idWidth)}  ${status(j.status)}  ${String(j.attempts).padStart(8)}  ` +
    `${formatMillis(Math.max(0, j.durationMillis - (j.waitedMillis ?? 0))).padStart(8)}  ` +
    `${(j.waitedMillis ?? 0) > 0 ? formatMillis(j.waitedMillis!).padStart(8) : "-".padStart(8)}` +
    (j.status === "cached" && j.cachedFrom !== undefined
      ? `  from run ${j.cachedFrom}`
      : j.status === "succeeded" || j.status === "restored" || j.status === "cached" || j.detail === undefined
      ? ""
      : `  ${render.truncate(render.firstLine(j.detail), 100)}`)
  )
  if (event.jobs.length > 200) rows.push(c.dim(`... ${event.jobs.length - 200} more jobs`))
  const failed = event.jobs.filter((j) => j.status === "failed" && j.critical)
  const cached = event.jobs.filter((j) => j.status === "cached").length
  const cachedNote = cached === 0
    ? ""
    : ` (${cached} of ${event.jobs.length} job${event.jobs.length === 1 ? "" : "s"} cached)`
  const verdict = event.status === "succeeded"
    ? c.green(`run ${event.runId} succeeded in ${formatMillis(event.durationMillis)}${cachedNote}`)
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
