/**
 * The dashboard's pages, as HTML strings made with `html` (every interpolation escaped). Lists and forms work without
 * JavaScript (filters are GET forms, pages are links); the one script (app.js) only adds live updates.
 */
import type * as JournalQueries from "../sql/JournalQueries.ts"
import { formatMillis } from "../reporter/format.ts"
import { html, type Html, query, raw, segment } from "./Html.ts"
import type { Grid, LogFilters, RunFilters, RunItem } from "./Queries.ts"
import * as Svg from "./Svg.ts"

/** A time as the pages show it: UTC, to the second (the `<time>` element carries the exact instant). */
export const time = (millis: number | undefined): Html =>
  millis === undefined
    ? html`-`
    : html`<time datetime="${new Date(millis).toISOString()}">${
      new Date(millis).toISOString().slice(0, 19).replace("T", " ")
    }Z</time>`

export const duration = (millis: number | undefined): string => millis === undefined ? "-" : formatMillis(millis)

const badge = (status: string, jobId?: string): Html =>
  html`<span class="status s-${status}"${jobId === undefined ? "" : html` data-job-status="${jobId}"`}>${status}</span>`

/** A value for a shell command line, quoted when it needs to be. */
export const shellQuote = (value: string): string => /^[A-Za-z0-9_./:=@%+,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`

/** The page around a body. */
export const layout = (title: string, body: Html, options: { readonly live?: string | undefined } = {}): string =>
  html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · runner</title><link rel="stylesheet" href="/assets/app.css">
${options.live === undefined ? "" : html`<script src="/assets/app.js" defer></script>`}
</head><body${options.live === undefined ? "" : html` data-live="${options.live}"`}>
<a class="skip" href="#main">Skip to content</a>
<header><nav aria-label="main"><a href="/" class="brand">runner</a> <a href="/">Runs</a> <a href="/grid">Grid</a></nav></header>
<main id="main">${body}</main></body></html>`.value

const dagOptions = (dags: ReadonlyArray<string>, selected: string | undefined): Html =>
  html`<option value="">all</option>${
    dags.map((dag) => html`<option value="${dag}"${dag === selected ? raw(" selected") : ""}>${dag}</option>`)
  }`

const statuses = ["running", "succeeded", "failed", "interrupted"]

const dateInput = (millis: number | undefined) => millis === undefined ? "" : new Date(millis).toISOString().slice(0, 10)

/** `/`: the runs, newest first, with filters and a link to the next page. */
export const runsPage = (
  runs: ReadonlyArray<RunItem>,
  filters: RunFilters,
  dags: ReadonlyArray<string>,
  next: string | undefined,
  limit: number
): string => {
  const keep = {
    dag: filters.dag,
    status: filters.status,
    key: filters.key,
    trigger: filters.trigger,
    from: dateInput(filters.from),
    to: filters.to === undefined ? undefined : dateInput(filters.to - 86_400_000),
    limit: limit === 50 ? undefined : limit
  }
  const rows = runs.map((run) =>
    html`<tr><td><a href="/runs/${segment(run.runId)}">${run.runId}</a></td><td><a href="/grid${query({ dag: run.dag })}">${run.dag}</a></td>
<td>${run.key ?? "-"}</td><td>${badge(run.status)}</td><td>${run.trigger}</td><td>${time(run.startedAt)}</td>
<td class="num">${duration(run.wallClockMillis)}</td><td>${
      run.failedJobs.length === 0 ? "-" : run.failedJobs.map((job, i) =>
        html`${i > 0 ? ", " : ""}<a href="/runs/${segment(run.runId)}/logs${query({ job })}">${job}</a>`
      )
    }</td></tr>`
  )
  return layout(
    "Runs",
    html`<h1>Runs</h1>
<form class="filters" method="get" action="/" role="search" aria-label="filter runs">
<label>DAG <select name="dag">${dagOptions(dags, filters.dag)}</select></label>
<label>Status <select name="status"><option value="">all</option>${
      statuses.map((s) => html`<option${s === filters.status ? raw(" selected") : ""}>${s}</option>`)
    }</select></label>
<label>Key <input name="key" value="${filters.key ?? ""}" size="12"></label>
<label>Trigger <input name="trigger" value="${filters.trigger ?? ""}" size="8"></label>
<label>From <input type="date" name="from" value="${keep.from}"></label>
<label>To <input type="date" name="to" value="${keep.to ?? ""}"></label>
<button type="submit">Filter</button> <a href="/">Clear</a></form>
${
      runs.length === 0
        ? html`<p class="empty">No runs match.</p>`
        : html`<table class="runs"><caption class="sr">Runs, newest first</caption><thead><tr><th scope="col">Run</th><th scope="col">DAG</th><th scope="col">Key</th>
<th scope="col">Status</th><th scope="col">Trigger</th><th scope="col">Started (UTC)</th><th scope="col">Duration</th><th scope="col">Failed jobs</th></tr></thead>
<tbody>${rows}</tbody></table>`
    }
<nav class="pager" aria-label="pages">${
      next === undefined ? html`<span>End of the list.</span>` : html`<a rel="next" href="/${query({ ...keep, after: next })}">Older runs →</a>`
    } <a href="/">Newest</a></nav>`
  )
}

/** `/grid?dag=D`: runs × jobs, each cell a status with attempts and duration in its tooltip. */
export const gridPage = (dag: string | undefined, dags: ReadonlyArray<string>, grid: Grid | undefined, limit: number): string => {
  const picker = html`<form method="get" action="/grid" class="filters" aria-label="choose a DAG">
<label>DAG <select name="dag">${dagOptions(dags, dag)}</select></label>
<label>Runs <input type="number" name="runs" min="1" max="100" value="${limit}"></label><button type="submit">Show</button></form>`
  if (dag === undefined || grid === undefined) {
    return layout("Grid", html`<h1>Grid</h1>${picker}<p>Choose a DAG to see its latest runs × jobs.</p>`)
  }
  const head = html`<tr><th scope="col">Run</th>${grid.jobIds.map((job) => html`<th scope="col" class="job"><span>${job}</span></th>`)}</tr>`
  const rows = grid.runs.map((run) =>
    html`<tr data-run="${run.runId}" data-run-status="${run.status}"><th scope="row"><a href="/runs/${segment(run.runId)}">${run.runId}</a> ${
      badge(run.status)
    }</th>${
      grid.jobIds.map((job) => {
        const cell = grid.cells[run.runId]?.[job]
        if (cell === undefined) return html`<td class="cell none" title="not in this run">·</td>`
        const tip = `${job}: ${cell.status}, ${cell.attempts} attempt(s), ${duration(cell.durationMillis)}`
        return html`<td class="cell s-${cell.status}" data-cell="${job}" title="${tip}"><a href="/runs/${segment(run.runId)}/logs${
          query({ job })
        }" aria-label="${tip}">${cell.attempts > 1 ? String(cell.attempts) : ""}</a></td>`
      })
    }</tr>`
  )
  return layout(
    `Grid ${dag}`,
    html`<h1>Grid: ${dag}</h1>${picker}
${grid.runs.length === 0 ? html`<p class="empty">No runs of this DAG.</p>` : html`<div class="gridwrap"><table class="grid">
<caption class="sr">Latest runs of ${dag} by job; a number is the attempts of a retried job</caption><thead>${head}</thead><tbody>${rows}</tbody></table></div>`}
<p class="legend">Hover a cell for its status, attempts and duration. A number in a cell: attempts.</p>`,
    { live: grid.runs.some((run) => run.status === "running") ? `grid:${dag}` : undefined }
  )
}

/** Copyable commands for what an operator may do with a run (the dashboard itself writes nothing). */
const actions = (run: JournalQueries.RunDetail, journal: string): Html => {
  const taskFile = typeof run.executions[0]?.["taskFile"] === "string" ? String(run.executions[0]["taskFile"]) : "<task file>"
  const j = journal === "" ? "" : ` --journal ${shellQuote(journal)}`
  const commands: Array<readonly [string, string]> = []
  if (run.status === "running") {
    commands.push([`Cancel (on ${run.host}: stops the runner, which records the run as interrupted; it can be resumed)`, `kill -TERM ${run.pid}`])
  } else if (run.status !== "succeeded") {
    commands.push(["Resume from the failure", `runner ${shellQuote(taskFile)} --resume ${run.runId}${j}`])
  }
  commands.push([
    "Re-run",
    run.key === undefined ? `runner ${shellQuote(taskFile)}${j}` : `runner ${shellQuote(taskFile)} --key ${shellQuote(run.key)} --force${j}`
  ])
  commands.push(["Re-run without reusing cached successes", `runner ${shellQuote(taskFile)} --force${j}`])
  commands.push(["Show in the terminal", `runner show ${run.runId}${j}`])
  return html`<section aria-labelledby="actions"><h2 id="actions">Actions</h2><p>The dashboard is read-only: copy a command.</p>
<dl class="actions">${commands.map(([what, command]) => html`<dt>${what}</dt><dd><code>${command}</code></dd>`)}</dl></section>`
}

/** An output as journaled (JSON) decoded and pretty-printed; secrets are already `***` in the journal. */
const output = (text: string): string => {
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return text
  }
}

/** The ids of the first `n` jobs to start, in the order they started. */
const firstStarted = (attempts: ReadonlyArray<import("./Queries.ts").AttemptRow>, n: number): ReadonlyArray<string> => {
  const ids = new Set<string>()
  for (const a of attempts) {
    if (ids.size >= n) break
    ids.add(a.jobId)
  }
  return [...ids]
}

/** `/runs/<runId>`. */
export const runPage = (
  run: JournalQueries.RunDetail,
  jobs: ReadonlyArray<JournalQueries.JobDetail>,
  attempts: ReadonlyArray<import("./Queries.ts").AttemptRow>,
  outputs: ReadonlyMap<string, string>,
  journal: string,
  now: number,
  drawn: {
    readonly needs?: ReadonlyMap<string, ReadonlyArray<string>> | undefined
    readonly waits?: ReadonlyArray<import("./Queries.ts").WaitRow>
  } = {}
): string => {
  const path = `/runs/${segment(run.runId)}`
  const last = run.executions[run.executions.length - 1]
  const who = last === undefined
    ? "-"
    : `${String(last["user"])}@${String(last["host"])} pid ${String(last["pid"])}, ${String(last["runtime"])}, ${String(last["taskFile"])}`
  const commit = typeof last?.["gitCommit"] === "string"
    ? `${String(last["gitCommit"]).slice(0, 12)}${last["gitDirty"] === true ? " (uncommitted changes)" : ""}`
    : "-"
  const drawing = jobs.length > Svg.maxDrawnJobs
    ? html`<p>${jobs.length} jobs: too many to draw, listed below.</p>`
    : Svg.dag(path, jobs, drawn.needs)
  const jobRows = jobs.map((job) =>
    html`<tr id="job-${job.jobId}"><th scope="row"><a href="${path}/logs${query({ job: job.jobId })}">${job.jobId}</a></th>
<td>${badge(job.status, job.jobId)}</td><td class="num" data-job-attempts="${job.jobId}">${job.attempts}</td><td class="num">${duration(job.activeMillis)}</td>
<td>${
      job.error !== undefined
        ? html`<details><summary>${job.error.split("\n")[0]}</summary><pre>${job.error}</pre></details>`
        : job.cachedFrom !== undefined
        ? html`reused from <a href="/runs/${segment(job.cachedFrom)}">${job.cachedFrom}</a>`
        : job.reason !== undefined
        ? html`skipped: ${job.reason}`
        : ""
    }</td></tr>`
  )
  const outs = [...outputs].map(([jobId, text]) => html`<dt>${jobId}</dt><dd><pre>${output(text)}</pre></dd>`)
  return layout(
    `Run ${run.runId}`,
    html`<h1>Run <span class="mono">${run.runId}</span> ${badge(run.status)}</h1>
<dl class="header">
<dt>DAG</dt><dd><a href="/grid${query({ dag: run.dag })}">${run.dag}</a></dd>
<dt>Key</dt><dd>${run.key ?? "-"}</dd><dt>Trigger</dt><dd>${run.trigger}</dd>
<dt>Started</dt><dd>${time(run.startedAt)}</dd><dt>Ended</dt><dd>${time(run.endedAt)}</dd>
<dt>Duration</dt><dd>${duration(run.activeMillis)}${run.executions.length > 1 ? ` in ${run.executions.length} executions` : ""}</dd>
<dt>Who / where</dt><dd>${who}</dd><dt>Commit</dt><dd>${commit}</dd>
<dt>Runner</dt><dd>${run.runnerVersion} on ${run.host}, pid ${run.pid}</dd></dl>
<p><a href="${path}/logs">Logs</a> · <a href="/api/runs/${segment(run.runId)}">JSON</a></p>
<section aria-labelledby="dag"><h2 id="dag">Jobs</h2>${drawing}
<table class="jobs"><thead><tr><th scope="col">Job</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Duration</th><th scope="col">Error, skip reason or origin</th></tr></thead>
<tbody>${jobRows}</tbody></table></section>
<section aria-labelledby="timeline"><h2 id="timeline">Timeline</h2>
<p class="legend">Queued: from the run's start to the first attempt. Waiting: for a resource's permit or rate-limit slot
(thin over an attempt: a call inside it). Retry delay: from an attempt's end to the next one's start.</p>
${Svg.ganttLegend()}
${
      attempts.length === 0
        ? html`<p>No attempts yet.</p>`
        : jobs.length > Svg.maxGanttJobs
        ? html`<p>${jobs.length} jobs: the timeline shows the first ${Svg.maxGanttJobs} to start; the JSON (<a href="/api/runs/${
          segment(run.runId)
        }">/api/runs/${run.runId}</a>) has every attempt.</p>${Svg.gantt(run, firstStarted(attempts, Svg.maxGanttJobs), attempts, now, drawn.waits)}`
        : Svg.gantt(run, jobs.map((j) => j.jobId), attempts, now, drawn.waits)
    }</section>
<section aria-labelledby="outputs"><h2 id="outputs">Outputs</h2>${
      outs.length === 0 ? html`<p>No outputs journaled.</p>` : html`<dl class="outputs">${outs}</dl>`
    }</section>
${actions(run, journal)}`,
    { live: run.status === "running" ? run.runId : undefined }
  )
}

/** `/runs/<runId>/logs`. */
export const logsPage = (
  runId: string,
  jobIds: ReadonlyArray<string>,
  filters: LogFilters,
  lines: ReadonlyArray<JournalQueries.LogRow>,
  after: number,
  next: number | undefined,
  live: boolean
): string => {
  const path = `/runs/${segment(runId)}/logs`
  const keep = { job: filters.jobId, q: filters.q, level: filters.level }
  const body = lines.map((line) =>
    html`<tr id="L${line.id}" class="l-${line.level}"><td class="num"><a href="#L${line.id}">${line.id}</a></td><td>${time(line.at)}</td>
<td>${line.jobId === undefined ? "-" : line.attempt === undefined ? line.jobId : `${line.jobId}#${line.attempt}`}</td>
<td>${line.level}</td><td class="msg">${line.message}</td></tr>`
  )
  return layout(
    `Logs ${runId}`,
    html`<h1>Logs of <a href="/runs/${segment(runId)}" class="mono">${runId}</a></h1>
<form class="filters" method="get" action="${path}" role="search" aria-label="search the logs">
<label>Job <select name="job"><option value="">all</option>${
      jobIds.map((job) => html`<option value="${job}"${job === filters.jobId ? raw(" selected") : ""}>${job}</option>`)
    }</select></label>
<label>Level <select name="level"><option value="">all</option>${
      ["debug", "info", "warn", "error"].map((l) => html`<option${l === filters.level ? raw(" selected") : ""}>${l}</option>`)
    }</select></label>
<label>Search <input type="search" name="q" value="${filters.q ?? ""}"></label>
<label>After line id <input type="number" name="after" min="0" value="${after}"></label>
<button type="submit">Search</button> <a href="${path}.txt${query({ job: filters.jobId })}" download>Raw download</a></form>
${
      lines.length === 0
        ? html`<p class="empty">No log lines${filters.q === undefined ? "" : " match"}.</p>`
        : html`<table class="logs"><thead><tr><th scope="col" title="the journal's id of the line: stable, linkable as #L&lt;id&gt;">Line id</th><th scope="col">Time (UTC)</th><th scope="col">Job</th><th scope="col">Level</th><th scope="col">Message</th></tr></thead>
<tbody id="log-lines">${body}</tbody></table>`
    }
<nav class="pager" aria-label="pages">${
      after > 0 ? html`<a href="${path}${query({ ...keep })}">First page</a> ` : ""
    }${next === undefined ? html`<span>End of the log.</span>` : html`<a rel="next" href="${path}${query({ ...keep, after: next })}">Next lines →</a>`}</nav>`,
    { live: live && next === undefined && filters.q === undefined ? `logs:${runId}` : undefined }
  )
}

/** The login form (when a token is required and the request has none). */
export const loginPage = (failed: boolean, then: string): string =>
  layout(
    "Sign in",
    html`<h1>Sign in</h1>${failed ? html`<p role="alert" class="error">That token is not the right one.</p>` : ""}
<form method="post" action="/login"><input type="hidden" name="then" value="${then}">
<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button></form>`
  )

export const notFoundPage = (what: string): string => layout("Not found", html`<h1>Not found</h1><p>${what}</p>`)
