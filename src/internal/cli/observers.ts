/**
 * The operations flags shared by `runner <file>` and `runner schedule`: metrics (textfile, Pushgateway), notifications
 * (webhook, Slack, command) and OpenTelemetry (from OTEL_EXPORTER_OTLP_ENDPOINT). They become the run's Observers;
 * OpenTelemetry also provides the runs' Tracer.
 */
import * as Flag from "effect/cli/Flag"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import type { InvalidOption } from "../../Errors.ts"
import type * as Journal from "../Journal.ts"
import * as Observer from "../Observer.ts"

export const flags = {
  metricsFile: Flag.String("metrics-file").pipe(
    Flag.withDescription(
      "after every run, write Prometheus metrics to PATH (atomically) for node_exporter's textfile collector"
    ),
    Flag.optional
  ),
  pushgateway: Flag.String("pushgateway").pipe(
    Flag.withDescription("after every run, push the same metrics to this Prometheus Pushgateway URL, grouped by dag"),
    Flag.optional
  ),
  notifyUrl: Flag.String("notify-url").pipe(
    Flag.withDescription("POST the run summary (JSON, see README) to this URL when a run fails (or always, with --notify always)"),
    Flag.optional
  ),
  notifyFormat: Flag.Literals("notify-format", ["json", "slack"]).pipe(
    Flag.withDescription("json (default): the run summary; slack: a Slack-compatible incoming-webhook message"),
    Flag.withDefault("json" as const)
  ),
  notify: Flag.Literals("notify", ["failure", "always"]).pipe(
    Flag.withDescription("when --notify-url / --notify-command fire: failure (default: failed or interrupted runs) or always"),
    Flag.withDefault("failure" as const)
  ),
  notifyCommand: Flag.String("notify-command").pipe(
    Flag.withDescription("run this command (split into words like a shell would, but no shell) with the run summary JSON on stdin"),
    Flag.optional
  )
}

export interface Input {
  readonly metricsFile: Option.Option<string>
  readonly pushgateway: Option.Option<string>
  readonly notifyUrl: Option.Option<string>
  readonly notifyFormat: "json" | "slack"
  readonly notify: "failure" | "always"
  readonly notifyCommand: Option.Option<string>
}

/**
 * The observers the flags (and the environment) ask for, and the tracer OpenTelemetry exports with. Bad flag values
 * fail here, before anything runs.
 */
export const layer = (
  input: Input
): Layer.Layer<never, InvalidOption, Journal.Journal | ChildProcessSpawner.ChildProcessSpawner> =>
  Layer.effectContext(Effect.gen(function*() {
    // Each observer's module (and what it pulls in: HTTP, OTLP, ...) is loaded only when asked for: a plain run
    // starts without them.
    const observers: Array<Observer.Observer> = []
    let context = Context.empty()
    const metricsFile = Option.getOrUndefined(input.metricsFile)
    const pushgateway = Option.getOrUndefined(input.pushgateway)
    if (metricsFile !== undefined || pushgateway !== undefined) {
      const [Metrics, Http] = yield* Effect.promise(() => Promise.all([import("../Metrics.ts"), import("../http.ts")]))
      observers.push(...yield* Metrics.observers({ file: metricsFile, pushgateway }).pipe(Effect.provide(Http.layer)))
    }
    const url = Option.getOrUndefined(input.notifyUrl)
    const command = Option.getOrUndefined(input.notifyCommand)
    if (url !== undefined || command !== undefined || process.env["RUNNER_NOTIFY_URL"]) {
      const [Notify, Http] = yield* Effect.promise(() => Promise.all([import("../notify/Notify.ts"), import("../http.ts")]))
      const options = { url, format: input.notifyFormat, when: input.notify, command }
      observers.push(...yield* Notify.observers(options).pipe(Effect.provide(Http.layer)))
    }
    if (Object.entries(process.env).some(([name, value]) => name.startsWith("OTEL_") && value !== "")) {
      const Telemetry = yield* Effect.promise(() => import("../telemetry/Telemetry.ts"))
      const telemetry = yield* Telemetry.make(process.env)
      observers.push(...telemetry.observers)
      context = telemetry.context
    }
    return Context.add(context, Observer.Observers, observers)
  }))
