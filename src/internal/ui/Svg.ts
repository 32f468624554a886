/**
 * Drawings made on the server as SVG (no script, no CDN, nothing to freeze the browser): the run's jobs coloured by
 * status, and a Gantt chart of every attempt. Every text in them goes through `html`, so a job id cannot inject markup.
 *
 * The DAG drawing lays the jobs out in layers from their needs (journaled since migration 0011), left to right, with
 * an edge per need; a run journaled before has no needs, so its jobs are drawn in plan order, in rows, without edges.
 * Above `maxDrawnJobs` the page lists them instead.
 */
import type * as JournalQueries from "../sql/JournalQueries.ts"
import { html, type Html } from "./Html.ts"
import type { AttemptRow, WaitRow } from "./Queries.ts"

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

const boxW = 150
const boxH = 36
const gap = 12

/** One job's box, a link to its logs. */
const box = (runPath: string, job: JournalQueries.JobDetail, x: number, y: number): Html =>
  html`<a href="${runPath}/logs?job=${encodeURIComponent(job.jobId)}" data-job="${job.jobId}">
<rect x="${x}" y="${y}" width="${boxW}" height="${boxH}" rx="6" fill="${statusColor(job.status)}" data-status-fill="${job.jobId}"/>
<text x="${x + 8}" y="${y + 15}" fill="#fff" font-size="12">${truncate(job.jobId, 22)}</text>
<text x="${x + 8}" y="${y + 29}" fill="#fff" font-size="10" data-status-text="${job.jobId}">${job.status}</text>
<title>${job.jobId}: ${job.status}, ${job.attempts} attempt(s)</title></a>`

const svg = (width: number, height: number, content: Html): Html =>
  html`<svg class="dag" role="img" aria-label="jobs of the run by status" width="${width}" height="${height}"
 viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">${content}</svg>`

/**
 * Each job's layer: 0 without needs, else one more than its deepest need. The jobs come in plan order (every job after
 * the jobs it needs), so one pass suffices; a need that is not among them is ignored.
 */
export const layers = (
  jobIds: ReadonlyArray<string>,
  needs: ReadonlyMap<string, ReadonlyArray<string>>
): Map<string, number> => {
  const layer = new Map<string, number>()
  for (const id of jobIds) {
    let level = 0
    for (const need of needs.get(id) ?? []) {
      const above = layer.get(need)
      if (above !== undefined) level = Math.max(level, above + 1)
    }
    layer.set(id, level)
  }
  return layer
}

/**
 * The jobs as boxes coloured by status: with their needs, in layers left to right (a layer's jobs in plan order, top
 * to bottom) and an edge from each need to its dependent (`data-from`, `data-to`); without, in plan order, in rows.
 */
export const dag = (
  runPath: string,
  jobs: ReadonlyArray<JournalQueries.JobDetail>,
  needs?: ReadonlyMap<string, ReadonlyArray<string>>
): Html => {
  if (needs === undefined) {
    const perRow = 6
    const rows = Math.ceil(jobs.length / perRow)
    const width = Math.min(jobs.length, perRow) * (boxW + gap) + gap
    const height = rows * (boxH + gap) + gap
    return svg(width, height, html`${jobs.map((job, i) => box(runPath, job, gap + (i % perRow) * (boxW + gap), gap + Math.floor(i / perRow) * (boxH + gap)))}`)
  }
  const colGap = 48
  const layer = layers(jobs.map((job) => job.jobId), needs)
  const filled: Array<number> = []
  const at = new Map<string, { readonly x: number; readonly y: number }>()
  for (const job of jobs) {
    const l = layer.get(job.jobId)!
    const row = filled[l] ?? 0
    filled[l] = row + 1
    at.set(job.jobId, { x: gap + l * (boxW + colGap), y: gap + row * (boxH + gap) })
  }
  const width = Math.max(1, filled.length) * (boxW + colGap) - colGap + 2 * gap
  const height = Math.max(1, ...filled) * (boxH + gap) + gap
  const edges: Array<Html> = []
  for (const job of jobs) {
    const to = at.get(job.jobId)!
    for (const need of needs.get(job.jobId) ?? []) {
      const from = at.get(need)
      if (from === undefined) continue
      const x1 = from.x + boxW
      const y1 = from.y + boxH / 2
      const x2 = to.x - 4
      const y2 = to.y + boxH / 2
      const mid = (x1 + x2) / 2
      edges.push(html`<path class="edge" d="M${x1} ${y1}C${mid} ${y1} ${mid} ${y2} ${x2} ${y2}" fill="none" stroke="#90a4ae"
 stroke-width="1.5" marker-end="url(#arrow)" data-from="${need}" data-to="${job.jobId}"><title>${job.jobId} needs ${need}</title></path>`)
    }
  }
  return svg(width, height, html`<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="8" markerHeight="8"
 orient="auto"><path d="M0 0L8 4L0 8z" fill="#90a4ae"/></marker></defs>${edges}${jobs.map((job) => {
    const p = at.get(job.jobId)!
    return box(runPath, job, p.x, p.y)
  })}`)
}

/** The colours of the Gantt chart's segments, with what each means (its legend). */
const segments = {
  queued: "#bdbdbd",
  wait: "#7b1fa2",
  retry: "url(#retry)"
} as const

/** The hatching of a retry delay (`id`: one per SVG, ids being unique in a page). */
const retryPattern = (id: string) =>
  html`<pattern id="${id}" width="4" height="4" patternUnits="userSpaceOnUse"><path d="M0 4L4 0" stroke="#ef6c00"/></pattern>`

/** The Gantt chart's legend, as its own small SVG: what each colour and pattern stands for. */
export const ganttLegend = (): Html => {
  const items: ReadonlyArray<readonly [fill: string, label: string, kind: string]> = [
    [segments.queued, "queued", "queued"],
    [segments.wait, "waiting for a resource", "wait"],
    ["url(#retry-legend)", "retry delay", "retry"],
    [statusColor("running"), "running", "running"],
    [statusColor("succeeded"), "succeeded", "succeeded"],
    [statusColor("failed"), "failed", "failed"],
    [statusColor("interrupted"), "interrupted", "interrupted"]
  ]
  let x = 0
  const entries = items.map(([fill, label, kind]) => {
    const entry = html`<g data-legend="${kind}"><rect x="${x}" y="3" width="14" height="10" fill="${fill}" stroke="#616161" stroke-width="0.5"/>
<text x="${x + 18}" y="12" font-size="11">${label}</text></g>`
    x += 34 + label.length * 6.4
    return entry
  })
  return html`<svg class="gantt-legend" role="img" aria-label="legend of the timeline" width="${Math.ceil(x)}" height="16"
 viewBox="0 0 ${Math.ceil(x)} 16" xmlns="http://www.w3.org/2000/svg"><defs>${retryPattern("retry-legend")}</defs>${entries}</svg>`
}

/**
 * Every attempt on one time axis from the run's start: for each job a grey bar while it was queued (from the run's
 * start to its first attempt), a purple bar for each wait for a resource (a permit or a rate-limit slot: before an
 * attempt, on the queued line; inside one, `r.use`, over its bar), one bar per attempt coloured by its outcome, and a
 * hatched bar for each retry delay (from an attempt's end to the next one's start).
 */
export const gantt = (
  run: { readonly startedAt: number; readonly endedAt: number | undefined },
  jobIds: ReadonlyArray<string>,
  attempts: ReadonlyArray<AttemptRow>,
  now: number,
  waits: ReadonlyArray<WaitRow> = []
): Html => {
  const label = 170
  const chart = 640
  const rowH = 20
  const end = Math.max(run.endedAt ?? now, ...attempts.map((a) => a.endedAt ?? now), ...waits.map((w) => w.endedAt), run.startedAt + 1)
  const span = end - run.startedAt
  const x = (t: number) => label + ((Math.max(t, run.startedAt) - run.startedAt) / span) * chart
  const byJob = new Map<string, Array<AttemptRow>>()
  for (const a of attempts) (byJob.get(a.jobId) ?? byJob.set(a.jobId, []).get(a.jobId)!).push(a)
  const waitsByJob = new Map<string, Array<WaitRow>>()
  for (const w of waits) (waitsByJob.get(w.jobId) ?? waitsByJob.set(w.jobId, []).get(w.jobId)!).push(w)
  const shown = jobIds.filter((id) => byJob.has(id) || waitsByJob.has(id))
  const rows = shown.map((jobId, i) => {
    const list = byJob.get(jobId) ?? []
    const y = 22 + i * rowH
    const first = list[0]
    const queued = first === undefined ? html`` : html`<rect x="${x(run.startedAt)}" y="${y + 6}" width="${Math.max(0, x(first.startedAt) - x(run.startedAt))}"
 height="4" fill="${segments.queued}" data-segment="queued"><title>${jobId}: queued ${first.startedAt - run.startedAt} ms</title></rect>`
    const bars = list.map((a, k) => {
      const stop = a.endedAt ?? now
      const next = list[k + 1]
      const delay = next !== undefined && a.endedAt !== undefined
        ? html`<rect x="${x(a.endedAt)}" y="${y + 4}" width="${Math.max(0, x(next.startedAt) - x(a.endedAt))}" height="8"
 fill="${segments.retry}" data-segment="retry"><title>${jobId}: retry delay ${next.startedAt - a.endedAt} ms</title></rect>`
        : html``
      return html`<rect x="${x(a.startedAt)}" y="${y + 2}" width="${Math.max(1, x(stop) - x(a.startedAt))}" height="14"
 fill="${statusColor(a.status)}" data-segment="attempt"><title>${jobId} attempt ${a.attempt}: ${a.status}, ${stop - a.startedAt} ms</title></rect>${delay}`
    })
    // Drawn last: a wait inside an attempt (`r.use`) lies over the attempt's bar.
    const waited = (waitsByJob.get(jobId) ?? []).map((w) =>
      html`<rect x="${x(w.startedAt)}" y="${y + (w.call ? 7 : 4)}" width="${Math.max(1, x(w.endedAt) - x(w.startedAt))}" height="${w.call ? 4 : 8}"
 fill="${segments.wait}" data-segment="wait" data-resource="${w.resource}"><title>${jobId} ${w.call ? `attempt ${w.attempt}` : `before attempt ${w.attempt}`}: waited ${
        w.endedAt - w.startedAt
      } ms for ${w.kind === "rate" ? "a rate-limit slot" : "a permit"} of ${w.resource}</title></rect>`
    )
    return html`<g data-gantt-job="${jobId}"><text x="0" y="${y + 13}" font-size="11">${truncate(jobId, 26)}</text>${queued}${bars}${waited}</g>`
  })
  const height = 30 + shown.length * rowH
  const width = label + chart + 10
  return html`<svg class="gantt" role="img" aria-label="timeline of every attempt" width="${width}" height="${height}"
 viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">
<defs>${retryPattern("retry")}</defs>
<text x="${label}" y="12" font-size="10">0 s</text><text x="${label + chart - 40}" y="12" font-size="10">${(span / 1000).toFixed(1)} s</text>
${rows}</svg>`
}
