/**
 * `runner ui` over HTTP (no browser), on Node, Bun and Deno: every route and its status codes, escaping of markup in
 * every place data is shown, keyset pagination, server-side log search, the JSON API, live events, the token and the
 * host rule, and read-only behaviour beside a writer. The fixture journal is test/support/ui.ts's.
 */
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as SqlClient from "effect/sql/SqlClient"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import * as Auth from "../src/internal/ui/Auth.ts"
import * as Pages from "../src/internal/ui/Pages.ts"
import { escape, html } from "../src/internal/ui/Html.ts"
import * as SqliteClient from "../src/internal/sql/SqliteClient.ts"
import { bins, root, runner, runnerAsync, type RuntimeName, waitUntil } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"
import { bigLogLines, type Dashboard, fixture, ids, needleLine, readEvents, startUi, xss } from "./support/ui.ts"
import { withDb } from "./support/uiJournal.ts"

const tempDir = tempDirs("runner-ui-")

const get = async (url: string, init: RequestInit = {}) => {
  const response = await fetch(url, { redirect: "manual", ...init })
  return { status: response.status, headers: response.headers, body: await response.text() }
}

/** A request with a Host header of our choosing (fetch does not let one set it). */
const withHost = (url: string, host: string) =>
  new Promise<number>((resolve, reject) => {
    const u = new URL(url)
    http.get({ host: u.hostname, port: u.port, path: "/", headers: { host } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    }).on("error", reject)
  })

/** No raw markup from the fixture in a page; `what` names the page in the failure. */
const assertEscaped = (body: string, what: string) => {
  for (const [name, payload] of Object.entries(xss)) {
    assert.notInclude(body, payload, `${what}: raw ${name} markup`)
  }
}

describe("html", () => {
  it("escapes every interpolation, and only Html passes as is", () => {
    const out = html`<p title="${`"><x>`}">${"<b>&'`"}${html`<i>${"<"}</i>`}${["<a>", 1]}</p>`.value
    assert.strictEqual(out, `<p title="&quot;&gt;&lt;x&gt;">&lt;b&gt;&amp;&#39;&#96;<i>&lt;</i>&lt;a&gt;1</p>`)
    assert.strictEqual(escape(`<>&"'`), "&lt;&gt;&amp;&quot;&#39;")
  })
})

describe("pages", () => {
  it("a run of 400 jobs: listed, not drawn; its timeline shows the first 300 jobs to start", () => {
    const jobs = Array.from({ length: 400 }, (_, i) => ({
      jobId: `j${i}`,
      status: "succeeded",
      attempts: 1,
      startedAt: 1000 + i,
      endedAt: 2000 + i,
      activeMillis: 1000,
      error: undefined,
      reason: undefined,
      cachedFrom: undefined
    }))
    const attempts = jobs.map((j) => ({ jobId: j.jobId, attempt: 1, status: "succeeded", startedAt: j.startedAt, endedAt: j.endedAt }))
    const run = {
      runId: "20261201-000000-abcd",
      dag: "big",
      key: undefined,
      status: "succeeded",
      trigger: "cli",
      startedAt: 1000,
      endedAt: 3000,
      activeMillis: 2000,
      host: "h",
      pid: 1,
      runnerVersion: "0.1.0",
      definitionHash: "x",
      executions: []
    }
    const page = Pages.runPage(run, jobs, attempts, new Map(), "/j.db", 5000)
    assert.notInclude(page, `<svg class="dag"`)
    assert.include(page, "400 jobs: too many to draw")
    assert.include(page, "400 jobs: the timeline shows the first 300 to start")
    assert.strictEqual([...page.matchAll(/<g data-gantt-job=/g)].length, 300)
    assert.include(page, ">j299<")
    assert.notInclude(page, `font-size="11">j300<`)
  })
})

describe("auth", () => {
  it("refuses another host than loopback without a token, compares tokens exactly", () => {
    assert.isUndefined(Auth.refusal("127.0.0.1", undefined))
    assert.isUndefined(Auth.refusal("localhost", undefined))
    assert.include(Auth.refusal("0.0.0.0", undefined) ?? "", "--token")
    assert.isUndefined(Auth.refusal("0.0.0.0", "t"))
    assert.isTrue(Auth.tokenMatches("s3cret", "s3cret"))
    assert.isFalse(Auth.tokenMatches("s3cre", "s3cret"))
    assert.isFalse(Auth.tokenMatches(undefined, "s3cret"))
    assert.isTrue(Auth.hostHeaderAllowed("127.0.0.1:8080"))
    assert.isTrue(Auth.hostHeaderAllowed("[::1]:8080"))
    assert.isFalse(Auth.hostHeaderAllowed("evil.example:8080"))
  })
})

describe("the read-only journal connection", () => {
  it("refuses every write (query_only), and reads", async () => {
    const file = path.join(tempDir(), "j.db")
    await fixture(file)
    const result = await Effect.runPromise(
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const runs = yield* sql<{ n: number }>`SELECT count(*) AS n FROM runs`
        const write = yield* Effect.result(sql`DELETE FROM runs`)
        return { n: runs[0]!.n, write }
      }).pipe(Effect.provide(SqliteClient.layer({ filename: file, durability: "normal", readOnly: true })))
    )
    assert.strictEqual(result.n, 124)
    assert.strictEqual(result.write._tag, "Failure")
    withDb(file, (db) => assert.strictEqual((db.prepare("SELECT count(*) AS n FROM runs").get() as { n: number }).n, 124))
  })
})

describe("the dashboard's statements at scale", () => {
  it("read the runs list and a job's log lines through indexes (migration 0010), from the cursor, without sorting", async () => {
    const file = path.join(tempDir(), "j.db")
    await fixture(file)
    const order = "ORDER BY started_at DESC, rowid DESC LIMIT 51"
    const cursor = "started_at <= 1 AND (started_at < 1 OR rowid < 1)"
    const plans = withDb(file, (db) =>
      [
        `SELECT id FROM runs ${order}`,
        `SELECT id FROM runs WHERE ${cursor} ${order}`,
        `SELECT id FROM runs WHERE status = 'failed' AND ${cursor} ${order}`,
        `SELECT id FROM runs WHERE dag = 'etl' AND ${cursor} ${order}`,
        `SELECT id FROM runs WHERE run_key = 'k' ${order}`,
        `SELECT id FROM logs WHERE run_id = 'r' AND id > 0 AND job_id = 'j' ORDER BY id LIMIT 501`
      ].map((statement) => ({
        statement,
        plan: (db.prepare(`EXPLAIN QUERY PLAN ${statement}`).all() as Array<{ detail: string }>).map((r) => r.detail).join("; ")
      })))
    for (const { plan, statement } of plans) {
      assert.match(plan, /USING (COVERING )?INDEX (runs_by_start|runs_by_status|runs_by_dag|runs_by_run_key|logs_by_job)/, statement)
      assert.notInclude(plan, "TEMP B-TREE", statement)
    }
    for (const { plan } of plans.slice(1, 4)) assert.match(plan, /^SEARCH/, "seeks to the cursor")
  })
})

const runtimes: ReadonlyArray<RuntimeName> = ["node", "bun", "deno"]

describe.each(runtimes)("runner ui on %s", (runtime) => {
  let ui: Dashboard
  let file: string
  beforeAll(async () => {
    file = path.join(tempDir(), "journal.db")
    await fixture(file)
    ui = await startUi(file, { runtime })
  }, 60_000)
  afterAll(async () => {
    await ui?.stop()
  })

  it("/ lists runs newest first, filters them, pages by keyset, escapes everything", async () => {
    const home = await get(`${ui.url}/`)
    assert.strictEqual(home.status, 200)
    assert.match(home.headers.get("content-type") ?? "", /^text\/html/)
    assert.include(home.headers.get("content-security-policy") ?? "", "script-src 'self'")
    const order = [ids.running, ids.xss, ids.bigLog].map((id) => home.body.indexOf(id))
    assert.isTrue(order.every((i) => i > 0) && order[0]! < order[1]! && order[1]! < order[2]!, "newest first")
    assertEscaped(home.body, "/")
    assert.include(home.body, escape(xss.key))
    assert.include(home.body, escape(xss.jobId))

    const failed = await get(`${ui.url}/?status=failed`)
    assert.include(failed.body, ids.xss)
    assert.notInclude(failed.body, ids.running)

    const seen = new Set<string>()
    let next: string | undefined = `${ui.url}/?dag=nightly`
    let pages = 0
    while (next !== undefined) {
      const p = await get(next)
      pages++
      const runIds = [...p.body.matchAll(/href="\/runs\/([0-9a-f-]+)"/g)].map((m) => m[1]!)
      for (const id of runIds) {
        assert.isFalse(seen.has(id), `run ${id} on two pages`)
        seen.add(id)
      }
      const link = /rel="next" href="([^"]+)"/.exec(p.body)?.[1]
      next = link === undefined ? undefined : `${ui.url}${link.replace(/&amp;/g, "&")}`
    }
    assert.strictEqual(pages, 3)
    assert.strictEqual(seen.size, 120)

    const range = await get(`${ui.url}/?from=2026-12-01&to=2026-12-01`)
    assert.include(range.body, ids.xss)
    assert.include((await get(`${ui.url}/?to=2026-11-30`)).body, "No runs match")
    assert.include((await get(`${ui.url}/?from=2026-12-02`)).body, "No runs match")
  })

  it("/grid shows runs × jobs with attempts in tooltips, 25 runs by default and at most 100", async () => {
    const grid = await get(`${ui.url}/grid?dag=nightly`)
    assert.strictEqual(grid.status, 200)
    assert.strictEqual([...grid.body.matchAll(/<tr data-run=/g)].length, 25)
    assert.include(grid.body, `title="job-00: succeeded, 2 attempt(s), 200ms"`)
    const more = await get(`${ui.url}/grid?dag=nightly&runs=500`)
    assert.strictEqual([...more.body.matchAll(/<tr data-run=/g)].length, 100)
    const xssGrid = await get(`${ui.url}/grid?dag=${encodeURIComponent(xss.dag)}`)
    assertEscaped(xssGrid.body, "/grid")
    assert.include(xssGrid.body, escape(xss.jobId))
    assert.strictEqual((await get(`${ui.url}/grid`)).status, 200)
  })

  it("/runs/<id> shows the header, the jobs drawn by status, the timeline, outputs with secrets masked, actions", async () => {
    const run = await get(`${ui.url}/runs/${ids.xss}`)
    assert.strictEqual(run.status, 200)
    assertEscaped(run.body, "/runs/<id>")
    assert.include(run.body, "<svg class=\"dag\"")
    assert.include(run.body, "<svg class=\"gantt\"")
    assert.include(run.body, escape(xss.error))
    assert.include(run.body, escape(xss.reason))
    assert.include(run.body, `&quot;token&quot;: &quot;***&quot;`)
    assert.include(run.body, "ops@build-1 pid 4242")
    assert.include(run.body, `runner tasks/etl.ts --resume ${ids.xss}`)
    assert.notInclude(run.body, "<b>c0ffee")
    // A finished run's page loads no script: nothing polls.
    assert.notInclude(run.body, "app.js")
    const live = await get(`${ui.url}/runs/${ids.running}`)
    assert.include(live.body, "/assets/app.js")
    assert.strictEqual((await get(`${ui.url}/runs/20990101-000000-ffff`)).status, 404)
    // Above 200 jobs, a list instead of a drawing.
    const wide = await get(`${ui.url}/runs/${ids.bigDag}`)
    assert.notInclude(wide.body, `<svg class="dag"`)
    assert.include(wide.body, "250 jobs: too many to draw")
    assert.strictEqual([...wide.body.matchAll(/<tr id="job-/g)].length, 250)
  })

  it("/runs/<id>/logs pages by line, searches the whole log on the server, escapes lines, downloads raw", async () => {
    const first = await get(`${ui.url}/runs/${ids.bigLog}/logs`)
    assert.strictEqual(first.status, 200)
    assert.include(first.body, "line 1 of the big log")
    assert.notInclude(first.body, "needle-far-away")
    const nextLink = /rel="next" href="([^"]+)"/.exec(first.body)?.[1]?.replace(/&amp;/g, "&")
    assert.isDefined(nextLink)
    const second = await get(`${ui.url}${nextLink}`)
    assert.include(second.body, "line 501 of the big log")
    const found = await get(`${ui.url}/runs/${ids.bigLog}/logs?q=NEEDLE-far`)
    assert.include(found.body, "needle-far-away in line 2900")
    assert.strictEqual([...found.body.matchAll(/<tr id="L/g)].length, 1)
    const raw = await get(`${ui.url}/runs/${ids.bigLog}/logs.txt`)
    assert.strictEqual(raw.status, 200)
    assert.match(raw.headers.get("content-disposition") ?? "", /attachment/)
    assert.strictEqual(raw.body.trimEnd().split("\n").length, bigLogLines)
    assert.include(raw.body.split("\n")[needleLine - 1]!, "needle-far-away")

    const xssLogs = await get(`${ui.url}/runs/${ids.xss}/logs`)
    assertEscaped(xssLogs.body, "logs")
    assert.include(xssLogs.body, escape(xss.log))
    const errors = await get(`${ui.url}/runs/${ids.xss}/logs?level=error`)
    assert.include(errors.body, "failed hard")
    assert.notInclude(errors.body, escape(xss.log))
    const byJob = await get(`${ui.url}/runs/${ids.xss}/logs?job=extract`)
    assert.include(byJob.body, escape(xss.log))
    assert.notInclude(byJob.body, "failed hard")
  })

  it("/api/runs and /api/runs/<id> answer JSON as documented", async () => {
    const list = await get(`${ui.url}/api/runs?dag=nightly&limit=10`)
    assert.strictEqual(list.status, 200)
    const doc = JSON.parse(list.body)
    assert.strictEqual(doc.runs.length, 10)
    assert.isString(doc.next)
    const page2 = JSON.parse((await get(`${ui.url}/api/runs?dag=nightly&limit=10&after=${doc.next}`)).body)
    assert.isTrue(page2.runs[0].startedAt < doc.runs[9].startedAt)
    const one = JSON.parse((await get(`${ui.url}/api/runs/${ids.xss}`)).body)
    assert.strictEqual(one.run.status, "failed")
    assert.strictEqual(one.run.key, xss.key)
    assert.deepStrictEqual(one.jobs.map((j: { jobId: string }) => j.jobId), ["extract", xss.jobId, "load"])
    assert.deepStrictEqual(one.jobs[0].output, { token: "***", html: xss.output })
    assert.strictEqual(one.attempts.length, 4)
    const grid = JSON.parse((await get(`${ui.url}/api/grid?dag=nightly`)).body)
    assert.strictEqual(grid.runs.length, 25)
    const refresh = JSON.parse((await get(`${ui.url}/api/grid?dag=etl&only=${ids.running},${ids.xss}`)).body)
    assert.deepStrictEqual(refresh.runs.map((r: { runId: string }) => r.runId), [ids.running])
    assert.deepStrictEqual(Object.keys(refresh.cells), [ids.running])
    assert.strictEqual((await get(`${ui.url}/api/runs/nope`)).status, 404)
    assert.strictEqual((await get(`${ui.url}/api/grid`)).status, 400)
  })

  it("answers 404 for unknown paths, 405 for writes, 421 for another Host, and serves its assets", async () => {
    assert.strictEqual((await get(`${ui.url}/nope`)).status, 404)
    assert.strictEqual((await get(`${ui.url}/runs/${ids.xss}`, { method: "POST" })).status, 405)
    assert.strictEqual((await get(`${ui.url}/runs/${ids.xss}`, { method: "DELETE" })).status, 405)
    assert.strictEqual(await withHost(ui.url, "evil.example"), 421)
    assert.strictEqual(await withHost(ui.url, "localhost"), 200)
    const css = await get(`${ui.url}/assets/app.css`)
    assert.match(css.headers.get("content-type") ?? "", /text\/css/)
    const js = await get(`${ui.url}/assets/app.js`)
    assert.include(js.body, "EventSource")
  })

  it("streams a running run's changes as server-sent events within a second, resuming from Last-Event-ID", async () => {
    const events = `${ui.url}/runs/${ids.running}/events`
    const writer = new DatabaseSync(file)
    try {
      writer.exec("PRAGMA busy_timeout = 5000")
      const lastId = (writer.prepare("SELECT max(id) AS id FROM logs").get() as { id: number }).id
      let wroteAt = 0
      setTimeout(() => {
        writer.prepare(`INSERT INTO logs (run_id, job_id, attempt, at, level, message) VALUES (?, 'transform', 1, ?, 'info', ?)`)
          .run(ids.running, Date.now(), "live line <b>1</b>")
        wroteAt = Date.now()
      }, 300)
      const got = await readEvents(events, {}, (es) => es.some((e) => e.event === "log"))
      const arrivedAt = Date.now()
      const log = got.find((e) => e.event === "log")
      assert.isDefined(log, JSON.stringify(got))
      assert.include(log!.data, "live line <b>1</b>")
      assert.isAbove(wroteAt, 0)
      assert.isBelow(arrivedAt - wroteAt, 1000, "within a second of the journal write")
      assert.strictEqual(got[0]!.event, "state")

      // Resuming from the line before: that line again, then the end once the run finishes.
      setTimeout(() => {
        writer.prepare(`UPDATE runs SET status = 'succeeded', ended_at = ? WHERE id = ?`).run(Date.now(), ids.running)
      }, 200)
      const resumed = await readEvents(events, { "last-event-id": String(lastId) }, (es) => es.some((e) => e.event === "end"))
      assert.include(resumed.find((e) => e.event === "log")?.data ?? "", "live line")
      assert.isDefined(resumed.find((e) => e.event === "end"))
    } finally {
      writer.close()
    }
  })
})

describe.each(runtimes)("runner ui --token on %s", (runtime) => {
  let ui: Dashboard
  beforeAll(async () => {
    const file = path.join(tempDir(), "journal.db")
    await fixture(file)
    ui = await startUi(file, { runtime, env: { RUNNER_UI_TOKEN: "s3cret" } })
  }, 60_000)
  afterAll(async () => {
    await ui?.stop()
  })

  it("asks every request for the token: header, bearer, or the login form's cookie", async () => {
    const anonymous = await get(`${ui.url}/runs/${ids.xss}`)
    assert.strictEqual(anonymous.status, 401)
    assert.include(anonymous.body, `<form method="post" action="/login">`)
    assert.notInclude(anonymous.body, ids.xss + "</span>")
    assert.strictEqual((await get(`${ui.url}/api/runs`)).status, 401)
    assert.strictEqual((await get(`${ui.url}/api/runs`, { headers: { authorization: "Bearer wrong" } })).status, 401)
    assert.strictEqual((await get(`${ui.url}/api/runs`, { headers: { authorization: "Bearer s3cret" } })).status, 200)
    assert.strictEqual((await get(`${ui.url}/api/runs`, { headers: { "x-runner-token": "s3cret" } })).status, 200)
    const form = { "content-type": "application/x-www-form-urlencoded" }
    const wrong = await get(`${ui.url}/login`, { method: "POST", headers: form, body: "token=nope&then=/" })
    assert.strictEqual(wrong.status, 401)
    const login = await get(`${ui.url}/login`, { method: "POST", headers: form, body: `token=s3cret&then=${encodeURIComponent("//evil.example")}` })
    assert.strictEqual(login.status, 303)
    assert.strictEqual(login.headers.get("location"), "/")
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0]!
    assert.include(login.headers.get("set-cookie") ?? "", "HttpOnly")
    const withCookie = await get(`${ui.url}/runs/${ids.xss}`, { headers: { cookie } })
    assert.strictEqual(withCookie.status, 200)
    // With a token, the Host header is not restricted (it is meant to be reached by name).
    assert.strictEqual(await withHost(ui.url, "dashboard.example"), 401)
  })
})

describe("runner ui refuses", () => {
  it("another host without a token, an unreachable postgres:// journal, a missing journal, a taken port (exit 2, saying why)", async () => {
    const file = path.join(tempDir(), "journal.db")
    await fixture(file)
    const open = runner(["ui", "--journal", file, "--host", "0.0.0.0", "--port", "0"])
    assert.strictEqual(open.status, 2, open.stderr)
    assert.include(open.stderr, "--host")
    assert.include(open.stderr, "--token")
    // A postgres:// journal is served (test/PostgresCommands.test.ts); one that cannot be reached is named, no password.
    const pg = runner(["ui", "--journal", "postgres://u:pw-in-url@runner-no-such-host.invalid/runs"])
    assert.strictEqual(pg.status, 2)
    assert.include(pg.stderr, "postgres://u:***@runner-no-such-host.invalid/runs")
    assert.notInclude(pg.stderr, "pw-in-url")
    const missing = runner(["ui", "--journal", path.join(tempDir(), "nope.db")])
    assert.strictEqual(missing.status, 2)
    assert.include(missing.stderr, "nope.db")
    const first = await startUi(file)
    try {
      const port = new URL(first.url).port
      const taken = runner(["ui", "--journal", file, "--port", port])
      assert.strictEqual(taken.status, 2)
      assert.include(taken.stderr, `--port: cannot listen on 127.0.0.1:${port}`)
    } finally {
      await first.stop()
    }
  })
})

describe("runner <file> --ui", () => {
  it("serves the dashboard beside the live run, and stops with it", async () => {
    const dir = tempDir()
    const journal = path.join(dir, "journal.db")
    const release = path.join(dir, "release")
    const { done, process: child } = runnerAsync(
      ["test/fixtures/hold.ts", "--journal", journal, "--ui", "--ui-port", "0"],
      { HOLD_LOG: path.join(dir, "hold.log"), RELEASE: release }
    )
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += chunk))
    try {
      await waitUntil(() => /runner ui: http:\/\/\S+/.test(stderr) && fs.existsSync(path.join(dir, "hold.log")), 30_000)
      const url = /runner ui: (http:\/\/\S+)/.exec(stderr)![1]!
      const runs = JSON.parse((await get(`${url}/api/runs`)).body)
      assert.strictEqual(runs.runs.length, 1)
      assert.strictEqual(runs.runs[0].dag, "hold")
      assert.strictEqual(runs.runs[0].status, "running")
      const page = await get(`${url}/runs/${runs.runs[0].runId}`)
      assert.include(page.body, "/assets/app.js")
      const events = await readEvents(`${url}/runs/${runs.runs[0].runId}/events`, {}, (es) => es.length > 0)
      assert.include(events[0]!.data, `"status":"running"`)
    } finally {
      fs.writeFileSync(release, "")
    }
    const result = await done
    assert.strictEqual(result.status, 0, result.stderr)
  })
})

describe.each(runtimes)("runner ui on a run of test/fixtures/ui-shape.ts, on %s", (runtime) => {
  let ui: Dashboard
  let runId: string
  let journal: string
  beforeAll(async () => {
    journal = path.join(tempDir(), "journal.db")
    const result = runner(["test/fixtures/ui-shape.ts", "--journal", journal], { runtime })
    assert.strictEqual(result.status, 0, result.stderr)
    runId = /run (\S+) succeeded/.exec(result.stdout + result.stderr)![1]!
    ui = await startUi(journal, { runtime })
  }, 60_000)
  afterAll(async () => {
    await ui?.stop()
  })

  it("draws an edge per need between the jobs' layers; the Gantt shows the waits for resources, the retry delay, a legend", async () => {
    const page = await get(`${ui.url}/runs/${runId}`)
    assert.strictEqual(page.status, 200)
    const dag = /<svg class="dag"[\s\S]*?<\/svg>/.exec(page.body)![0]
    const edges = [...dag.matchAll(/<path class="edge"[^>]*data-from="([^"]+)" data-to="([^"]+)"/g)].map((m) => `${m[1]}->${m[2]}`)
    assert.sameMembers(edges, ["extract->a", "extract->b", "extract->flaky", "a->load", "b->load", "flaky->load"])
    // Layers left to right: extract, then a, b and flaky in one column, then load.
    const xOf = (job: string) => Number(new RegExp(`data-job="${job}">\\s*<rect x="(\\d+)"`).exec(dag)![1])
    assert.isTrue(xOf("extract") < xOf("a") && xOf("a") === xOf("b") && xOf("b") === xOf("flaky") && xOf("flaky") < xOf("load"))

    const gantt = /<svg class="gantt"[\s\S]*?<\/svg>/.exec(page.body)![0]
    const rowOf = (job: string) => new RegExp(`<g data-gantt-job="${job}">[\\s\\S]*?</g>`).exec(gantt)![0]
    const permitWaits = ["a", "b"].filter((job) => rowOf(job).includes(`data-segment="wait" data-resource="db"`))
    assert.strictEqual(permitWaits.length, 1, "one of a and b waited for db's single permit")
    assert.match(rowOf(permitWaits[0]!), /before attempt 1: waited \d+ ms for a permit of db/)
    assert.match(rowOf("load"), /data-segment="wait" data-resource="api"><title>load attempt 1: waited \d+ ms for a rate-limit slot of api/)
    assert.include(rowOf("flaky"), `data-segment="retry"`)
    assert.notInclude(rowOf("extract"), `data-segment="wait"`)
    assert.include(page.body, `<svg class="gantt-legend"`)
    for (const kind of ["queued", "wait", "retry", "succeeded", "failed"]) assert.include(page.body, `data-legend="${kind}"`)

    const doc = JSON.parse((await get(`${ui.url}/api/runs/${runId}`)).body)
    assert.deepStrictEqual(doc.jobs.find((j: { jobId: string }) => j.jobId === "load").needs, ["a", "b", "flaky"])
    assert.deepStrictEqual(
      doc.waits.map((w: { resource: string; kind: string; call: boolean }) => [w.resource, w.kind, w.call]),
      [["db", "permit", false], ["api", "rate", true]]
    )
  })

  it("a run journaled before needs were (NULL) is drawn as before: in rows, without edges", async () => {
    const db = new DatabaseSync(journal)
    try {
      db.prepare("UPDATE jobs SET needs = NULL WHERE run_id = ?").run(runId)
    } finally {
      db.close()
    }
    const page = await get(`${ui.url}/runs/${runId}`)
    assert.include(page.body, `<svg class="dag"`)
    assert.notInclude(page.body, `class="edge"`)
    assert.strictEqual([...page.body.matchAll(/data-status-fill=/g)].length, 5)
    assert.isNull(JSON.parse((await get(`${ui.url}/api/runs/${runId}`)).body).jobs[0].needs)
  })
})

describe("runner schedule --ui", () => {
  it("serves the dashboard beside the scheduler: its runs appear as they fire", async () => {
    const dir = tempDir()
    const journal = path.join(dir, "journal.db")
    const { done, process: child } = runnerAsync(
      ["schedule", "test/fixtures/every-second.ts", "--journal", journal, "--ui", "--ui-port", "0"],
      { TICKS: path.join(dir, "ticks") }
    )
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += chunk))
    try {
      await waitUntil(() => /runner ui: http:\/\/\S+/.test(stderr), 30_000)
      const url = /runner ui: (http:\/\/\S+)/.exec(stderr)![1]!
      let runs: Array<{ dag: string; trigger: string }> = []
      const deadline = Date.now() + 10_000
      while (runs.length === 0 && Date.now() < deadline) {
        runs = JSON.parse((await get(`${url}/api/runs`)).body).runs
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      assert.isAbove(runs.length, 0)
      assert.strictEqual(runs[0]!.dag, "every-second")
      assert.strictEqual(runs[0]!.trigger, "schedule")
    } finally {
      child.kill("SIGTERM")
    }
    await done
  })
})

describe("runner ui at scale (small)", () => {
  it("bench/ui.ts on 5,000 runs and a 20,000-line log: every page within its target, the search finds the needle", () => {
    const result = spawnSync(bins.node, ["bench/ui.ts", "--runs", "5000", "--log-lines", "20000", "--samples", "5", "--no-write"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000
    })
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    assert.strictEqual([...result.stdout.matchAll(/\| MET \|/g)].length, 11, result.stdout)
  })
})

describe("runner ui beside a writer", () => {
  it("reads while 1,000 log lines a second are written: no 'database is locked' anywhere", async () => {
    const file = path.join(tempDir(), "journal.db")
    await fixture(file)
    const ui = await startUi(file)
    const writer = new DatabaseSync(file)
    writer.exec("PRAGMA busy_timeout = 5000")
    const insert = writer.prepare(
      `INSERT INTO logs (run_id, job_id, attempt, at, level, message) VALUES (?, 'transform', 1, ?, 'info', ?)`
    )
    let written = 0
    const writerErrors: Array<unknown> = []
    // 100 lines every 100 ms, each batch a transaction as the runner's journal writer does.
    const timer = setInterval(() => {
      try {
        writer.exec("BEGIN IMMEDIATE")
        for (let i = 0; i < 100; i++) insert.run(ids.running, Date.now(), `load line ${written++}`)
        writer.exec("COMMIT")
      } catch (error) {
        writerErrors.push(error)
      }
    }, 100)
    const statuses: Array<number> = []
    const bodies: Array<string> = []
    try {
      const until = Date.now() + 2500
      while (Date.now() < until) {
        for (const route of ["/", `/runs/${ids.running}`, `/runs/${ids.running}/logs?q=load`, "/grid?dag=etl", "/api/runs"]) {
          const r = await get(`${ui.url}${route}`)
          statuses.push(r.status)
          bodies.push(r.body)
        }
      }
    } finally {
      clearInterval(timer)
      writer.close()
      await ui.stop()
    }
    assert.deepStrictEqual(writerErrors, [])
    assert.isAbove(written, 1500)
    assert.isTrue(statuses.every((s) => s === 200), statuses.join(","))
    assert.isFalse(bodies.some((b) => /database is locked/i.test(b)))
    assert.notMatch(ui.stderr(), /locked/i)
    assert.isTrue(fs.existsSync(file))
  })
})
