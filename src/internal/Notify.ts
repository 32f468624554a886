/**
 * Notifications of how runs ended: `--notify-url` POSTs the run summary (a versioned JSON body, or a Slack message)
 * and `--notify-command` runs a command (argv, no shell) with the same JSON on stdin. Both retry a few times with
 * backoff (never a request that cannot be built), log every failure with the URL's secret part masked, and never change
 * how a run ends. `user:password@` in the URL is sent as basic auth, as `--pushgateway` does.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as ChildProcess from "effect/process/ChildProcess"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as CommandLine from "effect/process/CommandLine"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as os from "node:os"
import { InvalidOption } from "../Errors.ts"
import * as BasicAuth from "./basicAuth.ts"
import type * as Observer from "./Observer.ts"
import type * as RunEvent from "./RunEvent.ts"

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

/** The observers the options ask for; a bad URL or command fails here, before anything runs (exit code 2). */
export const observers = (
  options: Options
): Effect.Effect<ReadonlyArray<Observer.Observer>, InvalidOption, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function*() {
    const list: Array<Observer.Observer> = []
    // The environment keeps a webhook's token out of `ps` and crontab lines.
    const fromEnv = process.env["RUNNER_NOTIFY_URL"]
    const url = options.url ?? (fromEnv === "" ? undefined : fromEnv)
    if (url !== undefined) {
      list.push(webhook(yield* parseUrl(url, options.url === undefined ? "RUNNER_NOTIFY_URL" : "--notify-url"), options))
    }
    if (options.command !== undefined) list.push(yield* command(yield* parseCommand(options.command), options))
    return list
  })

// -----------------------------------------------------------------------------
// The JSON body (documented in the README; change it only with a new `version`)
// -----------------------------------------------------------------------------

/** The `--notify-url` JSON body and `--notify-command` stdin, version 1. Absent values are `null`, never missing. */
export interface Body {
  readonly version: 1
  readonly runId: string
  readonly dag: string
  readonly key: string | null
  readonly status: RunEvent.RunStatus
  readonly trigger: string
  readonly resumed: boolean
  /** ISO 8601, UTC. */
  readonly startedAt: string
  readonly finishedAt: string
  readonly durationMillis: number
  readonly host: string
  /** The failed or interrupted jobs, with their errors (secrets masked, at most 4,000 characters each). */
  readonly failed: ReadonlyArray<{ readonly jobId: string; readonly critical: boolean; readonly error: string }>
  /** Every job of the run, in plan order. `detail`: why it failed or was skipped. */
  readonly jobs: ReadonlyArray<{
    readonly jobId: string
    readonly status: RunEvent.JobStatus
    readonly critical: boolean
    readonly attempts: number
    readonly durationMillis: number
    readonly detail: string | null
  }>
}

const ERROR_CHARS = 4000

/** The JSON body for a run summary. */
export const toBody = (summary: Observer.Summary, host: string = os.hostname()): Body => ({
  version: 1,
  runId: summary.runId,
  dag: summary.dag,
  key: summary.key ?? null,
  status: summary.status,
  trigger: summary.trigger,
  resumed: summary.resumed,
  startedAt: new Date(summary.startedAt).toISOString(),
  finishedAt: new Date(summary.finishedAt).toISOString(),
  durationMillis: summary.durationMillis,
  host,
  failed: summary.failed.map((f) => ({ jobId: f.jobId, critical: f.critical, error: truncate(f.error, ERROR_CHARS) })),
  jobs: summary.jobs.map((job) => ({
    jobId: job.jobId,
    status: job.status,
    critical: job.critical,
    attempts: job.attempts,
    durationMillis: job.durationMillis,
    detail: job.detail === undefined ? null : truncate(job.detail, ERROR_CHARS)
  }))
})

// -----------------------------------------------------------------------------
// Slack
// -----------------------------------------------------------------------------

/** A Slack incoming-webhook message: `text` (the notification and the fallback of other receivers) and blocks. */
export interface SlackMessage {
  readonly text: string
  readonly blocks: ReadonlyArray<Record<string, unknown>>
}

// Slack's limits: 150 characters in a header, 3,000 in a section, 50 blocks; errors are kept far shorter.
const SLACK_ERROR_CHARS = 500
const SLACK_FAILED_SHOWN = 10

const icons: Record<RunEvent.RunStatus, string> = {
  succeeded: ":white_check_mark:",
  failed: ":x:",
  interrupted: ":warning:"
}

/** The Slack message for a run summary. */
export const toSlack = (summary: Observer.Summary, host: string = os.hostname()): SlackMessage => {
  const duration = Duration.format(Duration.millis(summary.durationMillis))
  const key = summary.key === undefined ? "" : `, key ${summary.key}`
  const failedIds = summary.failed.map((f) => f.jobId)
  const text = `${icons[summary.status]} ${summary.dag} ${summary.status}${key} (run ${summary.runId}, ${duration})` +
    (failedIds.length === 0 ? "" : `; failed: ${failedIds.join(", ")}`)
  const fields = [
    ["Status", summary.status],
    ["Key", summary.key ?? "none"],
    ["Run", summary.runId],
    ["Duration", duration],
    ["Host", host],
    ["Trigger", summary.resumed ? `${summary.trigger} (resumed)` : summary.trigger]
  ].map(([name, value]) => ({ type: "mrkdwn", text: `*${name}*\n${slackText(value!, 1000)}` }))
  const failedBlocks = summary.failed.slice(0, SLACK_FAILED_SHOWN).map((f) => ({
    type: "section",
    text: {
      type: "mrkdwn",
      text: `*${slackText(f.jobId, 200)}*${f.critical ? "" : " (non-critical)"}\n` +
        "```" + slackText(f.error.replaceAll("```", "'''"), SLACK_ERROR_CHARS) + "```"
    }
  }))
  const more = summary.failed.length - SLACK_FAILED_SHOWN
  return {
    text: slackText(text, 3000),
    blocks: [
      {
        type: "header",
        text: { type: "plain_text", emoji: true, text: truncate(`${icons[summary.status]} ${summary.dag} ${summary.status}`, 150) }
      },
      { type: "section", fields },
      ...failedBlocks,
      ...(more > 0 ? [{ type: "section", text: { type: "mrkdwn", text: `… and ${more} more failed jobs` } }] : []),
      {
        type: "context",
        elements: [{
          type: "mrkdwn",
          text: `started ${new Date(summary.startedAt).toISOString()}, finished ${new Date(summary.finishedAt).toISOString()}`
        }]
      }
    ]
  }
}

// Slack reads &, < and > as markup (links, mentions); everything else is shown as written. Escaped, then cut to
// `max` characters without splitting an entity.
const slackText = (text: string, max: number) => {
  const escaped = text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
  return escaped.length <= max ? escaped : escaped.slice(0, max - TRUNCATED.length).replace(/&[a-z]*$/, "") + TRUNCATED
}

const TRUNCATED = "… (truncated)"
const truncate = (text: string, max: number) =>
  text.length <= max ? text : text.slice(0, max - TRUNCATED.length) + TRUNCATED

// -----------------------------------------------------------------------------
// Delivery: attempts, timeouts, backoff
// -----------------------------------------------------------------------------

/** How hard a notification tries. */
export interface Policy {
  /** Attempts in all. Default: 4. */
  readonly attempts: number
  /** The limit of one attempt (a POST, or a run of the command). */
  readonly timeout: Duration.Duration
  /** The wait before retry n (1-based). Default: 0.5 s, 1 s, 2 s. */
  readonly delay: (retry: number) => Duration.Duration
  /** A 429's `Retry-After` is obeyed up to this. Default: 10 s. */
  readonly maxRetryAfter: Duration.Duration
}

const backoff = (retry: number) => Duration.millis(500 * 2 ** (retry - 1))

export const webhookPolicy: Policy = {
  attempts: 4,
  timeout: Duration.seconds(10),
  delay: backoff,
  maxRetryAfter: Duration.seconds(10)
}

export const commandPolicy: Policy = { ...webhookPolicy, timeout: Duration.seconds(30) }

/** One attempt went wrong; `retryable` is false when trying again would fail the same way (a 4xx other than 429). */
export class AttemptFailed extends Data.TaggedError("AttemptFailed")<{
  readonly reason: string
  readonly retryable: boolean
  readonly retryAfter?: Duration.Duration | undefined
}> {
  override get message(): string {
    return this.reason
  }
}

/** Every attempt of a notification failed (the last reason is kept). Logged; the run's outcome is unchanged. */
export class NotificationFailed extends Data.TaggedError("NotificationFailed")<{
  readonly name: string
  readonly attempts: number
  readonly reason: string
}> {
  override get message(): string {
    return `gave up after ${this.attempts} attempt${this.attempts === 1 ? "" : "s"}: ${this.reason}`
  }
}

/** Runs `attempt` until it succeeds, fails for good, or the attempts are spent; logs each failure and the wait. */
export const deliver = (
  name: string,
  policy: Policy,
  attempt: Effect.Effect<void, AttemptFailed>
): Effect.Effect<void, NotificationFailed> =>
  Effect.gen(function*() {
    for (let n = 1;; n++) {
      const timed = Effect.timeoutOrElse(attempt, {
        duration: policy.timeout,
        orElse: () =>
          Effect.fail(new AttemptFailed({ reason: `no answer within ${Duration.format(policy.timeout)}`, retryable: true }))
      })
      const result = yield* Effect.result(timed)
      if (Result.isSuccess(result)) {
        if (n > 1) yield* Effect.logInfo(`${name}: delivered on attempt ${n}`)
        return
      }
      const failure = result.failure
      if (!failure.retryable || n >= policy.attempts) {
        return yield* new NotificationFailed({ name, attempts: n, reason: failure.reason })
      }
      const wait = failure.retryAfter === undefined
        ? policy.delay(n)
        : Duration.min(failure.retryAfter, policy.maxRetryAfter)
      yield* Effect.logWarning(
        `${name}: attempt ${n} of ${policy.attempts} failed: ${failure.reason}; retrying in ${Duration.format(wait)}`
      )
      yield* Effect.sleep(wait)
    }
  })

/** Whether a run's end is notified. */
const fires = (when: Options["when"], status: RunEvent.RunStatus) => when === "always" || status !== "succeeded"

// -----------------------------------------------------------------------------
// --notify-url
// -----------------------------------------------------------------------------

/** A webhook URL, with the form that may be shown: its origin, the rest (which often holds a token) masked. */
export interface Target {
  /** The URL without credentials (fetch refuses URLs that carry them). */
  readonly url: Redacted.Redacted<URL>
  readonly shown: string
  /** `Basic ...`, made from the `user:password@` the URL was given with. Default: none. */
  readonly authorization?: Redacted.Redacted<string> | undefined
}

/** `https://hooks.slack.com/services/T0/B0/secret?x=1` is shown as `https://hooks.slack.com/***`. */
export const showUrl = (url: URL): string =>
  url.pathname === "/" && url.search === "" && url.hash === "" ? url.origin : `${url.origin}/***`

/** Checks `--notify-url`: an absolute http(s) URL. The message never repeats the URL's path or credentials. */
export const parseUrl = (input: string, where = "--notify-url"): Effect.Effect<Target, InvalidOption> =>
  Effect.suspend(() => {
    if (!URL.canParse(input)) {
      return Effect.fail(new InvalidOption({ where, reason: "is not a valid absolute URL (http://... or https://...)" }))
    }
    const url = new URL(input)
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return Effect.fail(new InvalidOption({ where, reason: `must be an http or https URL, got ${url.protocol.slice(0, 20)}` }))
    }
    const { authorization, url: bare } = BasicAuth.fromUrl(url)
    return Effect.succeed({
      url: Redacted.make(bare),
      shown: showUrl(bare),
      authorization: authorization === undefined ? undefined : Redacted.make(authorization)
    })
  })

/** Fetch, as the global one; tests pass their own. */
export type Fetch = (input: URL, init: RequestInit) => Promise<Response>

/**
 * One POST of `body`; a network error, a timeout, a 5xx or a 429 is retryable, another non-2xx is not, and neither is a
 * request that cannot be built (the same URL and headers would fail the same way on every attempt).
 */
export const post = (target: Target, body: string, fetch: Fetch = globalThis.fetch): Effect.Effect<void, AttemptFailed> => {
  const url = Redacted.value(target.url)
  const authorization = target.authorization === undefined ? undefined : Redacted.value(target.authorization)
  // Some runtimes put the whole URL in their network errors (Deno does): mask every form of it.
  const secrets = [
    [url.href, target.shown],
    [url.pathname + url.search, "/***"],
    [url.username, "***"],
    [url.password, "***"],
    [authorization ?? "", "Basic ***"]
  ].filter(([secret]) => secret!.length > 1)
  const mask = (text: string) => secrets.reduce((masked, [secret, shown]) => masked.split(secret!).join(shown), text)
  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "effect-runner" }
  if (authorization !== undefined) headers["authorization"] = authorization
  return Effect.gen(function*() {
    yield* Effect.try({
      try: () => new Request(url, { method: "POST", headers, body }),
      catch: (error) => new AttemptFailed({ reason: `cannot build the request: ${mask(describe(error))}`, retryable: false })
    })
    const response = yield* Effect.tryPromise({
      try: (signal) =>
        fetch(url, { method: "POST", headers, body, signal })
          .then((response) => response.text().then((text) => ({ response, text }), () => ({ response, text: "" }))),
      catch: (error) => new AttemptFailed({ reason: mask(describe(error)), retryable: true })
    })
    const { status } = response.response
    if (status >= 200 && status < 300) return
    const excerpt = response.text.trim() === "" ? "" : `: ${truncate(mask(response.text.trim()).replace(/\s+/g, " "), 200)}`
    return yield* new AttemptFailed({
      reason: `HTTP ${status}${excerpt}`,
      retryable: status >= 500 || status === 429,
      retryAfter: status === 429 ? retryAfter(response.response.headers.get("retry-after"), yield* Clock.currentTimeMillis) : undefined
    })
  })
}

/** `Retry-After`: seconds, or an HTTP date. */
const retryAfter = (header: string | null, now: number): Duration.Duration | undefined => {
  if (header === null) return undefined
  if (/^\d+$/.test(header.trim())) return Duration.seconds(Number(header.trim()))
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Duration.millis(Math.max(0, at - now))
}

/** A network error's message with its causes (undici: "fetch failed" caused by "connect ECONNREFUSED ..."). */
const describe = (error: unknown): string => {
  const parts: Array<string> = []
  let current: unknown = error
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error) {
      if (current.message !== "" && !parts.includes(current.message)) parts.push(current.message)
      current = (current as { cause?: unknown }).cause
    } else {
      parts.push(String(current))
      break
    }
  }
  return parts.length === 0 ? "network error" : parts.join(": ")
}

const webhook = (target: Target, options: Pick<Options, "format" | "when">): Observer.Observer => {
  const name = `notify-url (${target.shown})`
  return {
    name,
    onFinish: (summary) => {
      if (!fires(options.when, summary.status)) return Effect.void
      const body = JSON.stringify(options.format === "slack" ? toSlack(summary) : toBody(summary))
      return deliver(name, webhookPolicy, post(target, body))
    }
  }
}

// -----------------------------------------------------------------------------
// --notify-command
// -----------------------------------------------------------------------------

/** Splits `--notify-command` into argv as a POSIX shell would (quotes, backslashes); shell syntax is refused. */
export const parseCommand = (input: string): Effect.Effect<ReadonlyArray<string>, InvalidOption> =>
  Effect.suspend(() => {
    const words = CommandLine.template(Object.assign([input], { raw: [input] }))
    if (Result.isFailure(words)) {
      // The parser's messages never repeat the input (which may hold a secret).
      const reason = words.failure.message.replace(/ in template part \d+$/, "")
      return Effect.fail(new InvalidOption({
        where: "--notify-command",
        reason: `${reason} (it runs without a shell; to use one, give ["sh", "-c", ...] as: sh -c '...')`
      }))
    }
    const argv = words.success.map((word) => Redacted.isRedacted(word) ? Redacted.value(word) : word)
    if (argv.length === 0 || argv[0] === "") {
      return Effect.fail(new InvalidOption({ where: "--notify-command", reason: "is empty" }))
    }
    return Effect.succeed(argv)
  })

const OUTPUT_LINES = 50

/** One run of the command with `body` on stdin: a non-zero exit (or a failure to start) fails the attempt. */
const runCommand = (name: string, argv: ReadonlyArray<string>, body: string, summary: Observer.Summary) =>
  Effect.scoped(Effect.gen(function*() {
    const [program, ...args] = argv
    const handle = yield* ChildProcess.make(program!, args, {
      extendEnv: true,
      env: {
        RUNNER_RUN_ID: summary.runId,
        RUNNER_DAG: summary.dag,
        RUNNER_STATUS: summary.status,
        RUNNER_RUN_KEY: summary.key
      },
      stdin: Stream.make(new TextEncoder().encode(body)),
      killSignal: "SIGTERM",
      forceKillAfter: "3 seconds"
    })
    let lines = 0
    const log = (stream: Stream.Stream<Uint8Array, unknown>, level: "info" | "warn") =>
      stream.pipe(
        Stream.decodeText(),
        Stream.splitLines,
        Stream.runForEach((line) => {
          lines++
          if (lines > OUTPUT_LINES) return lines === OUTPUT_LINES + 1 ? Effect.logInfo(`${name}: (more output not shown)`) : Effect.void
          return level === "info" ? Effect.logInfo(`${name}: ${line}`) : Effect.logWarning(`${name}: ${line}`)
        }),
        Effect.ignore,
        Effect.forkScoped
      )
    const out = yield* log(handle.stdout, "info")
    const err = yield* log(handle.stderr, "warn")
    const exitCode = yield* handle.exitCode
    yield* Fiber.join(out)
    yield* Fiber.join(err)
    if (exitCode !== 0) return yield* new AttemptFailed({ reason: `exited with code ${exitCode}`, retryable: true })
  })).pipe(
    Effect.catchTag("PlatformError", (error) =>
      Effect.fail(new AttemptFailed({
        // Not error.message: it quotes the whole command line, whose arguments may hold a token.
        reason: `${error.reason._tag}: ${error.reason.module}.${error.reason.method}` +
          (error.reason.description === undefined ? "" : `: ${error.reason.description}`),
        // A program that does not exist (or may not be run) will not appear by retrying.
        retryable: !(error.reason._tag === "NotFound" || error.reason._tag === "PermissionDenied")
      })))
  )

const command = (argv: ReadonlyArray<string>, options: Pick<Options, "when">) =>
  Effect.gen(function*() {
    const services = yield* Effect.context<ChildProcessSpawner.ChildProcessSpawner>()
    // Only the program is named in logs: the arguments may hold a token.
    const name = `notify-command (${argv[0]})`
    return {
      name,
      onFinish: (summary: Observer.Summary) => {
        if (!fires(options.when, summary.status)) return Effect.void
        const body = JSON.stringify(toBody(summary))
        return deliver(name, commandPolicy, runCommand(name, argv, body, summary).pipe(Effect.provideContext(services)))
      }
    } satisfies Observer.Observer
  })
