/**
 * Real spans through the CLI on Node, Bun and Deno: the acceptance example (examples/effect-native/tracing.ts) sends
 * its trace to an OTLP/HTTP receiver in this process (http/json), where the span its job opens is a child of the
 * attempt's span, the attempt of the job's, the job of the run's. And no span leaks a Redacted config value.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { type Receiver, receiver, traceBodies } from "./support/otlp.ts"
import { runnerAsync, type RuntimeName } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

interface Span {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  readonly attributes: Record<string, unknown>
  readonly status: { readonly code: number; readonly message?: string }
}

const spansOf = (r: Receiver): Array<Span> =>
  traceBodies(r).flatMap((body) =>
    JSON.parse(body).resourceSpans.flatMap((rs: any) =>
      rs.scopeSpans.flatMap((ss: any) =>
        ss.spans.map((s: any): Span => ({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId || undefined,
          name: s.name,
          attributes: Object.fromEntries((s.attributes ?? []).map((kv: any) => [kv.key, Object.values(kv.value)[0]])),
          status: s.status
        }))
      )
    )
  )

const one = (spans: ReadonlyArray<Span>, name: string): Span => {
  const found = spans.filter((s) => s.name === name)
  assert.strictEqual(found.length, 1, `one span "${name}" among ${spans.map((s) => s.name).join(", ")}`)
  return found[0]!
}

const children = new Set<ChildProcess>()
afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  children.clear()
})

/** Runs the CLI (asynchronously: the receiver answers from this process) with OpenTelemetry pointed at `r`. */
const run = async (r: Receiver, args: ReadonlyArray<string>, runtime: RuntimeName, env: Record<string, string> = {}) => {
  const child = runnerAsync([...args, "--journal", "none", "--log-format", "plain"], {
    OTEL_EXPORTER_OTLP_ENDPOINT: r.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRICS_EXPORTER: "none",
    ...env
  }, runtime)
  children.add(child.process)
  return child.done
}

const runtimes: ReadonlyArray<RuntimeName> = ["node", "bun", "deno"]

describe.each(runtimes)("tracing through the CLI on %s", (runtime) => {
  it("the span a job opens is a child of its attempt, under its job, under its run", async () => {
    const r = await receiver()
    const result = await run(r, ["examples/effect-native/tracing.ts"], runtime)
    await r.close()
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    const spans = spansOf(r)
    const runSpan = one(spans, "run tracing")
    const job = one(spans, "job crawl")
    const attempt = one(spans, "attempt 1")
    const fetchPage = one(spans, "fetch-page")
    assert.isUndefined(runSpan.parentSpanId)
    assert.strictEqual(job.parentSpanId, runSpan.spanId)
    assert.strictEqual(attempt.parentSpanId, job.spanId)
    assert.strictEqual(fetchPage.parentSpanId, attempt.spanId)
    assert.strictEqual(one(spans, "parse").parentSpanId, attempt.spanId)
    assert.strictEqual(new Set(spans.map((s) => s.traceId)).size, 1, "one trace")
    assert.strictEqual(fetchPage.attributes["url.full"], "https://example.com/")
    assert.deepInclude(runSpan.attributes, { "runner.dag": "tracing", "runner.run.status": "succeeded", "runner.run.trigger": "cli" })
    assert.deepInclude(job.attributes, { "runner.job.id": "crawl", "runner.job.status": "succeeded", "runner.job.attempts": 1 })
    assert.deepInclude(attempt.attributes, { "runner.job.id": "crawl", "runner.attempt": 1 })
  })
})

const tempDir = tempDirs("tracing-")

/** A job that puts its Redacted token everywhere a span can carry text: attributes, events, a span's name, its error. */
const leakyTaskFile = `
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { Dag, Job } from "effect-runner"

class Rejected extends Data.TaggedError("Rejected")<{ readonly message: string }> {}

export const call = Job.make("call", {
  config: { token: Config.Redacted("API_TOKEN") },
  run: ({ config }) => Effect.gen(function*() {
    const clear = Redacted.value(config.token)
    yield* Effect.annotateCurrentSpan("http.request.header.authorization", "Bearer " + clear)
    yield* Effect.withSpan(Effect.void, "named " + clear)
    ;(yield* Effect.currentSpan).event("sent", 1n, { body: "token=" + clear })
    yield* Effect.fail(new Rejected({ message: "token " + clear + " was rejected" }))
  }).pipe(Effect.withSpan("call-api", { attributes: { token: clear(config.token) } }))
})

const clear = (token: Redacted.Redacted<string>) => ({ nested: [Redacted.value(token)] })

export default Dag.make("leaky", [call])
`

describe("a cached job's span", () => {
  it("says cached and names the run it came from, with no attempt under it", async () => {
    const journal = path.join(tempDir(), "j.db")
    const args = ["test/fixtures/cached.ts", "--journal", journal, "--log-format", "plain"]
    const first = await runnerAsync(args).done
    assert.strictEqual(first.status, 0, first.stdout + first.stderr)
    const firstId = /^run (\S+) succeeded/m.exec(first.stdout)![1]!
    const r = await receiver()
    const child = runnerAsync(args, {
      OTEL_EXPORTER_OTLP_ENDPOINT: r.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_METRICS_EXPORTER: "none"
    })
    children.add(child.process)
    const second = await child.done
    await r.close()
    assert.strictEqual(second.status, 0, second.stdout + second.stderr)
    const spans = spansOf(r)
    for (const id of ["build", "report"]) {
      const job = one(spans, `job ${id}`)
      assert.deepInclude(job.attributes, { "runner.job.id": id, "runner.job.status": "cached", "runner.job.cached_from": firstId })
      assert.notProperty(job.attributes, "runner.job.attempts")
      assert.isFalse(spans.some((s) => s.parentSpanId === job.spanId), `no span under job ${id}`)
    }
    assert.deepInclude(one(spans, "job stamp").attributes, { "runner.job.status": "succeeded", "runner.job.attempts": 1 })
    assert.notProperty(one(spans, "job stamp").attributes, "runner.job.cached_from")
  })
})

describe("masking", () => {
  it("a Redacted config value's clear text is never exported: attributes, nested values, errors, statuses", async () => {
    const dir = tempDir()
    const file = path.join(dir, "leaky.ts")
    fs.writeFileSync(file, leakyTaskFile)
    const r = await receiver()
    const result = await run(r, [file], "node", { API_TOKEN: "tok-9f8e7d6c5b" })
    await r.close()
    assert.strictEqual(result.status, 1, result.stdout + result.stderr)
    const sent = traceBodies(r).join("\n")
    assert.isTrue(traceBodies(r).length > 0)
    assert.notInclude(sent, "tok-9f8e7d6c5b")
    const spans = spansOf(r)
    const call = one(spans, "call-api")
    assert.strictEqual(call.parentSpanId, one(spans, "attempt 1").spanId)
    assert.strictEqual(call.attributes["http.request.header.authorization"], "Bearer ***")
    assert.strictEqual(call.status.code, 2)
    assert.include(call.status.message, "token *** was rejected")
    assert.include(one(spans, "attempt 1").status.message, "token *** was rejected")
    assert.strictEqual(one(spans, "named ***").parentSpanId, call.spanId)
    assert.include(sent, "token=***")
  })
})

/** A command job that writes the TRACEPARENT it was given; `plain` runs with none given by the runner. */
const commandTaskFile = (out: string) => `
import { Dag, Job } from "effect-runner"

export const traced = Job.command("traced", ["sh", "-c", 'printf "%s" "$TRACEPARENT" > "$OUT"'], {
  env: { OUT: ${JSON.stringify(out)} }
})

export default Dag.make("command-trace", [traced])
`

describe.each(runtimes)("trace context of command jobs on %s", (runtime) => {
  it("a command job's TRACEPARENT names its attempt's span, in the run's trace; without an exporter it gets none", async () => {
    const dir = tempDir()
    const out = path.join(dir, "traceparent.txt")
    const file = path.join(dir, "command.ts")
    fs.writeFileSync(file, commandTaskFile(out))
    const r = await receiver()
    const result = await run(r, [file], runtime)
    await r.close()
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    const attempt = one(spansOf(r), "attempt 1")
    assert.strictEqual(fs.readFileSync(out, "utf8"), `00-${attempt.traceId}-${attempt.spanId}-01`)

    fs.rmSync(out)
    const plain = await runnerAsync([file, "--journal", "none", "--log-format", "plain"], { TRACEPARENT: "" }, runtime).done
    assert.strictEqual(plain.status, 0, plain.stdout + plain.stderr)
    assert.strictEqual(fs.readFileSync(out, "utf8"), "")
  })
})
