/**
 * Notifications: the JSON body and the Slack message, URL and command parsing, delivery with retries (TestClock), and
 * the real runner posting to a local HTTP server, running a command and calling a Dag's hooks, on Node, Bun and Deno.
 * The spawned runs are concurrent (each has its own receiver and files): most of their time is retry backoff.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/testing/TestClock"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Delivery from "../src/internal/delivery.ts"
import * as Http from "../src/internal/http.ts"
import * as Body from "../src/internal/notify/Body.ts"
import * as Command from "../src/internal/notify/Command.ts"
import * as Notify from "../src/internal/notify/Notify.ts"
import * as Slack from "../src/internal/notify/Slack.ts"
import type * as Observer from "../src/internal/Observer.ts"
import { bins, runnerAsync, type RuntimeName, waitUntil } from "./support/spawn.ts"

const summary = (overrides: Partial<Observer.Summary> = {}): Observer.Summary => ({
  runId: "20261130-020000-abcdef",
  dag: "nightly",
  key: "2026-11-30T02:00",
  trigger: "schedule",
  status: "failed",
  resumed: false,
  startedAt: Date.UTC(2026, 10, 30, 1, 0, 0),
  finishedAt: Date.UTC(2026, 10, 30, 1, 0, 12, 500),
  durationMillis: 12_500,
  jobs: [
    { jobId: "copy", status: "succeeded", critical: true, attempts: 1, durationMillis: 2000, detail: undefined },
    { jobId: "upload", status: "failed", critical: true, attempts: 3, durationMillis: 10_000, detail: "HTTP 503 <b>&" }
  ],
  failed: [{ jobId: "upload", critical: true, error: "HTTP 503 <b>&", cause: Cause.fail("HTTP 503") }],
  ...overrides
})

describe("the JSON body", () => {
  it("has the documented shape, version 1, with null for absent values and ISO times", () => {
    const body = Body.toBody(summary({ key: undefined }), "host-1")
    assert.deepStrictEqual(body, {
      version: 1,
      runId: "20261130-020000-abcdef",
      dag: "nightly",
      key: null,
      status: "failed",
      trigger: "schedule",
      resumed: false,
      startedAt: "2026-11-30T01:00:00.000Z",
      finishedAt: "2026-11-30T01:00:12.500Z",
      durationMillis: 12_500,
      host: "host-1",
      failed: [{ jobId: "upload", critical: true, error: "HTTP 503 <b>&" }],
      jobs: [
        { jobId: "copy", status: "succeeded", critical: true, attempts: 1, durationMillis: 2000, detail: null, cachedFrom: null },
        {
          jobId: "upload",
          status: "failed",
          critical: true,
          attempts: 3,
          durationMillis: 10_000,
          detail: "HTTP 503 <b>&",
          cachedFrom: null
        }
      ]
    })
  })

  it("a cached job has status cached and the run it came from; it is not among the failed", () => {
    const body = Body.toBody(summary({ jobs: [cachedJob, ...summary().jobs] }), "h")
    assert.deepStrictEqual(body.jobs[0], {
      jobId: "lint",
      status: "cached",
      critical: true,
      attempts: 0,
      durationMillis: 3,
      detail: null,
      cachedFrom: "20261129-020000-fedcba"
    })
    assert.deepStrictEqual(body.failed.map((f) => f.jobId), ["upload"])
    assert.deepStrictEqual(Effect.runSync(Body.decode(Body.encode(summary({ jobs: [cachedJob] }), "h"))).jobs[0]!.cachedFrom, cachedJob.cachedFrom)
  })

  it("is encoded with its Schema: the text is the body's JSON, and decodes back to it", () => {
    const text = Body.encode(summary(), "host-1")
    assert.strictEqual(text, JSON.stringify(Body.toBody(summary(), "host-1")))
    assert.deepStrictEqual(Effect.runSync(Body.decode(text)), Body.toBody(summary(), "host-1"))
  })

  it("decoding names what is malformed: another version, a missing field, a wrong type, not JSON", () => {
    const good = JSON.parse(Body.encode(summary(), "h")) as Record<string, unknown>
    const cases: ReadonlyArray<readonly [string, RegExp]> = [
      [JSON.stringify({ ...good, version: 2 }), /version/],
      [JSON.stringify({ ...good, runId: undefined }), /runId/],
      [JSON.stringify({ ...good, jobs: [{ ...(good["jobs"] as Array<object>)[0], attempts: "3" }] }), /attempts/],
      ["{not json", /JSON/i]
    ]
    for (const [text, names] of cases) {
      const error = Effect.runSync(Effect.flip(Body.decode(text)))
      assert.match(error.message, names, error.message)
    }
  })

  it("truncates very long errors", () => {
    const error = "x".repeat(10_000)
    const body = Body.toBody(summary({ failed: [{ jobId: "upload", critical: true, error, cause: Cause.fail(error) }] }), "h")
    assert.strictEqual(body.failed[0]!.error.length, 4000)
    assert.match(body.failed[0]!.error, /… \(truncated\)$/)
  })
})

/** A job whose success was reused from an earlier run. */
const cachedJob = {
  jobId: "lint",
  status: "cached",
  critical: true,
  attempts: 0,
  durationMillis: 3,
  detail: undefined,
  cachedFrom: "20261129-020000-fedcba"
} as const

describe("the Slack message", () => {
  it("counts cached jobs apart, neither as failures nor hidden: in the text and in a Jobs field", () => {
    const message = Slack.toSlack(summary({ jobs: [cachedJob, ...summary().jobs] }), "host-1")
    assert.match(message.text, /\(run 20261130-020000-abcdef, 12s 500ms, 1 of 3 jobs cached\); failed: upload$/)
    assert.include(JSON.stringify(message.blocks), "*Jobs*\\n3 jobs: 2 ran, 1 cached")
    const plain = Slack.toSlack(summary(), "host-1")
    assert.notInclude(plain.text, "cached")
    assert.include(JSON.stringify(plain.blocks), "*Jobs*\\n2 jobs: 2 ran")
  })

  it("names the dag, status, key and run, and each failed job with its error escaped for Slack", () => {
    const message = Slack.toSlack(summary(), "host-1")
    assert.match(message.text, /^:x: nightly failed, key 2026-11-30T02:00 \(run 20261130-020000-abcdef, 12s 500ms\); failed: upload$/)
    const json = JSON.stringify(message.blocks)
    assert.include(json, "*Run*\\n20261130-020000-abcdef")
    assert.include(json, "*Host*\\nhost-1")
    assert.include(json, "*upload*\\n```HTTP 503 &lt;b&gt;&amp;```")
    assert.deepStrictEqual(message.blocks[0], {
      type: "header",
      text: { type: "plain_text", emoji: true, text: ":x: nightly failed" }
    })
  })

  it("keeps within Slack's limits: short errors, at most 10 failed jobs then a count, a short header", () => {
    const failed = Array.from({ length: 30 }, (_, i) => ({ jobId: `job-${i}`, critical: true, error: "<&>".repeat(2000), cause: Cause.empty }))
    const message = Slack.toSlack(summary({ dag: "d".repeat(300), failed }), "h")
    const sections = message.blocks.filter((b) => b["type"] === "section" && JSON.stringify(b).includes("```"))
    assert.strictEqual(sections.length, 10)
    for (const block of sections) {
      const text = (block["text"] as { text: string }).text
      assert.isBelow(text.length, 600)
      assert.match(text, /(&lt;|&amp;|&gt;)… \(truncated\)```$/, "cut between entities")
    }
    assert.include(JSON.stringify(message.blocks), "… and 20 more failed jobs")
    assert.isAtMost((message.blocks[0]!["text"] as { text: string }).text.length, 150)
    assert.isAtMost(message.blocks.length, 50)
  })
})

describe("parsing the options", () => {
  it.effect("--notify-command is split like a shell would (quotes, backslashes), into argv", () =>
    Effect.gen(function*() {
      const argv = yield* Command.parse(`notify-send "run ended" 'it''s' a\\ b --flag=1`)
      assert.deepStrictEqual(argv, ["notify-send", "run ended", "its", "a b", "--flag=1"])
    }))

  it.effect("--notify-command refuses shell syntax and empty commands, without repeating the command", () =>
    Effect.gen(function*() {
      for (const input of ["curl -d @- https://x/s3cr3t | tee log", "echo $S3CR3T", "", "   "]) {
        const error = yield* Effect.flip(Command.parse(input))
        assert.strictEqual(error._tag, "InvalidOption")
        assert.strictEqual(error.where, "--notify-command")
        assert.notInclude(error.message, "s3cr3t")
        assert.notInclude(error.message, "S3CR3T")
      }
    }))

  it.effect("--notify-url must be an absolute http(s) URL; what is shown of it hides the path and credentials", () =>
    Effect.gen(function*() {
      const target = yield* Notify.parseUrl("https://user:pw@hooks.example.com/services/T0/B0/s3cr3t?x=1")
      assert.strictEqual(target.shown, "https://hooks.example.com/***")
      assert.strictEqual((yield* Notify.parseUrl("http://127.0.0.1:8080")).shown, "http://127.0.0.1:8080")
      for (const input of ["not a url s3cr3t", "ftp://host/s3cr3t", "/relative/s3cr3t", "https://"]) {
        const error = yield* Effect.flip(Notify.parseUrl(input))
        assert.strictEqual(error._tag, "InvalidOption")
        assert.notInclude(error.message, "s3cr3t")
      }
    }))
})

/**
 * An HttpClient that answers from a list (a status, a Response, "hang" to never answer, or an error to fail with),
 * records each request and its abort signal.
 */
const fakeClient = (answers: ReadonlyArray<number | "hang" | Response | ((request: HttpClientRequest.HttpClientRequest, url: URL) => unknown)>) => {
  const calls: Array<{ readonly request: HttpClientRequest.HttpClientRequest; readonly signal: AbortSignal }> = []
  const client = HttpClient.make((request, url, signal) => {
    calls.push({ request, signal })
    const answer = answers[Math.min(calls.length, answers.length) - 1]!
    if (answer === "hang") return Effect.never
    if (typeof answer === "function") {
      return Effect.fail(new HttpClientError.HttpClientError({ reason: new HttpClientError.TransportError({ request, cause: answer(request, url) }) }))
    }
    const response = typeof answer === "number" ? new Response("answer", { status: answer }) : answer
    return Effect.succeed(HttpClientResponse.fromWeb(request, response))
  })
  return { calls, provide: Effect.provideService(HttpClient.HttpClient, client) }
}

const target = Effect.runSync(Notify.parseUrl("https://hooks.example.com/services/s3cr3t"))
const post = (body = "{}"): Http.Message => ({ method: "POST", contentType: "application/json", body })

describe("delivery", () => {
  it.effect("posts JSON and retries a 5xx with backoff 0.5 s, 1 s, 2 s: four attempts in all", () =>
    Effect.gen(function*() {
      const { calls, provide } = fakeClient([503])
      const fiber = yield* Effect.forkChild(Effect.result(Http.send("n", Notify.webhookPolicy, target, post()).pipe(provide)))
      yield* TestClock.adjust("499 millis")
      assert.strictEqual(calls.length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(calls.length, 2)
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual(calls.length, 4)
      const result = yield* Fiber.join(fiber)
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) assert.strictEqual(result.failure.message, "gave up after 4 attempts: HTTP 503: answer")
      assert.strictEqual(calls[0]!.request.method, "POST")
      assert.strictEqual(calls[0]!.request.url, "https://hooks.example.com/services/s3cr3t")
      assert.deepInclude(calls[0]!.request.headers, { "content-type": "application/json", "user-agent": "effect-runner" })
      assert.notProperty(calls[0]!.request.headers, "traceparent", "no client span, so no trace context sent")
    }))

  it.effect("every 5xx is retried (501 too, which Effect alone would not), a 4xx other than 408/429 is not", () =>
    Effect.gen(function*() {
      const server = fakeClient([501, 200])
      const fiber = yield* Effect.forkChild(Http.send("n", Notify.webhookPolicy, target, post()).pipe(server.provide))
      yield* TestClock.adjust("500 millis")
      yield* Fiber.join(fiber)
      assert.strictEqual(server.calls.length, 2)
      const client = fakeClient([404])
      const error = yield* Effect.flip(Http.send("n", Notify.webhookPolicy, target, post()).pipe(client.provide))
      assert.strictEqual(error.attempts, 1)
      assert.isFalse(error.retryable)
      assert.strictEqual(client.calls.length, 1)
    }))

  it.effect("a 429 waits for its Retry-After, then succeeds", () =>
    Effect.gen(function*() {
      const { calls, provide } = fakeClient([new Response("", { status: 429, headers: { "retry-after": "3" } }), 200])
      const fiber = yield* Effect.forkChild(Http.send("n", Notify.webhookPolicy, target, post()).pipe(provide))
      yield* TestClock.adjust("2999 millis")
      assert.strictEqual(calls.length, 1)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(fiber)
      assert.strictEqual(calls.length, 2)
    }))

  it.effect("a Retry-After longer than the policy's 10 s is not waited for: it gives up at once, saying why", () =>
    Effect.gen(function*() {
      const { calls, provide } = fakeClient([new Response("slow down", { status: 429, headers: { "retry-after": "3600" } })])
      const error = yield* Effect.flip(Http.send("n", Notify.webhookPolicy, target, post()).pipe(provide))
      assert.strictEqual(calls.length, 1)
      assert.strictEqual(error.message, "gave up after 1 attempt: HTTP 429: slow down")
    }))

  it.effect("an attempt without an answer is aborted after 10 s and retried", () =>
    Effect.gen(function*() {
      const { calls, provide } = fakeClient(["hang", 200])
      const fiber = yield* Effect.forkChild(Http.send("n", Notify.webhookPolicy, target, post()).pipe(provide))
      yield* TestClock.adjust(Duration.seconds(10))
      assert.isTrue(calls[0]!.signal.aborted)
      yield* TestClock.adjust("500 millis")
      yield* Fiber.join(fiber)
      assert.strictEqual(calls.length, 2)
    }))

  it.effect("a network error that quotes the URL is logged with the URL masked", () =>
    Effect.gen(function*() {
      const { provide } = fakeClient([(_request, url) => new TypeError(`error sending request for url (${url.href})`)])
      const error = yield* Effect.flip(
        Http.send("n", { ...Notify.webhookPolicy, attempts: 1 }, target, post()).pipe(provide)
      )
      assert.instanceOf(error, Delivery.DeliveryFailed)
      assert.strictEqual(error.reason, "error sending request for url (https://hooks.example.com/***)")
    }))
})

describe("--notify-command in process", () => {
  it.effect("a program that does not exist is not retried, and the log does not quote its arguments", () =>
    Effect.gen(function*() {
      const [observer] = yield* Notify.observers({ url: undefined, format: "json", when: "failure", command: "no-such-program-x --token s3cr3t" })
      assert.strictEqual(observer!.name, "notify-command (no-such-program-x)")
      const error = yield* Effect.flip(observer!.onFinish!(summary()))
      assert.instanceOf(error, Delivery.DeliveryFailed)
      assert.strictEqual((error as Delivery.DeliveryFailed).attempts, 1)
      assert.match((error as Delivery.DeliveryFailed).message, /^gave up after 1 attempt: NotFound: /)
      assert.notInclude((error as Delivery.DeliveryFailed).message, "s3cr3t")
    }).pipe(Effect.provide(NodeServices.layer), Effect.provide(Http.layer)))
})

// -----------------------------------------------------------------------------
// The real runner
// -----------------------------------------------------------------------------

const TOKEN = "T0KEN-s3cr3t"

interface Received {
  readonly method: string
  readonly path: string
  readonly contentType: string | undefined
  readonly body: string
}

/** A webhook receiver on 127.0.0.1 answering request n with `status(n)`. */
const receiver = async (status: (n: number) => number = () => 200) => {
  const requests: Array<Received> = []
  const server = http.createServer((req, res) => {
    let body = ""
    req.on("data", (chunk) => (body += chunk))
    req.on("end", () => {
      requests.push({ method: req.method!, path: req.url!, contentType: req.headers["content-type"], body })
      res.writeHead(status(requests.length)).end(status(requests.length) === 200 ? "ok" : "try again")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/services/T0/B0/${TOKEN}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve))
  }
}

/** A received body, decoded with the wire format's Schema (which checks every field and the version). */
const decodeBody = (json: string): Body.Body => Schema.decodeUnknownSync(Body.BodyJson)(json)

const temp = () => fs.mkdtempSync(path.join(os.tmpdir(), "runner-notify-"))

/** Runs test/fixtures/notify-dag.ts (failing when `fail`), journal in memory, plain output. */
const run = (
  args: ReadonlyArray<string>,
  env: { readonly fail?: boolean; readonly hookFile?: string; readonly hookFails?: boolean; readonly notifyUrl?: string } = {},
  runtime: RuntimeName = "node"
) =>
  runnerAsync(["test/fixtures/notify-dag.ts", "--journal", "none", "--log-format", "plain", ...args], {
    NOTIFY_FAIL: env.fail === true ? "1" : "0",
    ...(env.notifyUrl === undefined ? {} : { RUNNER_NOTIFY_URL: env.notifyUrl }),
    ...(env.hookFile === undefined ? {} : { NOTIFY_HOOK_FILE: env.hookFile }),
    ...(env.hookFails === true ? { NOTIFY_HOOK_FAILS: "1" } : {})
  }, runtime).done

const hookLines = (file: string) =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").map((line) => {
    const space = line.indexOf(" ")
    return { hook: line.slice(0, space), summary: JSON.parse(line.slice(space + 1)) as Record<string, any> }
  }) : []

/** A --notify-command running Node: the first call fails (exit 5), later ones save stdin and $RUNNER_STATUS to `out`. */
const recorderCommand = (out: string) => {
  const script = "const fs = require(\"fs\"); const out = process.argv[1];" +
    " if (!fs.existsSync(out + \".tried\")) { fs.writeFileSync(out + \".tried\", \"\"); console.error(\"not yet\"); process.exit(5) }" +
    " fs.writeFileSync(out, JSON.stringify({ stdin: fs.readFileSync(0, \"utf8\"), status: process.env.RUNNER_STATUS }));" +
    " console.log(\"received\")"
  return `${bins.node} -e '${script}' ${out}`
}

describe.concurrent("runner --notify-url", () => {
  it("a failed run POSTs one JSON summary (documented shape, failed job and error) and calls onFailure", async () => {
    const server = await receiver()
    const hookFile = path.join(temp(), "hooks")
    const result = await run(["--key", "k-1", "--notify-url", server.url], { fail: true, hookFile })
    await server.close()
    assert.strictEqual(result.status, 1, result.stdout + result.stderr)
    const runId = /^run (\S+) failed in/m.exec(result.stdout)?.[1]
    assert.isDefined(runId, result.stdout)
    assert.strictEqual(server.requests.length, 1)
    const [request] = server.requests
    assert.strictEqual(request!.method, "POST")
    assert.strictEqual(request!.path, `/services/T0/B0/${TOKEN}`)
    assert.strictEqual(request!.contentType, "application/json")
    const body = decodeBody(request!.body)
    assert.deepStrictEqual(Object.keys(JSON.parse(request!.body)), [
      "version", "runId", "dag", "key", "status", "trigger", "resumed", "startedAt", "finishedAt", "durationMillis",
      "host", "failed", "jobs"
    ])
    assert.include(body, { version: 1, runId, dag: "notify-dag", key: "k-1", status: "failed", trigger: "cli", host: os.hostname() })
    assert.isAtMost(Date.parse(body.startedAt), Date.parse(body.finishedAt))
    assert.strictEqual(Date.parse(body.finishedAt) - Date.parse(body.startedAt), body.durationMillis)
    assert.strictEqual(body.failed.length, 1)
    assert.strictEqual(body.failed[0]!.jobId, "upload")
    assert.include(body.failed[0]!.error, "bucket not found")
    assert.deepStrictEqual(body.jobs.map((j) => [j.jobId, j.status]), [["prepare", "succeeded"], ["upload", "failed"]])
    const hooks = hookLines(hookFile)
    assert.deepStrictEqual(hooks.map((h) => h.hook), ["onFailure"])
    assert.strictEqual(hooks[0]!.summary["runId"], runId)
    assert.strictEqual(hooks[0]!.summary["failed"][0].jobId, "upload")
    assert.notInclude(result.stdout + result.stderr, TOKEN)
  })

  it("a successful run POSTs nothing by default and calls onSuccess, whose failure is only logged; with --notify always it POSTs once", async () => {
    const server = await receiver()
    const hookFile = path.join(temp(), "hooks")
    const quiet = await run(["--notify-url", server.url], { hookFile, hookFails: true })
    assert.strictEqual(quiet.status, 0, quiet.stdout + quiet.stderr)
    assert.strictEqual(server.requests.length, 0)
    assert.deepStrictEqual(hookLines(hookFile).map((h) => [h.hook, h.summary["status"]]), [["onSuccess", "succeeded"]])
    assert.match(quiet.stdout, /dag "notify-dag" onSuccess\/onFailure failed \(the run's outcome is unchanged\): onSuccess hook broke/)
    const always = await run(["--notify-url", server.url, "--notify", "always"])
    await server.close()
    assert.strictEqual(always.status, 0, always.stdout + always.stderr)
    assert.strictEqual(server.requests.length, 1)
    const body = decodeBody(server.requests[0]!.body)
    assert.include(body, { status: "succeeded", key: null })
    assert.deepStrictEqual(body.failed, [])
  })

  it("--notify-format slack posts an incoming-webhook message: text, header, fields, the failed job and its error", async () => {
    const server = await receiver()
    const result = await run(["--notify-url", server.url, "--notify-format", "slack", "--key", "k-2"], { fail: true })
    await server.close()
    assert.strictEqual(result.status, 1, result.stdout + result.stderr)
    assert.strictEqual(server.requests.length, 1)
    const message = JSON.parse(server.requests[0]!.body) as Slack.SlackMessage
    assert.match(message.text, /^:x: notify-dag failed, key k-2 \(run \S+, \d/)
    assert.match(message.text, /failed: upload$/)
    assert.strictEqual(message.blocks[0]!["type"], "header")
    const blocks = JSON.stringify(message.blocks)
    assert.include(blocks, "*Key*\\nk-2")
    assert.match(blocks, /\*upload\*\\n```ShellExitError: .*bucket not found/)
    assert.notProperty(message, "version")
  })

  it("a server answering 500 twice then 200 gets three attempts; each failure is logged; the exit code is unchanged", async () => {
    const server = await receiver((n) => n <= 2 ? 500 : 200)
    const result = await run(["--notify-url", server.url, "--notify", "always"])
    await server.close()
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    assert.strictEqual(server.requests.length, 3)
    assert.strictEqual(new Set(server.requests.map((r) => r.body)).size, 1, "the same body each time")
    assert.match(result.stdout, /notify-url \(http:\/\/127\.0\.0\.1:\d+\/\*\*\*\): attempt 1 of 4 failed: HTTP 500: try again; retrying in 500ms/)
    assert.match(result.stdout, /attempt 2 of 4 failed: HTTP 500: try again; retrying in 1s/)
    assert.match(result.stdout, /delivered on attempt 3/)
    assert.notInclude(result.stdout + result.stderr, TOKEN)
  })

  it("a URL where nobody listens: each attempt is logged, then it gives up; the exit code is unchanged", async () => {
    const server = await receiver()
    await server.close() // its port is now closed
    const result = await run(["--notify-url", server.url], { fail: true })
    assert.strictEqual(result.status, 1, result.stdout + result.stderr)
    assert.match(result.stdout, /attempt 3 of 4 failed: fetch failed: connect ECONNREFUSED/)
    assert.match(result.stdout, /notify-url \(http:\/\/127\.0\.0\.1:\d+\/\*\*\*\) failed \(the run's outcome is unchanged\): gave up after 4 attempts/)
    assert.notInclude(result.stdout + result.stderr, TOKEN)
  })

  it("an interrupted run (SIGTERM) is notified as interrupted before the runner exits 130", async () => {
    const server = await receiver()
    const pids = path.join(temp(), "pids")
    const child = runnerAsync(["test/fixtures/sleeper.ts", "--journal", "none", "--log-format", "plain", "--notify-url", server.url], {
      PIDS_FILE: pids
    })
    await waitUntil(() => fs.existsSync(pids) && fs.readFileSync(pids, "utf8").trim().split("\n").length === 6, 50_000)
    child.process.kill("SIGTERM")
    const result = await child.done
    await server.close()
    assert.strictEqual(result.status, 130, result.stdout + result.stderr)
    assert.strictEqual(server.requests.length, 1)
    const body = decodeBody(server.requests[0]!.body)
    assert.strictEqual(body.status, "interrupted")
    assert.sameMembers(body.failed.map((f) => f.jobId), ["sleeper1", "sleeper2", "sleeper3"])
  })

  it("a bad --notify-url or --notify-command exits 2 before anything runs, without printing the URL's secret part", async () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
      [["--notify-url", `not a url ${TOKEN}`], /^runner: --notify-url: is not a valid absolute URL/m],
      [["--notify-command", `curl -d @- https://example.com/${TOKEN} | tee log`], /^runner: --notify-command: The operator "\|" needs a shell/m]
    ]
    for (const [args, message] of cases) {
      const result = await run(args)
      assert.strictEqual(result.status, 2, result.stdout + result.stderr)
      assert.match(result.stderr, message)
      assert.notMatch(result.stdout, /started/, "no job ran")
      assert.notInclude(result.stdout + result.stderr, TOKEN)
    }
  })
})

describe("a run whose jobs were cached (the same DAG run twice on one journal)", () => {
  it("POSTs status cached and the run each cached job came from; the command gets the same body", async () => {
    const dir = temp()
    const journal = path.join(dir, "j.db")
    const args = ["test/fixtures/cached.ts", "--journal", journal, "--log-format", "plain"]
    const first = await runnerAsync(args).done
    assert.strictEqual(first.status, 0, first.stdout + first.stderr)
    const firstId = /^run (\S+) succeeded/m.exec(first.stdout)![1]!
    const server = await receiver()
    const out = path.join(dir, "received")
    fs.writeFileSync(`${out}.tried`, "") // the command succeeds at once
    const second = await runnerAsync([...args, "--notify-url", server.url, "--notify", "always", "--notify-command", recorderCommand(out)]).done
    await server.close()
    assert.strictEqual(second.status, 0, second.stdout + second.stderr)
    assert.strictEqual(server.requests.length, 1)
    const body = decodeBody(server.requests[0]!.body)
    assert.include(body, { status: "succeeded", dag: "cached" })
    assert.deepStrictEqual(body.failed, [])
    assert.deepStrictEqual(body.jobs.map((j) => [j.jobId, j.status, j.attempts, j.cachedFrom]), [
      ["build", "cached", 0, firstId],
      ["report", "cached", 0, firstId],
      ["stamp", "succeeded", 1, null]
    ])
    assert.deepStrictEqual(decodeBody(JSON.parse(fs.readFileSync(out, "utf8")).stdin).jobs, body.jobs)
  })
})

describe.concurrent("runner --notify-command", () => {
  it("the command gets the JSON summary on stdin and RUNNER_STATUS; a failing attempt is retried; its output is logged", async () => {
    const out = path.join(temp(), "received")
    const result = await run(["--notify-command", recorderCommand(out)], { fail: true })
    assert.strictEqual(result.status, 1, result.stdout + result.stderr)
    assert.match(result.stdout, /notify-command \(\S+node\): not yet/)
    assert.match(result.stdout, /notify-command \(\S+node\): attempt 1 of 4 failed: exited with code 5; retrying in 500ms/)
    assert.match(result.stdout, /notify-command \(\S+node\): received/)
    const received = JSON.parse(fs.readFileSync(out, "utf8")) as { stdin: string; status: string }
    assert.strictEqual(received.status, "failed")
    const body = decodeBody(received.stdin)
    assert.include(body, { version: 1, dag: "notify-dag", status: "failed" })
    assert.strictEqual(body.failed[0]!.jobId, "upload")
  })
})

describe.concurrent.each(["bun", "deno"] as const)("on %s", (runtime) => {
  // On Bun the URL comes from RUNNER_NOTIFY_URL, on Deno from --notify-url.
  it("a failed run POSTs its JSON summary, runs the command and calls onFailure", async () => {
    const server = await receiver()
    const dir = temp()
    const out = path.join(dir, "received")
    fs.writeFileSync(`${out}.tried`, "") // the command succeeds at once
    const hookFile = path.join(dir, "hooks")
    const result = runtime === "bun"
      ? await run(["--notify-command", recorderCommand(out)], { fail: true, hookFile, notifyUrl: server.url }, runtime)
      : await run(["--notify-url", server.url, "--notify-command", recorderCommand(out)], { fail: true, hookFile }, runtime)
    await server.close()
    assert.strictEqual(result.status, 1, result.stdout + result.stderr)
    assert.strictEqual(server.requests.length, 1)
    const body = decodeBody(server.requests[0]!.body)
    assert.include(body, { version: 1, dag: "notify-dag", status: "failed" })
    assert.include(body.failed[0]!.error, "bucket not found")
    assert.strictEqual((decodeBody(JSON.parse(fs.readFileSync(out, "utf8")).stdin)).runId, body.runId)
    assert.deepStrictEqual(hookLines(hookFile).map((h) => h.hook), ["onFailure"])
    assert.notInclude(result.stdout + result.stderr, TOKEN)
  })
})
