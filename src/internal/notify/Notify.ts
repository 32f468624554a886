/**
 * Notifications of how runs ended: `--notify-url` POSTs the run summary (Body.ts, or a Slack message: Slack.ts)
 * through the runner's HTTP stack (src/internal/http.ts), and `--notify-command` runs a command with the same JSON on
 * stdin (Command.ts). Both retry a few times with backoff, log every failure with the URL's secret part masked, and
 * never change how a run ends. `user:password@` in the URL is sent as basic auth, as `--pushgateway` does.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import { InvalidOption } from "../../Errors.ts"
import type * as Delivery from "../delivery.ts"
import * as Http from "../http.ts"
import type * as Observer from "../Observer.ts"
import type * as RunEvent from "../RunEvent.ts"
import * as Body from "./Body.ts"
import * as Command from "./Command.ts"
import * as Slack from "./Slack.ts"

export interface Options {
  /** `--notify-url URL`. Default: none. */
  readonly url: string | undefined
  /** `--notify-format`: the body POSTed to the URL. Default (CLI): "json". */
  readonly format: "json" | "slack"
  /** `--notify`: "failure" fires for failed and interrupted runs, "always" for every run. Default (CLI): "failure". */
  readonly when: "failure" | "always"
  /** `--notify-command CMD`. Default: none. */
  readonly command: string | undefined
}

/**
 * The observers the options ask for; a bad URL or command fails here, before anything runs (exit code 2). They send
 * with the `HttpClient` and spawn with the `ChildProcessSpawner` of the context they are made in.
 */
export const observers = (
  options: Options
): Effect.Effect<
  ReadonlyArray<Observer.Observer>,
  InvalidOption,
  ChildProcessSpawner.ChildProcessSpawner | HttpClient.HttpClient
> =>
  Effect.gen(function*() {
    const list: Array<Observer.Observer> = []
    const fires = (status: RunEvent.RunStatus) => options.when === "always" || status !== "succeeded"
    // The environment keeps a webhook's token out of `ps` and crontab lines.
    const fromEnv = process.env["RUNNER_NOTIFY_URL"]
    const url = options.url ?? (fromEnv === "" ? undefined : fromEnv)
    if (url !== undefined) {
      const target = yield* parseUrl(url, options.url === undefined ? "RUNNER_NOTIFY_URL" : "--notify-url")
      list.push(yield* webhook(target, options.format, fires))
    }
    if (options.command !== undefined) list.push(yield* Command.observer(yield* Command.parse(options.command), fires))
    return list
  })

/** 4 attempts, 0.5 s, 1 s then 2 s apart, 10 s for each; a `Retry-After` up to 10 s is waited for. */
export const webhookPolicy: Delivery.Policy = {
  attempts: 4,
  timeout: Duration.seconds(10),
  delay: (retry) => Duration.millis(500 * 2 ** (retry - 1)),
  maxRetryAfter: Duration.seconds(10)
}

/**
 * Checks `--notify-url`: an absolute http(s) URL. The message never repeats the URL's path or credentials; what logs
 * show of it is its origin (`https://hooks.slack.com/***`).
 */
export const parseUrl = (input: string, where = "--notify-url"): Effect.Effect<Http.Target, InvalidOption> =>
  Effect.suspend(() => {
    if (!URL.canParse(input)) {
      return Effect.fail(new InvalidOption({ where, reason: "is not a valid absolute URL (http://... or https://...)" }))
    }
    const url = new URL(input)
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return Effect.fail(new InvalidOption({ where, reason: `must be an http or https URL, got ${url.protocol.slice(0, 20)}` }))
    }
    return Effect.succeed(Http.target(url))
  })

/** The body of a notification in `format`. */
export const message = (summary: Observer.Summary, format: Options["format"]): Http.Message => ({
  method: "POST",
  contentType: "application/json",
  body: format === "slack" ? JSON.stringify(Slack.toSlack(summary)) : Body.encode(summary)
})

/** The `--notify-url` observer, sending with the context's `HttpClient`. */
const webhook = (
  target: Http.Target,
  format: Options["format"],
  fires: (status: RunEvent.RunStatus) => boolean
): Effect.Effect<Observer.Observer, never, HttpClient.HttpClient> =>
  Effect.map(Effect.context<HttpClient.HttpClient>(), (services) => {
    const name = `notify-url (${target.shown})`
    return {
      name,
      onFinish: (summary) =>
        fires(summary.status)
          ? Http.send(name, webhookPolicy, target, message(summary, format)).pipe(Effect.provideContext(services))
          : Effect.void
    }
  })
