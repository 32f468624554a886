/**
 * The OpenTelemetry settings. Effect's `OtlpTracer.layerFromConfig` and `OtlpMetrics.layerFromConfig` read most
 * OTEL_* variables themselves: OTEL_SDK_DISABLED, OTEL_{TRACES,METRICS}_EXPORTER, OTEL_EXPORTER_OTLP[_SIGNAL]_ENDPOINT,
 * _HEADERS, _COMPRESSION and _TIMEOUT (as the bound of the flush at exit), OTEL_BSP_SCHEDULE_DELAY,
 * OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_METRIC_EXPORT_INTERVAL, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
 * OTEL_SERVICE_NAME, OTEL_SERVICE_VERSION and OTEL_RESOURCE_ATTRIBUTES.
 *
 * This module keeps only what Effect 4.1.5 lacks:
 * - OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf (the specification's default) or http/json; gRPC is refused.
 * - The specification's defaults: OTEL_{TRACES,METRICS}_EXPORTER default to `otlp` (Effect exports only when they are
 *   set), service.name to `effect-runner` (Effect dies without OTEL_SERVICE_NAME), service.version to the runner's.
 * - An empty variable is unset (the specification says so; Effect would reject an empty OTEL_EXPORTER_OTLP_HEADERS).
 * - A bound on each export request: OTEL_EXPORTER_OTLP_TIMEOUT, default 10 s (Effect bounds only the flush at exit).
 * - Checks before anything runs: endpoints are http(s) URLs, exporters are `otlp` or `none`, and Effect's own
 *   configuration errors (defects there) become `InvalidOption` naming the variable, never its value.
 * - The runner's resource attributes: process.runtime.name/version and host.name (OTEL_RESOURCE_ATTRIBUTES wins).
 */
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as os from "node:os"
import { InvalidOption } from "../../Errors.ts"
import * as Runtime from "../runtime/Runtime.ts"
import * as versions from "../versions.ts"

export type Env = Readonly<Record<string, string | undefined>>

export interface Settings {
  /** Whether spans are exported (an endpoint, and OTEL_TRACES_EXPORTER is otlp, its default). */
  readonly traces: boolean
  /** Whether metrics are exported (an endpoint, and OTEL_METRICS_EXPORTER is otlp, its default). */
  readonly metrics: boolean
  /** OTEL_EXPORTER_OTLP_PROTOCOL. Default: http/protobuf. */
  readonly protocol: "http/protobuf" | "http/json"
  /** OTEL_EXPORTER_OTLP_TIMEOUT: the limit of one export request. Default: 10 s. */
  readonly exportTimeout: Duration.Duration
  /** What Effect's `layerFromConfig` constructors read: the environment with the defaults above filled in. */
  readonly provider: ConfigProvider.ConfigProvider
  /** The runner's resource attributes, beside those Effect reads from OTEL_RESOURCE_ATTRIBUTES. */
  readonly attributes: Readonly<Record<string, string>>
  /** The names of the headers sent to the collector: they may hold credentials, and are redacted wherever logged. */
  readonly headerNames: ReadonlyArray<string>
}

/** The settings, or undefined when nothing is exported (no endpoint, OTEL_SDK_DISABLED=true, both exporters none). */
export const settings = (env: Env, serviceVersion: string = versions.runner): Effect.Effect<Settings | undefined, InvalidOption> =>
  Effect.gen(function*() {
    const given = nonEmpty(env)
    const provider = ConfigProvider.fromEnv({ env: { ...defaults(given, serviceVersion), ...given } })
    const read = <A>(name: string, config: Config.Config<A>, reason: string) =>
      Effect.mapError(config.parse(provider), () => new InvalidOption({ where: name, reason }))
    if (yield* read("OTEL_SDK_DISABLED", Config.Boolean("OTEL_SDK_DISABLED").pipe(Config.withDefault(false)), "must be true or false")) {
      return undefined
    }
    const endpoint = (name: string) =>
      Effect.gen(function*() {
        const value = given[name]
        if (value === undefined) return false
        const url = URL.canParse(value) ? new URL(value) : undefined
        if (url?.protocol === "http:" || url?.protocol === "https:") return true
        return yield* new InvalidOption({ where: name, reason: "must be an http:// or https:// URL (OTLP/HTTP; gRPC is not supported)" })
      })
    const base = yield* endpoint("OTEL_EXPORTER_OTLP_ENDPOINT")
    const enabled = (signal: "TRACES" | "METRICS") =>
      Effect.gen(function*() {
        const name = `OTEL_${signal}_EXPORTER`
        const exporters = (given[name] ?? "otlp").split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "")
        const unknown = exporters.find((e) => e !== "otlp" && e !== "none")
        if (unknown !== undefined) {
          return yield* new InvalidOption({ where: name, reason: `only "otlp" or "none" are supported, got "${unknown}"` })
        }
        const own = yield* endpoint(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`)
        return exporters.includes("otlp") && (own || base)
      })
    const traces = yield* enabled("TRACES")
    const metrics = yield* enabled("METRICS")
    if (!traces && !metrics) return undefined
    const protocol = yield* read(
      "OTEL_EXPORTER_OTLP_PROTOCOL",
      Config.Literals(["http/protobuf", "http/json"], "OTEL_EXPORTER_OTLP_PROTOCOL").pipe(Config.withDefault("http/protobuf" as const)),
      `must be http/protobuf or http/json (gRPC is not supported), got "${given["OTEL_EXPORTER_OTLP_PROTOCOL"]}"`
    )
    const timeout = yield* read(
      "OTEL_EXPORTER_OTLP_TIMEOUT",
      Config.option(Config.Int("OTEL_EXPORTER_OTLP_TIMEOUT")),
      `must be a whole number of milliseconds, got "${given["OTEL_EXPORTER_OTLP_TIMEOUT"]}"`
    )
    const runtime: Record<string, string> = {
      "process.runtime.name": Runtime.name,
      "process.runtime.version": Runtime.version.replace(/^\S+ /, ""),
      "host.name": os.hostname()
    }
    return {
      traces,
      metrics,
      protocol,
      exportTimeout: timeout._tag === "Some" ? Duration.millis(timeout.value) : Duration.seconds(10),
      provider,
      attributes: Object.fromEntries(Object.entries(runtime).filter(([key]) => !hasResourceKey(given, key))),
      headerNames: ["", "TRACES_", "METRICS_"].flatMap((signal) =>
        (given[`OTEL_EXPORTER_OTLP_${signal}HEADERS`] ?? "").split(",").map((entry) => entry.split("=")[0]!.trim().toLowerCase())
          .filter((name) => name !== "")
      )
    } satisfies Settings
  })

/** The variables with a value: the specification treats an empty one as unset. */
const nonEmpty = (env: Env): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith("OTEL_") && value !== undefined && value.trim() !== "") out[name] = value.trim()
  }
  return out
}

/** The specification's defaults Effect does not apply, each only where the user said nothing. */
const defaults = (env: Record<string, string>, serviceVersion: string): Record<string, string> => ({
  OTEL_TRACES_EXPORTER: "otlp",
  OTEL_METRICS_EXPORTER: "otlp",
  ...(hasResourceKey(env, "service.name") ? {} : { OTEL_SERVICE_NAME: "effect-runner" }),
  ...(hasResourceKey(env, "service.version") ? {} : { OTEL_SERVICE_VERSION: serviceVersion })
})

/** Whether OTEL_RESOURCE_ATTRIBUTES sets this key (Effect parses the values; only the key matters here). */
const hasResourceKey = (env: Env, key: string): boolean =>
  (env["OTEL_RESOURCE_ATTRIBUTES"] ?? "").split(",").some((entry) => entry.split("=")[0]!.trim() === key)
