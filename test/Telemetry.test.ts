/**
 * OpenTelemetry export: the settings (Effect's `layerFromConfig` plus what the runner adds), the tracer wrapper (masking,
 * the runner's spans held until the run's events complete them), then the real `runner` sending to an OTLP/HTTP receiver
 * on 127.0.0.1 that decodes what arrives (protobuf or JSON) and checks the trace of a run (one trace, the run span as
 * root, job spans under it, attempt spans under their job, retries as events, errors) and its metrics. The spans are
 * real Effect spans now (see test/Tracing.test.ts for a span a job opens); the shape checked here is unchanged.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Exit from "effect/Exit"
import * as fs from "node:fs"
import type { ChildProcess } from "node:child_process"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as OtlpResource from "effect/observability/OtlpResource"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Cause from "effect/Cause"
import * as Secrets from "../src/internal/Secrets.ts"
import * as Telemetry from "../src/internal/telemetry/Telemetry.ts"
import { WrappedTracer } from "../src/internal/telemetry/tracer.ts"
import { type Receiver, receiver, type Request } from "./support/otlp.ts"
import { memoryTracer } from "./support/tracer.ts"
import { runnerAsync, type RuntimeName, waitUntil } from "./support/spawn.ts"

// ---------------------------------------------------------------------------------------------------------------
// A receiver that decodes OTLP/HTTP (the receiver itself: test/support/otlp.ts)
// ---------------------------------------------------------------------------------------------------------------

/** A port nothing listens on. */
const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = http.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

type Attributes = Record<string, unknown>

interface Span {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  readonly start: bigint
  readonly end: bigint
  readonly attributes: Attributes
  readonly events: ReadonlyArray<{ readonly name: string; readonly time: bigint; readonly attributes: Attributes }>
  readonly status: { readonly code: number; readonly message: string | undefined }
}

interface Point {
  readonly metric: string
  readonly unit: string
  readonly attributes: Attributes
  /** A sum's value, or a histogram's count. */
  readonly value: number
}

// Protobuf wire format: just enough to read OTLP's TracesData and MetricsData.
type Fields = Map<number, Array<bigint | Uint8Array>>

const parse = (buf: Uint8Array): Fields => {
  const fields: Fields = new Map()
  let i = 0
  const varint = () => {
    let result = 0n
    let shift = 0n
    while (true) {
      const byte = buf[i++]!
      result |= BigInt(byte & 0x7f) << shift
      if (byte < 0x80) return result
      shift += 7n
    }
  }
  while (i < buf.length) {
    const key = Number(varint())
    const wire = key & 7
    let value: bigint | Uint8Array
    if (wire === 0) value = varint()
    else {
      const length = wire === 1 ? 8 : wire === 5 ? 4 : wire === 2 ? Number(varint()) : -1
      if (length < 0) throw new Error(`unexpected protobuf wire type ${wire}`)
      value = buf.subarray(i, i + length)
      i += length
    }
    const no = key >>> 3
    fields.set(no, [...(fields.get(no) ?? []), value])
  }
  return fields
}

const all = (fields: Fields, no: number): Array<Fields> => (fields.get(no) ?? []).map((v) => parse(v as Uint8Array))
const bytes = (fields: Fields, no: number) => fields.get(no)?.[0] as Uint8Array | undefined
const text = (fields: Fields, no: number) => {
  const b = bytes(fields, no)
  return b === undefined ? undefined : new TextDecoder().decode(b)
}
const hex = (fields: Fields, no: number) => {
  const b = bytes(fields, no)
  return b === undefined || b.length === 0 ? undefined : Buffer.from(b).toString("hex")
}
const fixed64 = (fields: Fields, no: number) => Buffer.from(bytes(fields, no) ?? new Uint8Array(8)).readBigUInt64LE()
const double = (fields: Fields, no: number) => Buffer.from(bytes(fields, no)!).readDoubleLE()
const varintOf = (fields: Fields, no: number) => (fields.get(no)?.[0] as bigint | undefined) ?? 0n

const protoAttributes = (list: Array<Fields>): Attributes =>
  Object.fromEntries(list.map((kv) => {
    const value = all(kv, 2)[0]!
    return [
      text(kv, 1)!,
      value.has(1)
        ? text(value, 1)
        : value.has(2)
        ? varintOf(value, 2) !== 0n
        : value.has(3)
        ? Number(BigInt.asIntN(64, varintOf(value, 3)))
        : value.has(4)
        ? double(value, 4)
        : undefined
    ]
  }))

const jsonAttributes = (list: ReadonlyArray<any> | undefined): Attributes =>
  Object.fromEntries((list ?? []).map((kv: any) => {
    const v = kv.value
    return [kv.key, v.stringValue ?? v.boolValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.doubleValue)]
  }))

const decodeTraces = (request: Request): { resource: Attributes; spans: Array<Span> } => {
  if (request.contentType.includes("json")) {
    const data = JSON.parse(request.body.toString("utf8"))
    const resourceSpans = data.resourceSpans[0]
    return {
      resource: jsonAttributes(resourceSpans.resource.attributes),
      spans: data.resourceSpans.flatMap((rs: any) =>
        rs.scopeSpans.flatMap((ss: any) =>
          ss.spans.map((s: any): Span => ({
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId || undefined,
            name: s.name,
            start: BigInt(s.startTimeUnixNano),
            end: BigInt(s.endTimeUnixNano),
            attributes: jsonAttributes(s.attributes),
            events: s.events.map((e: any) => ({ name: e.name, time: BigInt(e.timeUnixNano), attributes: jsonAttributes(e.attributes) })),
            status: { code: s.status.code ?? 0, message: s.status.message }
          }))
        )
      )
    }
  }
  const data = parse(request.body)
  const resourceSpans = all(data, 1)
  return {
    resource: protoAttributes(all(all(resourceSpans[0]!, 1)[0]!, 1)),
    spans: resourceSpans.flatMap((rs) =>
      all(rs, 2).flatMap((ss) =>
        all(ss, 2).map((s): Span => {
          const status = all(s, 15)[0] ?? new Map()
          return {
            traceId: hex(s, 1)!,
            spanId: hex(s, 2)!,
            parentSpanId: hex(s, 4),
            name: text(s, 5)!,
            start: fixed64(s, 7),
            end: fixed64(s, 8),
            attributes: protoAttributes(all(s, 9)),
            events: all(s, 11).map((e) => ({ name: text(e, 2)!, time: fixed64(e, 1), attributes: protoAttributes(all(e, 3)) })),
            status: { code: Number(varintOf(status, 3)), message: text(status, 2) }
          }
        })
      )
    )
  }
}

const decodeMetrics = (request: Request): Array<Point> => {
  if (request.contentType.includes("json")) {
    const data = JSON.parse(request.body.toString("utf8"))
    return data.resourceMetrics.flatMap((rm: any) =>
      rm.scopeMetrics.flatMap((sm: any) =>
        sm.metrics.flatMap((m: any) =>
          (m.sum?.dataPoints ?? m.histogram?.dataPoints ?? []).map((p: any): Point => ({
            metric: m.name,
            unit: m.unit,
            attributes: jsonAttributes(p.attributes),
            value: Number(p.count ?? p.asInt ?? p.asDouble)
          }))
        )
      )
    )
  }
  return all(parse(request.body), 1).flatMap((rm) =>
    all(rm, 2).flatMap((sm) =>
      all(sm, 2).flatMap((m) => {
        const sum = all(m, 7)[0]
        const histogram = all(m, 9)[0]
        const points = all(sum ?? histogram ?? new Map(), 1)
        return points.map((p): Point => ({
          metric: text(m, 1)!,
          unit: text(m, 3) ?? "",
          attributes: protoAttributes(all(p, sum !== undefined ? 7 : 9)),
          value: sum !== undefined
            ? (p.has(4) ? double(p, 4) : Number(BigInt.asIntN(64, fixed64(p, 6))))
            : Number(fixed64(p, 4))
        }))
      })
    )
  )
}

const spansOf = (r: Receiver) => r.requests.filter((q) => q.path === "/v1/traces").flatMap((q) => decodeTraces(q).spans)

/** The last metrics export (cumulative: it holds everything). */
const metricsOf = (r: Receiver) => {
  const last = r.requests.filter((q) => q.path === "/v1/metrics").at(-1)
  return last === undefined ? [] : decodeMetrics(last)
}

const point = (points: ReadonlyArray<Point>, metric: string, attributes: Attributes) =>
  points.find((p) => p.metric === metric && Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))?.value

const byName = (spans: ReadonlyArray<Span>, name: string, parent?: Span): Span => {
  const found = spans.filter((s) => s.name === name && (parent === undefined || s.parentSpanId === parent.spanId))
  assert.strictEqual(found.length, 1, `one span "${name}"${parent ? ` under "${parent.name}"` : ""}: ${spans.map((s) => s.name)}`)
  return found[0]!
}

const within = (child: Span, parent: Span) => {
  assert.isTrue(child.start >= parent.start && child.end <= parent.end, `"${child.name}" lies within "${parent.name}"`)
}

/** Every runner this file starts, so that a failed test leaves none behind. */
const children = new Set<ChildProcess>()
afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  children.clear()
})

const start = (args: ReadonlyArray<string>, env: Record<string, string>, runtime: RuntimeName = "node") => {
  const child = runnerAsync(args, env, runtime)
  children.add(child.process)
  return child
}

/** OTLP status of a span that ended without error: Unset (0), as the OpenTelemetry spec asks (Effect >= 4.1.5). */
const STATUS_UNSET = 0

const fixture = (name: string) => path.join("test/fixtures", `${name}.ts`)

/** Runs the CLI; a watchdog kills it after 25 s, so "exited by itself" is part of the result. */
const run = async (args: ReadonlyArray<string>, env: Record<string, string>, runtime: RuntimeName = "node") => {
  const child = start(args, env, runtime)
  let killed = false
  const watchdog = setTimeout(() => {
    killed = true
    child.process.kill("SIGKILL")
  }, 25_000)
  const result = await child.done
  clearTimeout(watchdog)
  return { ...result, killed }
}

const base = ["--journal", "none", "--log-format", "plain"]

// ---------------------------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------------------------

describe("Telemetry.settings", () => {
  it.effect("no endpoint (unset or empty), or OTEL_SDK_DISABLED=true: no telemetry, no observer", () =>
    Effect.gen(function*() {
      assert.isUndefined(yield* Telemetry.settings({}))
      assert.isUndefined(yield* Telemetry.settings({ OTEL_EXPORTER_OTLP_ENDPOINT: "" }))
      assert.isUndefined(yield* Telemetry.settings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }))
      assert.isUndefined(yield* Telemetry.settings({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
        OTEL_TRACES_EXPORTER: "none",
        OTEL_METRICS_EXPORTER: "none"
      }))
      assert.deepStrictEqual(yield* Effect.scoped(Telemetry.observers({})), [])
    }))

  it.effect("which signals are on, the protocol, and the defaults Effect's own configuration lacks", () =>
    Effect.gen(function*() {
      // What Effect's layerFromConfig reads (the resource here) comes from the settings' provider.
      const resource = (provider: ConfigProvider.ConfigProvider) =>
        Effect.map(
          Effect.provideService(OtlpResource.fromConfig(), ConfigProvider.ConfigProvider, provider),
          (r) => Object.fromEntries(r.attributes.map((a) => [a.key, a.value.stringValue]))
        )
      const s = (yield* Telemetry.settings({ OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector:4318/otlp/" }, "1.2.3"))!
      assert.deepInclude(s, { traces: true, metrics: true, protocol: "http/protobuf" })
      // The specification's defaults: service.name effect-runner, the runner's version (Effect has neither).
      assert.deepInclude(yield* resource(s.provider), { "service.name": "effect-runner", "service.version": "1.2.3" })
      const own = (yield* Telemetry.settings({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://traces:9999/custom",
        OTEL_METRICS_EXPORTER: "none",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_SERVICE_NAME: "batch",
        OTEL_RESOURCE_ATTRIBUTES: "service.name=ignored,deployment.environment=prod,team=data%20eng"
      }))!
      assert.deepInclude(own, { traces: true, metrics: false, protocol: "http/json" })
      assert.deepInclude(yield* resource(own.provider), { "service.name": "batch", team: "data eng", "deployment.environment": "prod" })
      // service.name in OTEL_RESOURCE_ATTRIBUTES is not overridden by the default.
      const named = (yield* Telemetry.settings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_RESOURCE_ATTRIBUTES: "service.name=etl" }))!
      assert.strictEqual((yield* resource(named.provider))["service.name"], "etl")
    }))

  it.effect("a malformed header is refused before anything runs, naming the variable and not its value", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.exit(Effect.scoped(Telemetry.make({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9",
        OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%zzsecret-value"
      })))
      assert.isTrue(Exit.isFailure(bad))
      const message = String(Exit.isFailure(bad) ? bad.cause : "")
      assert.include(message, "InvalidOption")
      assert.include(message, "OTEL_EXPORTER_OTLP_HEADERS")
      assert.notInclude(message, "secret-value")
    }))

  it.effect("what cannot work is refused before anything runs: gRPC, a URL without http(s), a bad number", () =>
    Effect.gen(function*() {
      for (const env of [
        { OTEL_EXPORTER_OTLP_ENDPOINT: "localhost:4317" },
        { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" },
        { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TIMEOUT: "5s" },
        { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "zipkin" }
      ]) {
        const exit = yield* Effect.exit(Telemetry.settings(env))
        assert.isTrue(Exit.isFailure(exit), JSON.stringify(env))
      }
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// The real CLI
// ---------------------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------------------
// The tracer wrapper
// ---------------------------------------------------------------------------------------------------------------


describe("the tracer wrapper", () => {
  it.effect("every span is handed over masked when it ends (attributes, nested values, events, errors, names); what is open at close ends interrupted", () =>
    Effect.gen(function*() {
      const memory = memoryTracer()
      const wrapped = new WrappedTracer(memory.tracer, () => Secrets.make(["hunter22"]).maskDeep)
      const user = Effect.fail(new Error("login hunter22 refused")).pipe(
        Effect.withSpan("user hunter22", { attributes: { header: "Bearer hunter22", nested: { list: ["hunter22"] } } })
      )
      const attempt = Effect.exit(user).pipe(Effect.withSpan("attempt 1", { attributes: { "runner.job.id": "a", "runner.attempt": 1 } }))
      yield* attempt.pipe(Effect.withSpan("job a"), Effect.withTracer(wrapped.tracer))

      assert.deepStrictEqual(memory.handed().map((s) => s.name).sort(), ["attempt 1", "job a", "user ***"])
      const handed = memory.handed().find((s) => s.name === "user ***")!
      assert.strictEqual(handed.attributes.get("header"), "Bearer ***")
      assert.deepStrictEqual(handed.attributes.get("nested"), { list: ["***"] })
      assert.include(String(handed.status._tag === "Ended" && Exit.isFailure(handed.status.exit) ? Cause.pretty(handed.status.exit.cause) : ""), "login *** refused")

      // A span nobody ended (its fiber never finished: the process is closing) is ended by endAll, interrupted.
      const open = wrapped.tracer.span({
        name: "left open",
        parent: Option.none(),
        annotations: Context.empty(),
        links: [],
        startTime: 1n,
        kind: "internal",
        root: true,
        sampled: true
      })
      open.event("note", 2n, { secret: "hunter22" })
      assert.strictEqual(wrapped.open.size, 1)
      wrapped.endAll(5n)
      const closed = memory.handed().find((s) => s.name === "left open")!
      assert.isTrue(closed.status._tag === "Ended" && closed.status.endTime === 5n && Exit.isFailure(closed.status.exit))
      assert.strictEqual(wrapped.open.size, 0)
    }))
})

describe("runner with OTEL_EXPORTER_OTLP_ENDPOINT", () => {
  it("a run is one trace: run span at the root, job spans under it, attempt spans under their job; retries, errors and metrics arrive", async () => {
    const r = await receiver()
    const result = await run([fixture("telemetry-run"), ...base, "--failure-mode", "continue"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: r.url,
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20s3cr3t-t0ken",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test,team=data%20eng"
    })
    await r.close()
    assert.strictEqual(result.status, 1, result.stdout + result.stderr)
    assert.match(result.stdout, /critical job "broken" failed/)
    // The default protocol is protobuf; the credentials reach the collector and nowhere else.
    assert.isTrue(r.requests.length > 0 && r.requests.every((q) => q.contentType === "application/x-protobuf"))
    assert.isTrue(r.requests.every((q) => q.headers.authorization === "Bearer s3cr3t-t0ken"))
    assert.notInclude(result.stdout + result.stderr, "s3cr3t")

    const traces = decodeTraces(r.requests.find((q) => q.path === "/v1/traces")!)
    assert.deepInclude(traces.resource, { "service.name": "effect-runner", "deployment.environment": "test", team: "data eng" })
    const spans = spansOf(r)
    assert.strictEqual(new Set(spans.map((s) => s.traceId)).size, 1, "one trace id")
    const roots = spans.filter((s) => s.parentSpanId === undefined)
    assert.deepStrictEqual(roots.map((s) => s.name), ["run telemetry"])
    const runSpan = roots[0]!
    assert.deepInclude(runSpan.attributes, { "runner.dag": "telemetry", "runner.run.status": "failed", "runner.run.trigger": "cli" })
    assert.match(String(runSpan.attributes["runner.run.id"]), /^\d{8}-\d{6}-/)
    assert.strictEqual(runSpan.status.code, 2)
    assert.include(runSpan.status.message, "broken")

    const jobs = Object.fromEntries(["flaky", "publish", "broken", "report"].map((id) => [id, byName(spans, `job ${id}`, runSpan)]))
    for (const job of Object.values(jobs)) within(job, runSpan)
    assert.strictEqual(spans.length, 1 + 4 + 4, "run + 4 jobs + 4 attempts (flaky 2, publish 1, broken 1)")

    // flaky: attempt 1 failed, a retry event with its delay, attempt 2 succeeded.
    const flaky1 = byName(spans, "attempt 1", jobs.flaky)
    const flaky2 = byName(spans, "attempt 2", jobs.flaky)
    for (const attempt of [flaky1, flaky2]) within(attempt, jobs.flaky!)
    assert.isTrue(flaky1.end <= flaky2.start)
    assert.strictEqual(flaky1.status.code, 2)
    assert.strictEqual(flaky1.status.message, "Flaky: first try fails")
    assert.strictEqual(flaky2.status.code, STATUS_UNSET)
    const retries = jobs.flaky!.events.filter((e) => e.name === "retry")
    assert.strictEqual(retries.length, 1)
    assert.deepInclude(retries[0]!.attributes, { "runner.attempt": 1, "runner.retry.delay_ms": 20, "runner.retry.next_attempt": 2 })
    assert.deepInclude(jobs.flaky!.attributes, { "runner.job.status": "succeeded", "runner.job.attempts": 2 })
    assert.strictEqual(jobs.flaky!.status.code, STATUS_UNSET)

    // broken: its only attempt and the job carry the error; the exception event has the error's tag.
    const broken1 = byName(spans, "attempt 1", jobs.broken)
    assert.strictEqual(broken1.status.code, 2)
    assert.strictEqual(broken1.status.message, "Broken: disk full")
    assert.deepInclude(broken1.events.find((e) => e.name === "exception")!.attributes, { "exception.type": "Broken" })
    assert.strictEqual(jobs.broken!.status.code, 2)
    assert.strictEqual(jobs.broken!.attributes["runner.job.status"], "failed")

    // publish ran after flaky; report was skipped (no attempt) with the reason.
    assert.isTrue(jobs.publish!.start >= jobs.flaky!.end)
    assert.strictEqual(byName(spans, "attempt 1", jobs.publish).status.code, STATUS_UNSET)
    assert.deepInclude(jobs.report!.attributes, { "runner.job.status": "skipped", "runner.job.skip_reason": `needs "broken", which failed` })
    assert.isFalse(spans.some((s) => s.parentSpanId === jobs.report!.spanId))

    const points = metricsOf(r)
    assert.strictEqual(point(points, "runner.runs", { "runner.dag": "telemetry", "runner.status": "failed" }), 1)
    assert.strictEqual(point(points, "runner.run.duration", { "runner.dag": "telemetry", "runner.status": "failed" }), 1)
    assert.strictEqual(points.find((p) => p.metric === "runner.run.duration")?.unit, "s")
    const attempts = (job: string, outcome: string) =>
      point(points, "runner.job.attempts", { "runner.dag": "telemetry", "runner.job.id": job, "runner.outcome": outcome })
    assert.deepStrictEqual(
      [attempts("flaky", "retried"), attempts("flaky", "succeeded"), attempts("broken", "failed"), attempts("publish", "succeeded")],
      [1, 1, 1, 1]
    )
    assert.strictEqual(point(points, "runner.jobs", { "runner.job.id": "report", "runner.status": "skipped" }), 1)
    assert.strictEqual(point(points, "runner.job.duration", { "runner.job.id": "flaky", "runner.status": "succeeded" }), 1)
    assert.isUndefined(point(points, "runner.job.duration", { "runner.job.id": "report" }), "a skipped job did not run")
  })

  it("SIGINT: the interrupted run's trace is still sent before the process exits 130", async () => {
    const r = await receiver()
    const ready = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "runner-otel-")), "ready")
    const child = start([fixture("telemetry-sleep"), ...base], { OTEL_EXPORTER_OTLP_ENDPOINT: r.url, READY_FILE: ready })
    await waitUntil(() => fs.existsSync(ready))
    child.process.kill("SIGINT")
    const result = await child.done
    await r.close()
    assert.strictEqual(result.status, 130, result.stdout + result.stderr)
    const spans = spansOf(r)
    const runSpan = byName(spans, "run telemetry-sleep")
    assert.isUndefined(runSpan.parentSpanId)
    assert.deepInclude(runSpan.attributes, { "runner.run.status": "interrupted", "effect.fiber.interrupted": true })
    assert.strictEqual(byName(spans, "job quick", runSpan).attributes["runner.job.status"], "succeeded")
    const hang = byName(spans, "job hang", runSpan)
    assert.strictEqual(hang.attributes["runner.job.status"], "interrupted")
    assert.strictEqual(byName(spans, "attempt 1", hang).attributes["effect.fiber.interrupted"], true)
    assert.strictEqual(point(metricsOf(r), "runner.runs", { "runner.status": "interrupted" }), 1)
  })

  it("runner schedule: one trace per run, each with its slot key and the schedule trigger", async () => {
    const r = await receiver()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-otel-schedule-"))
    const child = start(["schedule", fixture("telemetry-schedule"), "--journal", path.join(dir, "journal.db")], {
      OTEL_EXPORTER_OTLP_ENDPOINT: r.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "100"
    })
    // Spans arrive while the daemon runs (every 100 ms), not only when it stops.
    await waitUntil(() => spansOf(r).filter((s) => s.parentSpanId === undefined).length >= 2)
    child.process.kill("SIGTERM")
    const result = await child.done
    await r.close()
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    const spans = spansOf(r)
    const roots = spans.filter((s) => s.parentSpanId === undefined)
    assert.strictEqual(new Set(roots.map((s) => s.traceId)).size, roots.length, "one trace per run")
    assert.strictEqual(new Set(roots.map((s) => s.attributes["runner.run.key"])).size, roots.length, "a key per slot")
    for (const root of roots) {
      assert.deepInclude(root.attributes, { "runner.dag": "telemetry-schedule", "runner.run.trigger": "schedule" })
      const children = spans.filter((s) => s.traceId === root.traceId && s.parentSpanId !== undefined)
      assert.deepStrictEqual(children.map((s) => s.name).sort(), ["attempt 1", "job tick"])
    }
  })

  it("unset: nothing is sent, the run is the same", async () => {
    const r = await receiver()
    const env = { ...process.env }
    assert.isUndefined(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "precondition: the test's environment sets no endpoint")
    const result = await run([fixture("telemetry-run"), ...base, "--failure-mode", "continue"], {})
    await r.close()
    assert.strictEqual(result.status, 1)
    assert.match(result.stdout, /critical job "broken" failed/)
    assert.notInclude(result.stdout + result.stderr, "OpenTelemetry")
    assert.strictEqual(r.requests.length, 0)
  })

  it("a dead endpoint or one that never answers: same exit code, a warning, and the process still exits by itself", async () => {
    const port = await closedPort()
    const silent = http.createServer(() => {}) // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()))
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`
    const [dead, hanging] = await Promise.all([
      run([fixture("telemetry-run"), ...base, "--failure-mode", "continue"], {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20s3cr3t"
      }),
      // OTEL_EXPORTER_OTLP_TIMEOUT bounds the wait at exit (default 3 s).
      run([fixture("telemetry-run"), ...base, "--failure-mode", "continue"], {
        OTEL_EXPORTER_OTLP_ENDPOINT: silentUrl,
        OTEL_EXPORTER_OTLP_TIMEOUT: "1000"
      })
    ])
    silent.closeAllConnections()
    silent.close()
    for (const result of [dead, hanging]) {
      assert.isFalse(result.killed, "exited by itself")
      assert.strictEqual(result.status, 1, result.stdout + result.stderr)
      assert.match(result.stdout, /critical job "broken" failed/)
    }
    assert.include(dead.stdout, `OpenTelemetry: cannot export to http://127.0.0.1:${port}/v1/traces`)
    assert.notInclude(dead.stdout + dead.stderr, "s3cr3t")
  })

  it("Bun (JSON) and Deno (protobuf) send the trace of a successful run", async () => {
    const smoke = async (runtime: RuntimeName, protocol: string) => {
      const r = await receiver()
      const result = await run([fixture("telemetry-run"), "publish", ...base], {
        OTEL_EXPORTER_OTLP_ENDPOINT: r.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol
      }, runtime)
      await r.close()
      assert.strictEqual(result.status, 0, `${runtime}: ${result.stdout}${result.stderr}`)
      const traces = r.requests.filter((q) => q.path === "/v1/traces")
      assert.isTrue(traces.length > 0 && traces.every((q) => q.contentType.includes(protocol === "http/json" ? "json" : "protobuf")))
      assert.strictEqual(decodeTraces(traces[0]!).resource["process.runtime.name"], runtime)
      const spans = spansOf(r)
      const runSpan = byName(spans, "run telemetry")
      assert.strictEqual(runSpan.status.code, STATUS_UNSET)
      const flaky = byName(spans, "job flaky", runSpan)
      byName(spans, "attempt 2", flaky)
      byName(spans, "attempt 1", byName(spans, "job publish", runSpan))
      assert.strictEqual(new Set(spans.map((s) => s.traceId)).size, 1)
      assert.strictEqual(point(metricsOf(r), "runner.runs", { "runner.status": "succeeded" }), 1)
    }
    await Promise.all([smoke("bun", "http/json"), smoke("deno", "http/protobuf")])
  })
})

