/**
 * `npm run bench:ui` (also the last step of `npm run bench`): the dashboard at scale. Seeds a journal with 100,000
 * runs of 10 jobs (1,000,000 jobs, 1,200,000 attempts) and one run with a 500,000-line log, starts the real
 * `runner ui` on Node, and times each page as the HTTP response time on 127.0.0.1 (an upper bound of the server's
 * time: it includes the local round trip). Writes the figures into bench/README.md between the `ui-bench` markers and
 * bench/ui-results.json.
 *
 *   node bench/ui.ts [--runs N] [--log-lines N] [--samples N] [--no-write]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { startUi } from "../test/support/ui.ts"
import { insertRuns, manyRuns, migrate, runIdAt } from "../test/support/uiJournal.ts"

const argv = process.argv.slice(2)
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(name)
  return i >= 0 ? Number(argv[i + 1]) : fallback
}
const RUNS = option("--runs", 100_000)
const LOG_LINES = option("--log-lines", 500_000)
const SAMPLES = option("--samples", 30)
const write = !argv.includes("--no-write")
const root = path.resolve(import.meta.dirname, "..")

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-ui-bench-"))
const file = path.join(dir, "journal.db")
const newest = Date.parse("2026-12-01T00:00:00Z")

const seedStarted = Date.now()
await migrate(file)
const db = new DatabaseSync(file)
db.exec("PRAGMA synchronous = OFF")
// Two DAGs, interleaved in time, in batches of 10,000 runs per transaction.
for (let offset = 0; offset < RUNS; offset += 10_000) {
  const count = Math.min(10_000, RUNS - offset)
  insertRuns(db, manyRuns({ count, dag: offset % 20_000 === 0 ? "nightly" : "hourly", jobs: 10, newest: newest - (RUNS - offset - count) * 60_000, offset }))
}
const bigRun = runIdAt(newest + 60_000, 0xfffff)
const needle = LOG_LINES - 10
insertRuns(db, [{
  runId: bigRun,
  dag: "nightly",
  status: "succeeded",
  startedAt: newest + 60_000,
  endedAt: newest + 120_000,
  jobs: [{ jobId: "dump", status: "succeeded" }],
  logs: Array.from({ length: LOG_LINES }, (_, i) => ({
    jobId: "dump",
    message: i + 1 === needle ? "the needle: checksum mismatch in part 7" : `row ${i + 1} copied`
  }))
}])
const counts = db.prepare(
  "SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM jobs) AS jobs, (SELECT count(*) FROM attempts) AS attempts, (SELECT count(*) FROM logs) AS logs"
).get() as Record<string, number>
const deep = db.prepare("SELECT started_at, rowid FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1 OFFSET ?").get(Math.floor(RUNS / 2)) as {
  started_at: number
  rowid: number
}
db.close()
const seedMillis = Date.now() - seedStarted
process.stderr.write(`seeded ${JSON.stringify(counts)} in ${(seedMillis / 1000).toFixed(1)} s\n`)

const routes: ReadonlyArray<readonly [string, string, number]> = [
  ["/ (first page)", "/", 200],
  [`/ a page ${Math.floor(RUNS / 2).toLocaleString("en")} runs deep (keyset cursor)`, `/?after=${deep.started_at}.${deep.rowid}`, 200],
  ["/ ?status=failed", "/?status=failed", 200],
  ["/ ?dag=hourly&trigger=schedule", "/?dag=hourly&trigger=schedule", 200],
  ["/ ?key=k-5000", "/?key=k-5000", 200],
  ["/ ?from=2026-11-01&to=2026-11-15", "/?from=2026-11-01&to=2026-11-15", 200],
  ["/grid?dag=nightly (25 runs)", "/grid?dag=nightly", 200],
  ["/grid?dag=nightly&runs=100", "/grid?dag=nightly&runs=100", 200],
  ["/api/runs", "/api/runs", 200],
  [`/runs/<id>/logs (first page of ${LOG_LINES.toLocaleString("en")} lines)`, `/runs/${bigRun}/logs`, 500],
  ["/runs/<id>/logs?q=needle (search the whole log)", `/runs/${bigRun}/logs?q=needle`, 500]
]
const results: Array<{ route: string; p50: number; p95: number; max: number; target: number; met: boolean }> = []
// Started last, stopped in `finally`: nothing may throw between the two and leave it running.
const ui = await startUi(file)
try {
  for (const [name, route, target] of routes) {
    const times: Array<number> = []
    for (let i = 0; i < SAMPLES + 2; i++) {
      const t0 = performance.now()
      const response = await fetch(`${ui.url}${route}`)
      const body = await response.text()
      const t = performance.now() - t0
      if (response.status !== 200) throw new Error(`${route}: ${response.status} ${body.slice(0, 200)}`)
      if (route.includes("q=needle") && !body.includes("the needle")) throw new Error("the search did not find the needle")
      if (i >= 2) times.push(t) // two warm-up requests
    }
    times.sort((a, b) => a - b)
    const p = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!
    const result = { route: name, p50: p(0.5), p95: p(0.95), max: times[times.length - 1]!, target, met: p(0.95) <= target }
    results.push(result)
    process.stderr.write(`${name}: p50 ${result.p50.toFixed(1)} ms, p95 ${result.p95.toFixed(1)} ms\n`)
  }
} finally {
  await ui.stop()
  fs.rmSync(dir, { recursive: true, force: true })
}

const table = [
  "| page | p50 | p95 | max | target (p95) | |",
  "|---|---:|---:|---:|---:|---|",
  ...results.map((r) =>
    `| \`${r.route}\` | ${r.p50.toFixed(1)} ms | ${r.p95.toFixed(1)} ms | ${r.max.toFixed(1)} ms | ${r.target} ms | ${r.met ? "MET" : "MISSED"} |`
  )
].join("\n")
const section = `<!-- ui-bench:start -->
Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.versions.node},
load average ${os.loadavg()[0]!.toFixed(2)}: a journal of ${counts["runs"]!.toLocaleString("en")} runs,
${counts["jobs"]!.toLocaleString("en")} jobs, ${counts["attempts"]!.toLocaleString("en")} attempts and
${counts["logs"]!.toLocaleString("en")} log lines (seeded in ${(seedMillis / 1000).toFixed(0)} s), ${SAMPLES} requests per page after two
warm-ups, one at a time, timed as the HTTP response on 127.0.0.1 (the server's time plus a local round trip).

${table}
<!-- ui-bench:end -->`
if (write) {
  const readme = path.join(root, "bench/README.md")
  const text = fs.readFileSync(readme, "utf8")
  const start = text.indexOf("<!-- ui-bench:start -->")
  const end = text.indexOf("<!-- ui-bench:end -->")
  const next = start >= 0 && end > start
    ? text.slice(0, start) + section + text.slice(end + "<!-- ui-bench:end -->".length)
    : `${text.trimEnd()}\n\n## Dashboard at scale (\`bench/ui.ts\`)\n\n\`npm run bench:ui\` seeds a journal of 100,000 runs (10 jobs each) and a run with a 500,000-line log, starts \`runner ui\` and\ntimes its pages. Issue 16's targets: \`/\` and \`/grid\` p95 ≤ 200 ms, a log's first page ≤ 500 ms.\n\n${section}\n`
  fs.writeFileSync(readme, next)
  fs.writeFileSync(path.join(root, "bench/ui-results.json"), JSON.stringify({ counts, samples: SAMPLES, results }, null, 2) + "\n")
}
process.stdout.write(table + "\n")
if (results.some((r) => !r.met)) process.exitCode = 1
