/**
 * OpenTelemetry for runs: when OTEL_EXPORTER_OTLP_ENDPOINT is set, every run becomes one trace (a run span, a span per
 * job, a span per attempt, retries as events) and run/job metrics are exported, both over OTLP/HTTP with Effect's own
 * exporters. The trace is built from the run's events and their timestamps, so the executor holds no tracing code.
 */
import * as Clock from "effect/Clock"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Headers from "effect/http/Headers"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as OtlpExporter from "effect/observability/OtlpExporter"
import * as OtlpMetrics from "effect/observability/OtlpMetrics"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import * as os from "node:os"
import { InvalidOption } from "../Errors.ts"
import * as render from "./render.ts"
import * as UrlSecrets from "./urlSecrets.ts"
import * as versions from "./versions.ts"
import type * as Observer from "./Observer.ts"
import { Reporter } from "./reporter/Reporter.ts"
import type * as RunEvent from "./RunEvent.ts"
import * as Runtime from "./runtime/Runtime.ts"

/** Where one signal goes. The headers may hold credentials: they are sent, never logged. */
export interface Target {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
}

/** What the OTEL_* environment asks for. */
export interface Settings {
  /** Default: `$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces`; undefined when traces are off. */
  readonly traces: Target | undefined
  /** Default: `$OTEL_EXPORTER_OTLP_ENDPOINT/v1/metrics`; undefined when metrics are off. */
  readonly metrics: Target | undefined
  /** OTEL_EXPORTER_OTLP_PROTOCOL. Default: http/protobuf (as the specification says). */
  readonly protocol: "http/protobuf" | "http/json"
  /** OTEL_EXPORTER_OTLP_COMPRESSION. Default: none. */
  readonly compression: "gzip" | "none"
  /** OTEL_EXPORTER_OTLP_TIMEOUT: the limit of one export. Default: 10 s. */
  readonly exportTimeout: Duration.Duration
  /** How long closing waits for the last export. OTEL_EXPORTER_OTLP_TIMEOUT if set, else 3 s. */
  readonly shutdownTimeout: Duration.Duration
  /** OTEL_BSP_SCHEDULE_DELAY: how often ended spans are sent. Default: 5 s. */
  readonly traceInterval: Duration.Duration
  /** OTEL_METRIC_EXPORT_INTERVAL: how often metrics are sent (and once more at the end). Default: 60 s. */
  readonly metricInterval: Duration.Duration
  /** OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE. Default: cumulative. */
  readonly temporality: "cumulative" | "delta"
  readonly resource: {
    /** OTEL_SERVICE_NAME, else `service.name` of OTEL_RESOURCE_ATTRIBUTES. Default: effect-runner. */
    readonly serviceName: string
    readonly serviceVersion: string
    readonly attributes: Readonly<Record<string, string>>
  }
}

type Env = Readonly<Record<string, string | undefined>>

/** The exporters' settings from OTEL_* variables, or undefined when no endpoint is set (or OTEL_SDK_DISABLED=true). */
export const settings = (env: Env, serviceVersion: string = versions.runner): Effect.Effect<Settings | undefined, InvalidOption> =>
  Effect.gen(function*() {
    // The specification treats an empty variable as unset.
    const get = (name: string) => {
      const value = env[name]?.trim()
      return value === undefined || value === "" ? undefined : value
    }
    if (get("OTEL_SDK_DISABLED")?.toLowerCase() === "true") return undefined
    const base = get("OTEL_EXPORTER_OTLP_ENDPOINT")
    const target = (signal: "traces" | "metrics") =>
      Effect.gen(function*() {
        const SIGNAL = signal.toUpperCase()
        const exporter = get(`OTEL_${SIGNAL}_EXPORTER`)?.toLowerCase() ?? "otlp"
        if (exporter === "none") return undefined
        if (exporter !== "otlp") {
          return yield* new InvalidOption({ where: `OTEL_${SIGNAL}_EXPORTER`, reason: `only "otlp" or "none" are supported, got "${exporter}"` })
        }
        const own = get(`OTEL_EXPORTER_OTLP_${SIGNAL}_ENDPOINT`)
        const url = own !== undefined
          ? yield* httpUrl(`OTEL_EXPORTER_OTLP_${SIGNAL}_ENDPOINT`, own)
          : base !== undefined
          ? signalUrl(yield* httpUrl("OTEL_EXPORTER_OTLP_ENDPOINT", base), signal)
          : undefined
        if (url === undefined) return undefined
        const headers = {
          ...yield* pairs("OTEL_EXPORTER_OTLP_HEADERS", get("OTEL_EXPORTER_OTLP_HEADERS")),
          ...yield* pairs(`OTEL_EXPORTER_OTLP_${SIGNAL}_HEADERS`, get(`OTEL_EXPORTER_OTLP_${SIGNAL}_HEADERS`))
        }
        return { url: url.href, headers }
      })
    const traces = yield* target("traces")
    const metrics = yield* target("metrics")
    if (traces === undefined && metrics === undefined) return undefined
    const timeout = yield* millis("OTEL_EXPORTER_OTLP_TIMEOUT", get("OTEL_EXPORTER_OTLP_TIMEOUT"))
    const attributes = yield* pairs("OTEL_RESOURCE_ATTRIBUTES", get("OTEL_RESOURCE_ATTRIBUTES"))
    const { "service.name": attributeName, "service.version": attributeVersion, ...rest } = attributes
    return {
      traces,
      metrics,
      protocol: yield* oneOf("OTEL_EXPORTER_OTLP_PROTOCOL", get("OTEL_EXPORTER_OTLP_PROTOCOL"), ["http/protobuf", "http/json"]),
      compression: yield* oneOf("OTEL_EXPORTER_OTLP_COMPRESSION", get("OTEL_EXPORTER_OTLP_COMPRESSION"), ["none", "gzip"]),
      exportTimeout: timeout ?? Duration.seconds(10),
      shutdownTimeout: timeout ?? Duration.seconds(3),
      traceInterval: (yield* millis("OTEL_BSP_SCHEDULE_DELAY", get("OTEL_BSP_SCHEDULE_DELAY"))) ?? Duration.seconds(5),
      metricInterval: (yield* millis("OTEL_METRIC_EXPORT_INTERVAL", get("OTEL_METRIC_EXPORT_INTERVAL"))) ??
        Duration.seconds(60),
      temporality: yield* oneOf(
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE")?.toLowerCase(),
        ["cumulative", "delta"]
      ),
      resource: {
        serviceName: get("OTEL_SERVICE_NAME") ?? attributeName ?? "effect-runner",
        serviceVersion: attributeVersion ?? serviceVersion,
        attributes: {
          "process.runtime.name": Runtime.name,
          "process.runtime.version": Runtime.version.replace(/^\S+ /, ""),
          "host.name": os.hostname(),
          ...rest
        }
      }
    } satisfies Settings
  })

const httpUrl = (where: string, value: string): Effect.Effect<URL, InvalidOption> => {
  const url = URL.canParse(value) ? new URL(value) : undefined
  return url !== undefined && (url.protocol === "http:" || url.protocol === "https:")
    ? Effect.succeed(url)
    : Effect.fail(new InvalidOption({ where, reason: "must be an http:// or https:// URL (OTLP/HTTP; gRPC is not supported)" }))
}

const signalUrl = (base: URL, signal: "traces" | "metrics"): URL => {
  const url = new URL(base.href)
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/${signal}`
  return url
}

/** `key=value,key=value` with percent-encoded values. Errors name the entry, never its value (it may be a secret). */
const pairs = (where: string, value: string | undefined): Effect.Effect<Record<string, string>, InvalidOption> =>
  Effect.gen(function*() {
    const out: Record<string, string> = {}
    if (value === undefined) return out
    const entries = value.split(",")
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!
      if (entry.trim() === "") continue
      const eq = entry.indexOf("=")
      const key = eq < 0 ? "" : entry.slice(0, eq).trim()
      const decoded = eq < 0 ? undefined : decode(entry.slice(eq + 1).trim())
      if (key === "" || decoded === undefined) {
        return yield* new InvalidOption({ where, reason: `entry ${i + 1} is not key=value with a percent-encoded value` })
      }
      out[key] = decoded
    }
    return out
  })

const decode = (value: string): string | undefined => {
  try {
    return decodeURIComponent(value)
  } catch {
    return undefined
  }
}

const millis = (where: string, value: string | undefined): Effect.Effect<Duration.Duration | undefined, InvalidOption> =>
  value === undefined
    ? Effect.succeed(undefined)
    : /^\d+$/.test(value)
    ? Effect.succeed(Duration.millis(Number(value)))
    : Effect.fail(new InvalidOption({ where, reason: `must be a whole number of milliseconds, got "${value}"` }))

const oneOf = <const A extends string>(
  where: string,
  value: string | undefined,
  choices: readonly [A, ...ReadonlyArray<A>]
): Effect.Effect<A, InvalidOption> =>
  value === undefined
    ? Effect.succeed(choices[0])
    : (choices as ReadonlyArray<string>).includes(value)
    ? Effect.succeed(value as A)
    : Effect.fail(new InvalidOption({ where, reason: `must be ${choices.join(" or ")}, got "${value}"` }))

/** The exporter lives in the scope: closing it flushes what is buffered (bounded by the shutdown timeout). */
export const observers = (env: Env): Effect.Effect<ReadonlyArray<Observer.Observer>, InvalidOption, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* settings(env)
    if (config === undefined) return []
    return [yield* make(config)]
  })

/** An observer exporting the runs it sees to the endpoints of `config`. */
export const make = (config: Settings): Effect.Effect<Observer.Observer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    // One scope per exporter, closed side by side: a dead endpoint then costs one shutdown timeout, not two.
    const tracesScope = yield* Scope.fork(scope)
    const metricsScope = yield* Scope.fork(scope)
    const services = yield* Layer.build(Layer.mergeAll(
      FetchHttpClient.layer,
      OtlpExporter.layerFlusher,
      config.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf
    ))
    const secretNames = [...Object.keys(config.traces?.headers ?? {}), ...Object.keys(config.metrics?.headers ?? {})]
    const client = exportClient(Context.get(services, HttpClient.HttpClient), config.exportTimeout, yield* warner)
    const registry: Metric.MetricRegistry = new Map()
    const resource = { ...config.resource, attributes: { ...config.resource.attributes } }
    const exporting = <A>(
      effect: Effect.Effect<A, never, HttpClient.HttpClient | OtlpExporter.Flusher | OtlpSerialization.OtlpSerialization | Scope.Scope>,
      scope: Scope.Scope
    ): Effect.Effect<A> =>
      effect.pipe(
        Effect.provideContext(Context.add(services, HttpClient.HttpClient, client)),
        Effect.provideService(Scope.Scope, scope),
        Effect.provideService(Metric.MetricRegistry, registry),
        // The resource comes from `config` only: Effect would otherwise read OTEL_* from the process again.
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: {} })),
        Effect.provideService(Headers.CurrentRedactedNames, [...Headers.CurrentRedactedNames.defaultValue(), ...secretNames])
      )
    const tracer = config.traces === undefined ? undefined : yield* exporting(
      OtlpTracer.make({
        url: config.traces.url,
        headers: config.traces.headers,
        resource,
        compression: config.compression,
        exportInterval: config.traceInterval,
        shutdownTimeout: config.shutdownTimeout
      }),
      tracesScope
    )
    if (config.metrics !== undefined) {
      yield* exporting(
        OtlpMetrics.make({
          url: config.metrics.url,
          headers: config.metrics.headers,
          resource,
          compression: config.compression,
          exportInterval: config.metricInterval,
          shutdownTimeout: config.shutdownTimeout,
          temporality: config.temporality
        }),
        metricsScope
      )
    }
    const traces = tracer === undefined ? undefined : new Traces(tracer)
    const record = recorder()
    // Added after the exporters' scopes, so it runs first: open spans end, then both exporters flush at once.
    yield* Effect.addFinalizer((exit) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        traces?.endAll(now)
        yield* Effect.all([Scope.close(tracesScope, exit), Scope.close(metricsScope, exit)], {
          concurrency: "unbounded",
          discard: true
        })
      })
    )
    return {
      name: "OpenTelemetry",
      onEvent: (event) =>
        Effect.suspend(() => {
          traces?.onEvent(event)
          return config.metrics === undefined ? Effect.void : Effect.provideService(record(event), Metric.MetricRegistry, registry)
        }),
      onFinish: (summary) => Effect.sync(() => traces?.onFinish(summary))
    } satisfies Observer.Observer
  })

/**
 * Where export problems are told: the Reporter when there is one (so `--log-format json` stays JSON lines), else
 * stderr. Not the default logger: the exporters' fibers would print to stdout.
 */
const warner = Effect.map(Effect.serviceOption(Reporter), (reporter) => (message: string) =>
  Effect.flatMap(Clock.currentTimeMillis, (at) =>
    Effect.sync(() =>
      Option.isSome(reporter)
        ? reporter.value.log({ at, level: "warn", message, jobId: undefined, attempt: undefined })
        : process.stderr.write(`runner: ${message}\n`)
    )))

/** The HTTP client of the exporters: each request is bounded, and a failing endpoint is reported once per outage. */
const exportClient = (
  client: HttpClient.HttpClient,
  timeout: Duration.Duration,
  tell: (message: string) => Effect.Effect<void>
): HttpClient.HttpClient => {
  const failing = new Set<string>()
  const warn = (where: string, why: string) => {
    if (failing.has(where)) return Effect.void
    failing.add(where)
    return tell(`OpenTelemetry: cannot export to ${where} (${why}); runs are unaffected, telemetry may be lost`)
  }
  return client.pipe(
    HttpClient.transform((response, request) =>
      Effect.timeoutOrElse(response, {
        duration: timeout,
        orElse: () =>
          Effect.fail(
            new HttpClientError.HttpClientError({
              reason: new HttpClientError.TransportError({ request, description: `no answer in ${Duration.format(timeout)}` })
            })
          )
      })
    ),
    HttpClient.tap((response) => {
      const where = describe(response.request.url)
      if (response.status >= 200 && response.status < 300) {
        return failing.delete(where) ? tell(`OpenTelemetry: ${where} accepts exports again`) : Effect.void
      }
      return warn(where, `status ${response.status}`)
    }),
    HttpClient.tapError((error) => warn(describe(error.request.url), error.reason._tag === "TransportError"
      ? error.reason.description ?? "the endpoint cannot be reached"
      : error.reason._tag))
  )
}

/** The URL without credentials or query (they may hold secrets); its path, an OTLP route, is shown. */
const describe = (href: string): string => URL.canParse(href) ? UrlSecrets.show(new URL(href), "path") : "the OTLP endpoint"

// ---------------------------------------------------------------------------------------------------------------
// Traces
// ---------------------------------------------------------------------------------------------------------------

const nanos = (millis: number): bigint => BigInt(Math.round(millis)) * 1_000_000n

/**
 * A failure as the exported span shows it: the error's tag as its type, the first line of the event's (masked) text
 * as its message, the rest (a defect's stack) as its stack. Never the Cause itself: its values are not masked.
 */
const failure = (name: string, text: string): Exit.Exit<never, unknown> => {
  const [message = "", ...rest] = text.split("\n")
  return Exit.fail(rest.length === 0 ? { name, message } : { name, message, stack: [`${name}: ${message}`, ...rest].join("\n") })
}

interface RunTrace {
  readonly runId: string
  readonly span: Tracer.Span
  readonly jobs: Map<string, Tracer.Span>
  /** The attempt in progress of each job. */
  readonly attempts: Map<string, Tracer.Span>
  finished: RunEvent.RunFinished | undefined
}

/** Spans of the runs in progress, keyed by run id (the daemon may run several at once). */
class Traces {
  readonly runs = new Map<string, RunTrace>()
  readonly tracer: Tracer.Tracer
  constructor(tracer: Tracer.Tracer) {
    this.tracer = tracer
  }

  span(name: string, parent: Tracer.Span | undefined, at: number, attributes: Record<string, unknown>): Tracer.Span {
    const span = this.tracer.span({
      name,
      parent: parent === undefined ? Option.none() : Option.some(parent),
      annotations: Context.empty(),
      links: [],
      startTime: nanos(at),
      kind: "internal",
      root: parent === undefined,
      sampled: true
    })
    for (const [key, value] of Object.entries(attributes)) span.attribute(key, value)
    return span
  }

  /** A job's span starts with its first attempt (or when it is skipped or restored). */
  job(run: RunTrace, jobId: string, at: number): Tracer.Span {
    let span = run.jobs.get(jobId)
    if (span === undefined) {
      span = this.span(`job ${jobId}`, run.span, at, { "runner.job.id": jobId })
      run.jobs.set(jobId, span)
    }
    return span
  }

  endJob(run: RunTrace, jobId: string, at: number, status: RunEvent.JobStatus, exit: Exit.Exit<unknown, unknown>): void {
    const span = this.job(run, jobId, at)
    span.attribute("runner.job.status", status)
    span.end(nanos(at), exit)
  }

  endAttempt(run: RunTrace, jobId: string, at: number, exit: Exit.Exit<unknown, unknown>): void {
    run.attempts.get(jobId)?.end(nanos(at), exit)
    run.attempts.delete(jobId)
  }

  onEvent(event: RunEvent.RunEvent): void {
    if (event._tag === "RunStarted") {
      const span = this.span(`run ${event.dag}`, undefined, event.at, {
        "runner.dag": event.dag,
        "runner.run.id": event.runId,
        "runner.run.resumed": event.resumed,
        "runner.run.jobs": event.jobIds.length,
        "runner.run.concurrency": event.concurrency,
        "runner.run.failure_mode": event.failureMode
      })
      this.runs.set(event.runId, { runId: event.runId, span, jobs: new Map(), attempts: new Map(), finished: undefined })
      return
    }
    const run = this.runs.get(event.runId)
    if (run === undefined) return
    switch (event._tag) {
      case "AttemptStarted": {
        const job = this.job(run, event.jobId, event.at)
        job.attribute("runner.job.attempts", event.attempt)
        const attempt = this.span(`attempt ${event.attempt}`, job, event.at, {
          "runner.job.id": event.jobId,
          "runner.attempt": event.attempt
        })
        run.attempts.set(event.jobId, attempt)
        return
      }
      case "AttemptFailed": {
        const exit = failure(render.causeTag(event.cause), event.error)
        this.endAttempt(run, event.jobId, event.at, exit)
        if (event.retryInMillis === undefined) return this.endJob(run, event.jobId, event.at, "failed", exit)
        this.job(run, event.jobId, event.at).event("retry", nanos(event.at), {
          "runner.attempt": event.attempt,
          "runner.retry.delay_ms": event.retryInMillis,
          "runner.retry.next_attempt": event.attempt + 1,
          "error.message": event.error
        })
        return
      }
      case "AttemptSucceeded":
        this.endAttempt(run, event.jobId, event.at, Exit.void)
        return this.endJob(run, event.jobId, event.at, "succeeded", Exit.void)
      case "JobInterrupted":
        this.endAttempt(run, event.jobId, event.at, Exit.interrupt())
        return this.endJob(run, event.jobId, event.at, "interrupted", Exit.interrupt())
      case "JobSkipped":
        this.job(run, event.jobId, event.at).attribute("runner.job.skip_reason", event.reason)
        return this.endJob(run, event.jobId, event.at, "skipped", Exit.void)
      case "JobRestored":
        return this.endJob(run, event.jobId, event.at, "restored", Exit.void)
      case "RunFinished": {
        run.finished = event
        // A job still open here (interrupted while its success was being committed) ends with the run.
        for (const jobId of [...run.attempts.keys()]) this.endAttempt(run, jobId, event.at, Exit.interrupt())
        for (const [jobId, span] of run.jobs) {
          if (span.status._tag === "Started") this.endJob(run, jobId, event.at, "interrupted", Exit.interrupt())
        }
        run.span.attribute("runner.run.status", event.status)
        run.span.attribute("runner.run.duration_ms", event.durationMillis)
        return
      }
    }
  }

  /** The run span ends with the summary, which adds what the events lack: the run key and the trigger. */
  onFinish(summary: Observer.Summary): void {
    const run = this.runs.get(summary.runId)
    if (run === undefined) return
    run.span.attribute("runner.run.trigger", summary.trigger)
    if (summary.key !== undefined) run.span.attribute("runner.run.key", summary.key)
    this.endRun(run, summary.finishedAt, summary.status, summary.failed.filter((f) => f.critical).map((f) => f.jobId))
  }

  endRun(run: RunTrace, at: number, status: RunEvent.RunStatus, failed: ReadonlyArray<string>): void {
    this.runs.delete(run.runId)
    run.span.end(
      nanos(at),
      status === "succeeded"
        ? Exit.void
        : status === "interrupted"
        ? Exit.interrupt()
        : failure("RunFailed", `critical job${failed.length === 1 ? "" : "s"} failed: ${failed.join(", ")}`)
    )
  }

  /** When the exporter closes, whatever is still open ends (as interrupted if its run never said how it ended). */
  endAll(now: number): void {
    for (const run of [...this.runs.values()]) {
      if (run.finished === undefined) {
        this.onEvent({ _tag: "RunFinished", runId: run.runId, dag: "", at: now, status: "interrupted", durationMillis: 0, jobs: [] })
      }
      const { at, jobs, status } = run.finished!
      this.endRun(run, at, status, jobs.filter((job) => job.critical && job.status === "failed").map((job) => job.jobId))
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------------------------

/** Seconds, from 5 ms to a day: batch jobs span both. */
const secondsBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400]

/** The metrics this module exports (names as the collector receives them). */
export const metrics = {
  runs: Metric.counter("runner.runs", { description: "Runs that ended, by dag and status", incremental: true }),
  runDuration: Metric.histogram("runner.run.duration", {
    description: "How long runs took, by dag and status",
    boundaries: secondsBoundaries,
    attributes: { unit: "seconds" }
  }),
  jobs: Metric.counter("runner.jobs", { description: "Jobs of ended runs, by dag, job and status", incremental: true }),
  jobDuration: Metric.histogram("runner.job.duration", {
    description: "How long jobs took, retries included, by dag, job and status (jobs that ran)",
    boundaries: secondsBoundaries,
    attributes: { unit: "seconds" }
  }),
  attempts: Metric.counter("runner.job.attempts", {
    description: "Job attempts that ended, by dag, job and outcome (succeeded, failed, retried, interrupted)",
    incremental: true
  })
}

/** Feeds the metrics from one observer's events. */
const recorder = () => {
  // Attempt events name their run, not its dag.
  const dags = new Map<string, string>()
  // Attempts in progress: a job interrupted while waiting for its retry has no attempt to count.
  const running = new Set<string>()
  const attempt = (event: { readonly runId: string; readonly jobId: string }, outcome: string) =>
    !running.delete(`${event.runId}\u0000${event.jobId}`) ? Effect.void : Metric.update(
      Metric.withAttributes(metrics.attempts, {
        "runner.dag": dags.get(event.runId) ?? "",
        "runner.job.id": event.jobId,
        "runner.outcome": outcome
      }),
      1
    )
  return (event: RunEvent.RunEvent): Effect.Effect<void> => {
    switch (event._tag) {
      case "RunStarted":
        dags.set(event.runId, event.dag)
        return Effect.void
      case "AttemptStarted":
        running.add(`${event.runId}\u0000${event.jobId}`)
        return Effect.void
      case "AttemptFailed":
        return attempt(event, event.retryInMillis === undefined ? "failed" : "retried")
      case "AttemptSucceeded":
        return attempt(event, "succeeded")
      case "JobInterrupted":
        return attempt(event, "interrupted")
      case "RunFinished": {
        dags.delete(event.runId)
        for (const key of running) if (key.startsWith(`${event.runId}\u0000`)) running.delete(key)
        const run = { "runner.dag": event.dag, "runner.status": event.status }
        return Effect.all([
          Metric.update(Metric.withAttributes(metrics.runs, run), 1),
          Metric.update(Metric.withAttributes(metrics.runDuration, run), event.durationMillis / 1000),
          ...event.jobs.flatMap((job) => {
            const attributes = { "runner.dag": event.dag, "runner.job.id": job.jobId, "runner.status": job.status }
            return [
              Metric.update(Metric.withAttributes(metrics.jobs, attributes), 1),
              ...(job.attempts > 0
                ? [Metric.update(Metric.withAttributes(metrics.jobDuration, attributes), job.durationMillis / 1000)]
                : [])
            ]
          })
        ], { discard: true })
      }
      default:
        return Effect.void
    }
  }
}
