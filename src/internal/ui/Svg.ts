/**
 * Drawings made on the server as SVG (no script, no CDN, nothing to freeze the browser): the run's jobs coloured by
 * status, and a Gantt chart of every attempt. Every text in them goes through `html`, so a job id cannot inject markup.
 *
 * The journal records each job's place in the plan (its row order is a topological order) but not its dependencies,
 * so the DAG drawing lays the jobs out in that order, in rows, without edges; above `maxDrawnJobs` it is a list.
 */
import type * as JournalQueries from "../sql/JournalQueries.ts"
import { html, type Html } from "./Html.ts"
import type { AttemptRow } from "./Queries.ts"

/** Above this many jobs the run page lists them instead of drawing them. */
export const maxDrawnJobs = 200

/** The Gantt chart shows at most this many jobs (rows); the JSON has every attempt. */
export const maxGanttJobs = 300

/** The fill of a status (the same classes colour the grid and the lists, in app.css). */
export const statusColor = (status: string): string => {
  switch (status) {
    case "succeeded":
      return "#2e7d32"
    case "cached":
    case "restored":
      return "#558b2f"
    case "failed":
      return "#c62828"
    case "running":
      return "#1565c0"
    case "skipped":
      return "#757575"
    case "interrupted":
      return "#ef6c00"
    default:
      return "#9e9e9e"
  }
}

const truncate = (text: string, max: number) => text.length <= max ? text : text.slice(0, max - 1) + "…"

/** The jobs as boxes in plan order, `perRow` to a row, each a link to its logs. */
export const dag = (runPath: string, jobs: ReadonlyArray<JournalQueries.JobDetail>): Html => {
  const perRow = 6
  const w = 150
  const h = 36
  const gap = 12
  const rows = Math.ceil(jobs.length / perRow)
  const width = Math.min(jobs.length, perRow) * (w + gap) + gap
  const height = rows * (h + gap) + gap
  const boxes = jobs.map((job, i) => {
    const x = gap + (i % perRow) * (w + gap)
    const y = gap + Math.floor(i / perRow) * (h + gap)
    return html`<a href="${runPath}/logs?job=${encodeURIComponent(job.jobId)}" data-job="${job.jobId}">
<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="6" fill="${statusColor(job.status)}" data-status-fill="${job.jobId}"/>
<text x="${x + 8}" y="${y + 15}" fill="#fff" font-size="12">${truncate(job.jobId, 22)}</text>
<text x="${x + 8}" y="${y + 29}" fill="#fff" font-size="10" data-status-text="${job.jobId}">${job.status}</text>
<title>${job.jobId}: ${job.status}, ${job.attempts} attempt(s)</title></a>`
  })
  return html`<svg class="dag" role="img" aria-label="jobs of the run by status" width="${width}" height="${height}"
 viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">${boxes}</svg>`
}

/**
 * Every attempt on one time axis from the run's start: for each job a grey bar while it was queued (from the run's
 * start to its first attempt), one bar per attempt coloured by its outcome, and a hatched bar for each retry delay
 * (from an attempt's end to the next one's start).
 */
export const gantt = (
  run: { readonly startedAt: number; readonly endedAt: number | undefined },
  jobIds: ReadonlyArray<string>,
  attempts: ReadonlyArray<AttemptRow>,
  now: number
): Html => {
  const label = 170
  const chart = 640
  const rowH = 20
  const end = Math.max(run.endedAt ?? now, ...attempts.map((a) => a.endedAt ?? now), run.startedAt + 1)
  const span = end - run.startedAt
  const x = (t: number) => label + ((t - run.startedAt) / span) * chart
  const byJob = new Map<string, Array<AttemptRow>>()
  for (const a of attempts) (byJob.get(a.jobId) ?? byJob.set(a.jobId, []).get(a.jobId)!).push(a)
  const shown = jobIds.filter((id) => byJob.has(id))
  const rows = shown.map((jobId, i) => {
    const list = byJob.get(jobId)!
    const y = 22 + i * rowH
    const first = list[0]!
    const queued = html`<rect x="${x(run.startedAt)}" y="${y + 6}" width="${Math.max(0, x(first.startedAt) - x(run.startedAt))}"
 height="4" fill="#bdbdbd"><title>${jobId}: queued ${first.startedAt - run.startedAt} ms</title></rect>`
    const bars = list.map((a, k) => {
      const stop = a.endedAt ?? now
      const next = list[k + 1]
      const delay = next !== undefined && a.endedAt !== undefined
        ? html`<rect x="${x(a.endedAt)}" y="${y + 4}" width="${Math.max(0, x(next.startedAt) - x(a.endedAt))}" height="8"
 fill="url(#retry)"><title>${jobId}: retry delay ${next.startedAt - a.endedAt} ms</title></rect>`
        : html``
      return html`<rect x="${x(a.startedAt)}" y="${y + 2}" width="${Math.max(1, x(stop) - x(a.startedAt))}" height="14"
 fill="${statusColor(a.status)}"><title>${jobId} attempt ${a.attempt}: ${a.status}, ${stop - a.startedAt} ms</title></rect>${delay}`
    })
    return html`<g><text x="0" y="${y + 13}" font-size="11">${truncate(jobId, 26)}</text>${queued}${bars}</g>`
  })
  const height = 30 + shown.length * rowH
  const width = label + chart + 10
  return html`<svg class="gantt" role="img" aria-label="timeline of every attempt" width="${width}" height="${height}"
 viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">
<defs><pattern id="retry" width="4" height="4" patternUnits="userSpaceOnUse"><path d="M0 4L4 0" stroke="#ef6c00"/></pattern></defs>
<text x="${label}" y="12" font-size="10">0 s</text><text x="${label + chart - 40}" y="12" font-size="10">${(span / 1000).toFixed(1)} s</text>
${rows}</svg>`
}
