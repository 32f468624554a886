/**
 * Prometheus metrics of runs: the exposition text (escaping, families, state sets), the textfile observer, the
 * Pushgateway grouping path and URL handling; then end to end with the real runner — files checked by `promtool check
 * metrics` and parsed, pushes to a real Pushgateway started here on 127.0.0.1, `runner schedule` with two DAGs sharing
 * one file, and runs on Bun and Deno. promtool and prometheus-pushgateway are Debian packages (.ci/run installs them):
 * without them (and without CI set) the tests that need them are skipped, with one line saying so.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/testing/TestClock"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as Http from "../src/internal/http.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Metrics from "../src/internal/Metrics.ts"
import type * as Observer from "../src/internal/Observer.ts"
import { type Result, runnerAsync, type RuntimeName, waitUntil } from "./support/spawn.ts"
import { requireTool } from "./support/tools.ts"

const promtool = requireTool("promtool", "apt-get install prometheus")
const pushgateway = requireTool("prometheus-pushgateway", "apt-get install prometheus-pushgateway")

const fixture = (name: string) => `test/fixtures/${name}.ts`
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "runner-metrics-"))

// ---------------------------------------------------------------------------------------------------------------
// Reading the exposition format back

interface Series {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const unescape = (value: string) => value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))

/** The series of an exposition text (comments skipped); label values unescaped. */
const parse = (text: string): ReadonlyArray<Series> =>
  text.split("\n").filter((line) => line !== "" && !line.startsWith("#")).map((line) => {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, name, value] of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[name!] = unescape(value!)
    }
    return { name: match[1]!, labels, value: Number(match[3]) }
  })

/** The values of the series of `name` whose labels include `labels`. */
const values = (series: ReadonlyArray<Series>, name: string, labels: Record<string, string> = {}) =>
  series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).map((s) => s.value)

/** The one value of a series; fails unless exactly one matches. */
const value = (series: ReadonlyArray<Series>, name: string, labels: Record<string, string> = {}) => {
  const found = values(series, name, labels)
  assert.lengthOf(found, 1, `one ${name} ${JSON.stringify(labels)}`)
  return found[0]!
}

/** `promtool check metrics` on a text: fails the test with promtool's complaints. promtool must be installed. */
const promtoolCheck = (text: string, what: string) => {
  const result = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" })
  if (result.error !== undefined) {
    throw new Error(`promtool not found (${result.error.message}): apt-get install prometheus (.ci/run does)`)
  }
  assert.strictEqual(result.status, 0, `promtool check metrics (${what}):\n${result.stdout}${result.stderr}\n${text}`)
}

// ---------------------------------------------------------------------------------------------------------------
// Unit

const summary = (overrides: Partial<Observer.Summary> = {}): Observer.Summary => ({
  runId: "r1",
  dag: "etl",
  key: undefined,
  trigger: "cli",
  status: "succeeded",
  resumed: false,
  startedAt: 1_700_000_000_000,
  finishedAt: 1_700_000_002_500,
  durationMillis: 2_500,
  jobs: [
    { jobId: "extract", status: "succeeded", critical: true, attempts: 3, durationMillis: 1_250, detail: undefined },
    { jobId: "load", status: "skipped", critical: true, attempts: 0, durationMillis: 0, detail: "needs extract" }
  ],
  failed: [],
  ...overrides
})

/** Label values that need every escape. */
const escapingText = () =>
  Metrics.render(Metrics.samples(
    summary({
      dag: "a\\b \"c\"\nd",
      jobs: [{ jobId: "x\"\\\ny", status: "failed", critical: true, attempts: 1, durationMillis: 5, detail: "boom" }]
    }),
    undefined
  ))

/** Two DAGs in one text. */
const twoDagsText = () =>
  Metrics.render([
    ...Metrics.samples(summary(), 1_700_000_002_500),
    ...Metrics.samples(summary({ dag: "other", status: "failed" }), undefined)
  ])

describe("exposition text", () => {
  it("escapes backslash, double quote and newline in label values", () => {
    const text = escapingText()
    assert.include(text, `effect_runner_run_duration_seconds{dag="a\\\\b \\"c\\"\\nd"} 2.5\n`)
    assert.include(text, `job_id="x\\"\\\\\\ny"`)
    const series = parse(text)
    assert.strictEqual(value(series, "effect_runner_job_attempts", { dag: "a\\b \"c\"\nd", job_id: "x\"\\\ny" }), 1)
  })

  it("writes each family once with HELP and TYPE gauge, state sets for statuses, units in seconds", () => {
    const text = twoDagsText()
    for (const family of Object.keys(Metrics.families)) {
      assert.strictEqual(text.split(`# TYPE ${family} gauge\n`).length, 2, `${family}: one TYPE line`)
      assert.strictEqual(text.split(`# HELP ${family} `).length, 2, `${family}: one HELP line`)
    }
    const series = parse(text)
    assert.deepStrictEqual(values(series, "effect_runner_run_status", { dag: "etl" }), [1, 0, 0])
    assert.strictEqual(value(series, "effect_runner_run_status", { dag: "other", status: "failed" }), 1)
    assert.strictEqual(value(series, "effect_runner_run_duration_seconds", { dag: "etl" }), 2.5)
    assert.strictEqual(value(series, "effect_runner_last_run_timestamp_seconds", { dag: "etl" }), 1_700_000_002.5)
    assert.strictEqual(value(series, "effect_runner_last_success_timestamp_seconds", { dag: "etl" }), 1_700_000_002.5)
    assert.deepStrictEqual(values(series, "effect_runner_last_success_timestamp_seconds", { dag: "other" }), [])
    assert.strictEqual(value(series, "effect_runner_job_duration_seconds", { dag: "etl", job_id: "extract" }), 1.25)
    assert.strictEqual(value(series, "effect_runner_job_attempts", { dag: "etl", job_id: "extract" }), 3)
    const load = series.filter((s) => s.name === "effect_runner_job_status" && s.labels["job_id"] === "load" && s.labels["dag"] === "etl")
    assert.deepStrictEqual(
      Object.fromEntries(load.map((s) => [s.labels["status"], s.value])),
      { succeeded: 0, cached: 0, restored: 0, failed: 0, skipped: 1, interrupted: 0 }
    )
    assert.notMatch(text, /[{,]job="/, "no `job` label: Prometheus owns it")
  })

  it.skipIf(promtool.skip)("passes promtool check metrics: escaped label values, two DAGs in one text", () => {
    promtoolCheck(escapingText(), "escaping")
    promtoolCheck(twoDagsText(), "two DAGs")
  })
})

describe("Pushgateway addressing", () => {
  it("groups by job=effect_runner and dag, URL-encoded, or base64url for a name with a slash", () => {
    assert.strictEqual(Metrics.groupingPath("nightly"), "/metrics/job/effect_runner/dag/nightly")
    assert.strictEqual(Metrics.groupingPath("a b%c"), "/metrics/job/effect_runner/dag/a%20b%25c")
    const slashed = Metrics.groupingPath("team/etl")
    assert.match(slashed, /^\/metrics\/job\/effect_runner\/dag@base64\/[A-Za-z0-9_-]+$/)
    assert.strictEqual(Buffer.from(slashed.split("/").at(-1)!, "base64url").toString("utf8"), "team/etl")
  })

  it.effect("credentials in the URL become basic auth and never appear in the base URL", () =>
    Effect.gen(function*() {
      const gateway = yield* Metrics.parseGateway("https://ci:s%40cret@push.example:9091/prefix/")
      assert.strictEqual(gateway.base, "https://push.example:9091/prefix")
      assert.strictEqual(Redacted.value(gateway.target.authorization!), `Basic ${Buffer.from("ci:s@cret").toString("base64")}`)
      assert.strictEqual(Redacted.value(gateway.target.url).href, "https://push.example:9091/prefix")
      const plain = yield* Metrics.parseGateway("http://127.0.0.1:9091")
      assert.strictEqual(plain.base, "http://127.0.0.1:9091")
      assert.isUndefined(plain.target.authorization)
      for (const bad of ["ftp://host", "not a url", "http://host:9091/?x=1"]) {
        const exit = yield* Effect.exit(Metrics.parseGateway(bad))
        assert.isTrue(Exit.isFailure(exit), bad)
      }
    }))
})

describe("push through the HTTP stack (a client layer of the test's own)", () => {
  it.effect("PUTs the exposition text with basic auth to the group's path; a 503 is retried after 250 ms", () =>
    Effect.gen(function*() {
      const requests: Array<HttpClientRequest.HttpClientRequest> = []
      const client = HttpClient.make((request) => {
        requests.push(request)
        const status = requests.length === 1 ? 503 : 200
        return Effect.succeed(HttpClientResponse.fromWeb(request, new Response("", { status })))
      })
      const gateway = yield* Metrics.parseGateway("http://ci:s3cret@push.example:9091/prefix/")
      const fiber = yield* Effect.forkChild(
        Metrics.push(gateway, "team/etl", "m 1\n").pipe(Effect.provideService(HttpClient.HttpClient, client))
      )
      yield* TestClock.adjust("249 millis")
      assert.strictEqual(requests.length, 1)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(fiber)
      assert.strictEqual(requests.length, 2)
      const [request] = requests
      assert.strictEqual(request!.method, "PUT")
      assert.strictEqual(request!.url, `http://push.example:9091/prefix${Metrics.groupingPath("team/etl")}`)
      assert.deepInclude(request!.headers, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
        authorization: `Basic ${Buffer.from("ci:s3cret").toString("base64")}`
      })
    }))
})

describe("textfile observer", () => {
  const finish = (file: string, summaries: ReadonlyArray<Observer.Summary>) =>
    Effect.gen(function*() {
      const [observer] = yield* Metrics.observers({ file, pushgateway: undefined })
      yield* Effect.forEach(summaries, (s) => observer!.onFinish!(s), { concurrency: "unbounded", discard: true })
    }).pipe(Effect.provide([Journal.layerMemory, Http.layer]))

  it.effect("one file holds the latest run of every DAG the process ran; {dag} gives each its own file", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const shared = path.join(dir, "runner.prom")
      yield* finish(shared, [summary({ dag: "a" }), summary({ dag: "b" }), summary({ dag: "a", durationMillis: 7_000 })])
      const series = parse(fs.readFileSync(shared, "utf8"))
      assert.strictEqual(value(series, "effect_runner_run_duration_seconds", { dag: "a" }), 7, "the latest run of a")
      assert.strictEqual(value(series, "effect_runner_run_duration_seconds", { dag: "b" }), 2.5)
      yield* finish(path.join(dir, "runner-{dag}.prom"), [summary({ dag: "team/x" }), summary({ dag: "y" })])
      assert.deepStrictEqual(
        fs.readdirSync(dir).sort(),
        ["runner-team_x.prom", "runner-y.prom", "runner.prom"],
        "written by rename: no temporary file left"
      )
      assert.deepStrictEqual(
        [...new Set(parse(fs.readFileSync(path.join(dir, "runner-y.prom"), "utf8")).map((s) => s.labels["dag"]))],
        ["y"]
      )
    }))

  it.effect("a write that fails is a MetricsError naming the file (Run.ts logs it), and leaves no temporary file", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = path.join(dir, "m.prom")
      fs.mkdirSync(file) // a folder where the file should be: the rename fails
      const [observer] = yield* Metrics.observers({ file, pushgateway: undefined })
      const error = yield* Effect.flip(observer!.onFinish!(summary()))
      assert.instanceOf(error, Metrics.MetricsError)
      assert.match((error as Metrics.MetricsError).message, /m\.prom: rename: /)
      assert.deepStrictEqual(fs.readdirSync(dir), ["m.prom"])
    }).pipe(Effect.provide([Journal.layerMemory, Http.layer])))

  it.effect("a bad --metrics-file or --pushgateway fails before anything runs", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const cases: ReadonlyArray<[Metrics.Options, RegExp]> = [
        [{ file: path.join(dir, "m.txt"), pushgateway: undefined }, /reads only \*\.prom files/],
        [{ file: path.join(dir, "missing", "m.prom"), pushgateway: undefined }, /folder .*missing does not exist/],
        [{ file: path.join(dir, "{dag}", "m.prom"), pushgateway: undefined }, /only appear in the file's name/],
        [{ file: undefined, pushgateway: "ftp://host" }, /expected http or https/]
      ]
      for (const [options, message] of cases) {
        const error = yield* Effect.flip(Metrics.observers(options).pipe(Effect.provide([Journal.layerMemory, Http.layer])))
        assert.match(error.message, message)
      }
    }))

  it.effect("the memory journal knows the last success of a DAG after a later failure", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const finishRun = (dag: string, status: "succeeded" | "failed", at: number) =>
        Effect.scoped(Effect.gen(function*() {
          const begun = yield* journal.begin({
            dag,
            target: { _tag: "New" },
            definitionHash: "h",
            trigger: "cli",
            runnerVersion: "test",
            wait: false
          })
          assert.strictEqual(begun._tag, "Run")
          if (begun._tag !== "Run") return
          yield* journal.record({ _tag: "RunFinished", runId: begun.runId, dag, at, status, durationMillis: 1, jobs: [] })
        }))
      yield* finishRun("d", "succeeded", 1_000)
      yield* finishRun("d", "failed", 2_000)
      yield* finishRun("e", "failed", 3_000)
      assert.deepStrictEqual(yield* journal.lastSuccess("d"), Option.some(1_000))
      assert.deepStrictEqual(yield* journal.lastSuccess("e"), Option.none())
    }).pipe(Effect.provide(Journal.layerMemory)))
})

// ---------------------------------------------------------------------------------------------------------------
// End to end: a real Pushgateway and the real runner

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

let gateway: { readonly url: string; readonly process: ChildProcess } | undefined
const children = new Set<ChildProcess>()

beforeAll(async () => {
  if (pushgateway.skip) return
  const port = await freePort()
  const child = spawn("prometheus-pushgateway", [`--web.listen-address=127.0.0.1:${port}`, "--persistence.file="], {
    stdio: "ignore"
  })
  const failed = new Promise<never>((_, reject) =>
    child.once("error", (error) =>
      reject(new Error(`prometheus-pushgateway not found (${error.message}): apt-get install prometheus-pushgateway`)))
  )
  const url = `http://127.0.0.1:${port}`
  const ready = async () => {
    for (let i = 0; i < 200; i++) {
      const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)
      if (ok) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error("the Pushgateway did not become ready")
  }
  await Promise.race([ready(), failed])
  gateway = { url, process: child }
})

afterAll(() => {
  gateway?.process.kill()
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
})

/** What the Pushgateway exposes for one DAG group. */
const pushed = async (dag: string) => {
  const text = await (await fetch(`${gateway!.url}/metrics`)).text()
  return parse(text).filter((s) => s.labels["dag"] === dag)
}

const read = (file: string, what: string) => {
  const text = fs.readFileSync(file, "utf8")
  promtoolCheck(text, what)
  return parse(text)
}

const output = (result: Result) => `${result.stdout}\n${result.stderr}`

describe.skipIf(pushgateway.skip)("push", () => {
  it.effect("a rejected push (HTTP 4xx) is not retried and says what the Pushgateway answered", () =>
    Effect.gen(function*() {
      const target = yield* Metrics.parseGateway(gateway!.url)
      const error = yield* Effect.flip(Metrics.push(target, "rejected", "not { exposition text\n"))
      assert.isFalse(error.retryable)
      assert.match(error.message, /^PUT http:\/\/127\.0\.0\.1:\d+\/metrics\/job\/effect_runner\/dag\/rejected: HTTP 400: .+ \(1 attempt\)$/)
      yield* Metrics.push(target, "accepted", Metrics.render(Metrics.samples(summary({ dag: "accepted" }), undefined)))
      const series = yield* Effect.promise(() => pushed("accepted"))
      assert.strictEqual(value(series, "effect_runner_job_attempts", { job: "effect_runner", job_id: "extract" }), 3)
    }).pipe(Effect.provide(Http.layer)))
})

describe("runner <file> --metrics-file --pushgateway", () => {
  it.skipIf(pushgateway.skip || promtool.skip)("a success then a failure: statuses, attempts of a retried job, and the last success kept", async () => {
    const dir = tempDir()
    const file = path.join(dir, "runner.prom")
    const args = [fixture("metrics-dag"), "--journal", path.join(dir, "j.db"), "--log-format", "plain"]
    const flags = ["--metrics-file", file, "--pushgateway", gateway!.url]
    const dag = "team/metrics"

    const first = await runnerAsync([...args, ...flags]).done
    assert.strictEqual(first.status, 0, output(first))
    const ok = read(file, "after a success")
    assert.strictEqual(value(ok, "effect_runner_run_status", { dag, status: "succeeded" }), 1)
    assert.strictEqual(value(ok, "effect_runner_run_status", { dag, status: "failed" }), 0)
    assert.strictEqual(value(ok, "effect_runner_job_attempts", { dag, job_id: "extract" }), 2, "retried once")
    assert.strictEqual(value(ok, "effect_runner_job_status", { dag, job_id: "notify \"ops\" \\ team", status: "failed" }), 1)
    assert.strictEqual(value(ok, "effect_runner_job_status", { dag, job_id: "publish", status: "succeeded" }), 1)
    const succeededAt = value(ok, "effect_runner_last_success_timestamp_seconds", { dag })
    assert.strictEqual(succeededAt, value(ok, "effect_runner_last_run_timestamp_seconds", { dag }))
    assert.isAbove(value(ok, "effect_runner_run_duration_seconds", { dag }), 0)
    const okPushed = await pushed(dag)
    assert.strictEqual(value(okPushed, "effect_runner_job_attempts", { job: "effect_runner", job_id: "extract" }), 2)
    assert.strictEqual(value(okPushed, "effect_runner_run_status", { status: "succeeded", job: "effect_runner" }), 1)
    assert.isAbove(value(okPushed, "push_time_seconds", { job: "effect_runner" }), 0, "the group job/effect_runner/dag")

    const second = await runnerAsync([...args, ...flags], { METRICS_FAIL: "1" }).done
    assert.strictEqual(second.status, 1, output(second))
    const failed = read(file, "after a failure")
    assert.strictEqual(value(failed, "effect_runner_run_status", { dag, status: "failed" }), 1)
    assert.strictEqual(value(failed, "effect_runner_run_status", { dag, status: "succeeded" }), 0)
    assert.strictEqual(value(failed, "effect_runner_job_status", { dag, job_id: "load", status: "failed" }), 1)
    assert.strictEqual(value(failed, "effect_runner_job_status", { dag, job_id: "publish", status: "skipped" }), 1)
    assert.strictEqual(value(failed, "effect_runner_job_attempts", { dag, job_id: "publish" }), 0)
    assert.strictEqual(value(failed, "effect_runner_last_success_timestamp_seconds", { dag }), succeededAt, "from the journal")
    assert.isAbove(value(failed, "effect_runner_last_run_timestamp_seconds", { dag }), succeededAt)
    const failedPushed = await pushed(dag)
    assert.strictEqual(value(failedPushed, "effect_runner_run_status", { status: "failed" }), 1, "the group was replaced")
    assert.strictEqual(value(failedPushed, "effect_runner_last_success_timestamp_seconds"), succeededAt)
    assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")), [], "no temporary file left")
  })

  it("a run whose jobs were cached: status cached (1) for them, not succeeded, and 0 attempts", async () => {
    const dir = tempDir()
    const file = path.join(dir, "runner.prom")
    const args = [fixture("cached"), "--journal", path.join(dir, "j.db"), "--log-format", "plain", "--metrics-file", file]
    const first = await runnerAsync(args).done
    assert.strictEqual(first.status, 0, output(first))
    const ran = parse(fs.readFileSync(file, "utf8"))
    assert.strictEqual(value(ran, "effect_runner_job_status", { dag: "cached", job_id: "build", status: "succeeded" }), 1)
    assert.strictEqual(value(ran, "effect_runner_job_status", { dag: "cached", job_id: "build", status: "cached" }), 0)
    const second = await runnerAsync(args).done
    assert.strictEqual(second.status, 0, output(second))
    const text = fs.readFileSync(file, "utf8")
    const series = parse(text)
    for (const job of ["build", "report"]) {
      const statuses = series.filter((s) => s.name === "effect_runner_job_status" && s.labels["job_id"] === job)
      assert.deepStrictEqual(
        Object.fromEntries(statuses.map((s) => [s.labels["status"], s.value])),
        { succeeded: 0, cached: 1, restored: 0, failed: 0, skipped: 0, interrupted: 0 },
        job
      )
      assert.strictEqual(value(series, "effect_runner_job_attempts", { dag: "cached", job_id: job }), 0)
    }
    assert.strictEqual(value(series, "effect_runner_job_status", { dag: "cached", job_id: "stamp", status: "succeeded" }), 1)
    assert.strictEqual(value(series, "effect_runner_run_status", { dag: "cached", status: "succeeded" }), 1)
    if (!promtool.skip) promtoolCheck(text, "a run with cached jobs")
  })

  it("an unreachable Pushgateway is retried, logged without its credentials, and changes nothing", async () => {
    const closed = await freePort()
    const result = await runnerAsync([
      fixture("metrics-dag"),
      "--journal",
      "none",
      "--pushgateway",
      `http://ops:s3cret@127.0.0.1:${closed}`,
      "--log-format",
      "plain"
    ]).done
    assert.strictEqual(result.status, 0, output(result))
    assert.match(output(result), /run \S+ succeeded/)
    assert.match(output(result), /--pushgateway http:\/\/127\.0\.0\.1:\d+ failed.*ECONNREFUSED.*\(4 attempts\)/)
    assert.notInclude(output(result), "s3cret")
  })
})

describe("runner schedule --metrics-file", () => {
  it.skipIf(promtool.skip)("two DAGs of one daemon share the file: the latest run of each, one family header each; never succeeded: no last success", async () => {
    const dir = tempDir()
    const file = path.join(dir, "daemon.prom")
    const daemon = runnerAsync([
      "schedule",
      fixture("metrics-schedule-ok"),
      fixture("metrics-schedule-fails"),
      "--journal",
      path.join(dir, "j.db"),
      "--metrics-file",
      file
    ])
    children.add(daemon.process)
    const dags = () => {
      const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
      return new Set(parse(text).map((s) => s.labels["dag"]))
    }
    await waitUntil(() => (dags().has("metrics-ok") && dags().has("metrics-fails")) || daemon.process.exitCode !== null, 45_000)
    daemon.process.kill("SIGTERM")
    const result = await daemon.done
    assert.strictEqual(result.status, 0, output(result))
    const text = fs.readFileSync(file, "utf8")
    const series = read(file, "daemon")
    assert.strictEqual(text.split("# TYPE effect_runner_run_status gauge").length, 2)
    assert.strictEqual(value(series, "effect_runner_run_status", { dag: "metrics-ok", status: "succeeded" }), 1)
    assert.strictEqual(value(series, "effect_runner_run_status", { dag: "metrics-fails", status: "failed" }), 1)
    assert.isAbove(value(series, "effect_runner_last_success_timestamp_seconds", { dag: "metrics-ok" }), 0)
    assert.deepStrictEqual(values(series, "effect_runner_last_success_timestamp_seconds", { dag: "metrics-fails" }), [])
  })
})

describe.skipIf(pushgateway.skip || promtool.skip)("on Bun and Deno", () => {
  it("writes a valid file per DAG ({dag}) and pushes to the Pushgateway", async () => {
    const dir = tempDir()
    const dags: Record<Exclude<RuntimeName, "node">, string> = { bun: "bun/metrics", deno: "deno metrics" }
    const results = await Promise.all((["bun", "deno"] as const).map((runtime) =>
      runnerAsync([
        fixture("metrics-dag"),
        "--journal",
        "none",
        "--metrics-file",
        path.join(dir, "{dag}.prom"),
        "--pushgateway",
        gateway!.url,
        "--log-format",
        "plain"
      ], { METRICS_DAG: dags[runtime] }, runtime).done
    ))
    for (const [i, runtime] of (["bun", "deno"] as const).entries()) {
      const result = results[i]!
      assert.strictEqual(result.status, 0, `${runtime}: ${output(result)}`)
      const dag = dags[runtime]
      const series = read(path.join(dir, `${dag.replace(/[^A-Za-z0-9_.-]/g, "_")}.prom`), runtime)
      assert.strictEqual(value(series, "effect_runner_job_attempts", { dag, job_id: "extract" }), 2, runtime)
      assert.strictEqual(value(series, "effect_runner_run_status", { dag, status: "succeeded" }), 1, runtime)
      const fromGateway = await pushed(dag)
      assert.strictEqual(value(fromGateway, "effect_runner_job_attempts", { job: "effect_runner", job_id: "extract" }), 2, runtime)
    }
  })
})
