/**
 * Effect's OTLP exporters, built from the OTEL_* configuration by `OtlpTracer.layerFromConfig` and
 * `OtlpMetrics.layerFromConfig`, each in a scope of its own: closing them side by side flushes what is buffered, and a
 * dead endpoint then costs one shutdown timeout (OTEL_EXPORTER_OTLP_TIMEOUT, else 3 s), not two. Their HTTP client
 * bounds each request and tells the operator once per outage that telemetry is being lost.
 */
import * as Clock from "effect/Clock"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Headers from "effect/http/Headers"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as OtlpMetrics from "effect/observability/OtlpMetrics"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { InvalidOption } from "../../Errors.ts"
import { Reporter } from "../reporter/Reporter.ts"
import * as UrlSecrets from "../urlSecrets.ts"
import type { Settings } from "./settings.ts"

export interface Exporters {
  /** Effect's OTLP tracer; undefined when traces are off. */
  readonly tracer: Tracer.Tracer | undefined
  /** The registry the metrics exporter reads; undefined when metrics are off. */
  readonly registry: Metric.MetricRegistry | undefined
  /** Flushes both exporters side by side, each bounded by its shutdown timeout. */
  readonly close: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
}

export const make = (settings: Settings): Effect.Effect<Exporters, InvalidOption, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const tracesScope = yield* Scope.fork(scope)
    const metricsScope = yield* Scope.fork(scope)
    const http = yield* Layer.build(FetchHttpClient.layer)
    const client = exportClient(Context.get(http, HttpClient.HttpClient), settings.exportTimeout, yield* warner)
    const registry: Metric.MetricRegistry = new Map()
    const build = <A>(layer: Layer.Layer<A, never, HttpClient.HttpClient | OtlpSerialization.OtlpSerialization>, into: Scope.Scope) =>
      Layer.buildWithScope(layer, into).pipe(
        Effect.provideService(HttpClient.HttpClient, client),
        Effect.provide(settings.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf),
        Effect.provideService(ConfigProvider.ConfigProvider, settings.provider),
        Effect.provideService(Metric.MetricRegistry, registry),
        Effect.provideService(Headers.CurrentRedactedNames, [...Headers.CurrentRedactedNames.defaultValue(), ...settings.headerNames]),
        // Effect turns a configuration error into a defect: here it is the operator's error, before anything runs.
        Effect.catchDefect((defect) => Effect.fail(configError(defect)))
      )
    const resource = { attributes: { ...settings.attributes } }
    const traces = settings.traces ? yield* build(OtlpTracer.layerFromConfig({ resource }), tracesScope) : undefined
    const tracer = traces === undefined ? undefined : Context.get(traces, Tracer.Tracer)
    if (settings.metrics) yield* build(OtlpMetrics.layerFromConfig({ resource }), metricsScope)
    return {
      tracer: tracer === Tracer.nativeTracer ? undefined : tracer,
      registry: settings.metrics ? registry : undefined,
      close: (exit) =>
        Effect.all([Scope.close(tracesScope, exit), Scope.close(metricsScope, exit)], { concurrency: "unbounded", discard: true })
    }
  })

/** A configuration error as the operator reads it: the variable, and what was expected (never the value). */
const configError = (defect: unknown): InvalidOption => {
  const text = (typeof defect === "object" && defect !== null && "message" in defect ? String(defect.message) : String(defect))
    .replace(/\n\s*at /g, " at ").replace(/\n\s*/g, "; ").replace(/^SchemaError\((.*)\)$/s, "$1").trim()
  const variable = /at \["(OTEL_[A-Z_]+)"\]/.exec(text)?.[1]
  return new InvalidOption({
    where: variable ?? "OpenTelemetry settings",
    reason: variable === undefined ? text : text.replace(/ at \["OTEL_[A-Z_]+"\]/g, "").replace(/\["([^"]*)"\]/g, ' (entry "$1")')
  })
}

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
    HttpClient.tapError((error) =>
      warn(
        describe(error.request.url),
        error.reason._tag === "TransportError" ? error.reason.description ?? "the endpoint cannot be reached" : error.reason._tag
      )
    )
  )
}

/** The URL without credentials or query (they may hold secrets); its path, an OTLP route, is shown. */
const describe = (href: string): string => URL.canParse(href) ? UrlSecrets.show(new URL(href), "path") : "the OTLP endpoint"
