/** Starting `runner ui` (the real CLI, on a runtime) for the dashboard's tests, and the fixture journal they share. */
import { DatabaseSync } from "node:sqlite"
import { assert } from "vitest"
import { runnerAsync, type RuntimeName, waitUntil } from "./spawn.ts"
import { execution, insertRuns, manyRuns, migrate, type SeedRun } from "./uiJournal.ts"

export interface Dashboard {
  readonly url: string
  readonly stderr: () => string
  readonly stop: () => Promise<void>
}

/** Starts `runner ui --port 0` on the journal and waits for its URL. */
export const startUi = async (
  journal: string,
  options: { readonly runtime?: RuntimeName; readonly args?: ReadonlyArray<string>; readonly env?: Record<string, string> } = {}
): Promise<Dashboard> => {
  const { done, process: child } = runnerAsync(
    ["ui", "--journal", journal, "--port", "0", ...(options.args ?? [])],
    options.env ?? {},
    options.runtime ?? "node"
  )
  let stdout = ""
  let stderr = ""
  let exited = false
  child.stdout.on("data", (chunk) => (stdout += chunk))
  child.stderr.on("data", (chunk) => (stderr += chunk))
  child.on("exit", () => (exited = true))
  try {
    await waitUntil(() => /http:\/\/\S+/.test(stdout) || exited, 30_000)
  } catch (error) {
    child.kill("SIGKILL")
    throw error
  }
  const url = /(http:\/\/\S+)/.exec(stdout)?.[1]
  if (url === undefined) throw new Error(`runner ui did not start:\n${stdout}\n${stderr}`)
  return {
    url,
    stderr: () => stderr,
    stop: async () => {
      child.kill("SIGTERM")
      await done
    }
  }
}

/** Reads server-sent events until `until` says stop (or the timeout). */
export const readEvents = async (
  url: string,
  headers: Record<string, string>,
  until: (events: ReadonlyArray<{ event: string; id: string; data: string }>) => boolean,
  timeoutMillis = 5000
) => {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMillis)
  const events: Array<{ event: string; id: string; data: string }> = []
  try {
    const response = await fetch(url, { headers, signal: controller.signal })
    assert.strictEqual(response.headers.get("content-type"), "text/event-stream")
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let buffer = ""
    while (!until(events)) {
      const { done, value } = await reader.read()
      if (done) break
      buffer += decoder.decode(value, { stream: true })
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const field = (name: string) => block.split("\n").find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? ""
        if (field("event") !== "") events.push({ event: field("event"), id: field("id"), data: field("data") })
      }
    }
    await reader.cancel().catch(() => undefined)
  } catch (error) {
    if (!controller.signal.aborted) throw error
  } finally {
    clearTimeout(timer)
  }
  return events
}

/** Markup put in every place a page shows data: none of it may reach a page unescaped. */
export const xss = {
  dag: "<u>dag</u>",
  jobId: "<img src=x onerror=alert(1)>",
  key: `"><script>alert('key')</script>`,
  log: `<script>alert("log")</script>`,
  error: "<svg onload=alert(2)>",
  reason: "<i>why</i>",
  output: "<b>out</b>"
} as const

/** Ids of the fixture's notable runs. */
export const ids = {
  xss: "20261201-100000-aaaa01",
  running: "20261201-110000-aaaa02",
  bigLog: "20261201-090000-aaaa03",
  bigDag: "20261201-083000-aaaa04"
} as const

/** Lines of the big log, and where the needle is. */
export const bigLogLines = 3000
export const needleLine = 2900

/**
 * The fixture: a failed run with markup everywhere, a running run, a run with a 3,000-line log (a needle near its end)
 * a run of 250 jobs and 120 finished runs of `nightly` (three pages of the runs list).
 */
export const fixture = async (file: string): Promise<void> => {
  await migrate(file)
  const base = Date.parse("2026-12-01T10:00:00Z")
  const runs: Array<SeedRun> = [
    {
      runId: ids.xss,
      dag: xss.dag,
      key: xss.key,
      status: "failed",
      startedAt: base,
      endedAt: base + 4000,
      jobs: [
        { jobId: "extract", status: "succeeded", attempts: 3, output: JSON.stringify({ token: "***", html: xss.output }) },
        { jobId: xss.jobId, status: "failed", error: `${xss.error}\n    at job (tasks/etl.ts:3:1)` },
        { jobId: "load", status: "skipped", reason: xss.reason }
      ],
      logs: [{ jobId: "extract", message: xss.log }, { jobId: xss.jobId, level: "error", message: "failed hard" }],
      executions: [execution(base, { gitCommit: "<b>c0ffee</b>" })]
    },
    {
      runId: ids.running,
      dag: "etl",
      status: "running",
      startedAt: base + 3_600_000,
      jobs: [{ jobId: "extract", status: "succeeded" }, { jobId: "transform", status: "running" }, { jobId: "load", status: "pending" }],
      logs: [{ jobId: "extract", message: "extracted 10 rows" }]
    },
    {
      runId: ids.bigLog,
      dag: "etl",
      status: "succeeded",
      startedAt: base - 3_600_000,
      endedAt: base - 3_500_000,
      jobs: [{ jobId: "extract", status: "succeeded" }],
      logs: Array.from({ length: bigLogLines }, (_, i) => ({
        jobId: "extract",
        message: i + 1 === needleLine ? "needle-far-away in line 2900" : `line ${i + 1} of the big log`
      }))
    },
    {
      runId: ids.bigDag,
      dag: "wide",
      status: "succeeded",
      startedAt: base - 5_400_000,
      endedAt: base - 5_300_000,
      jobs: Array.from({ length: 250 }, (_, i) => ({ jobId: `part-${i}`, status: "succeeded" }))
    },
    ...manyRuns({ count: 120, dag: "nightly", jobs: 4, newest: base - 7_200_000 })
  ]
  const db = new DatabaseSync(file)
  try {
    insertRuns(db, runs)
  } finally {
    db.close()
  }
}
