/**
 * The one HTTP stack of what the runner sends after a run: `--notify-url` (JSON or Slack) and `--pushgateway`. It is
 * Effect's `HttpClient` from the context (the CLI provides `FetchHttpClient`, which runs on Node, Bun and Deno; tests
 * provide their own client), wrapped as every sender needs it:
 *
 * - `filterStatusOk`: a non-2xx answer fails, with an excerpt of its body (masked) as the reason;
 * - `timeout` per attempt (before the retry, so each attempt has its own budget);
 * - `retryTransient` with delivery.ts's schedule: network errors, timeouts, 408, 429 and every 5xx are retried (Effect
 *   retries 500/502/503/504; the `while` adds the other 5xx, as the runner always did), a `Retry-After` is obeyed
 *   (Effect lengthens the wait to it; delivery.ts gives up when it is longer than the policy allows);
 * - a request that cannot be built (a header fetch refuses) is tried once, since every attempt would fail the same way;
 * - no client span: its attributes would carry the URL, whose path is often the webhook's token.
 *
 * Nothing here prints a URL but through urlSecrets.ts: the URL's credentials become an Authorization header, and
 * errors that quote the URL (Deno's do) are masked.
 *
 * Cost, measured against the bare `fetch` this replaced (2 busy cores, so rough): loading Effect's HttpClient takes
 * 30-50 ms of CPU, paid only when `--notify-url` or `--pushgateway` is given (cli/observers.ts loads this lazily); a
 * delivery to a local server took a median 8.0 ms in process, against 6.8 ms (minimums 3.3 and 3.8 ms).
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Headers from "effect/http/Headers"
import * as HttpBody from "effect/http/HttpBody"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Delivery from "./delivery.ts"
import { truncate } from "./truncate.ts"
import * as UrlSecrets from "./urlSecrets.ts"

/** The client the CLI sends with: fetch, which Node, Bun and Deno all have. */
export const layer: Layer.Layer<HttpClient.HttpClient> = FetchHttpClient.layer

/** Where to send: the URL without credentials, what logs may show of it, and the credentials as a header. */
export interface Target {
  readonly url: Redacted.Redacted<URL>
  readonly shown: string
  /** `Basic ...`, from the `user:password@` the URL was given with. Default: none. */
  readonly authorization?: Redacted.Redacted<string> | undefined
}

/** A target for a checked http(s) URL; `keep` says what of it may be shown (urlSecrets.show). */
export const target = (url: URL, keep: "origin" | "path" = "origin"): Target => {
  const { authorization, url: bare } = UrlSecrets.splitCredentials(url)
  return {
    url: Redacted.make(bare),
    shown: UrlSecrets.show(bare, keep),
    authorization: authorization === undefined ? undefined : Redacted.make(authorization)
  }
}

/** What to send. */
export interface Message {
  readonly method: "POST" | "PUT"
  readonly body: string
  readonly contentType: string
}

/** Characters of a failed answer's body kept in the reason. */
const EXCERPT = 200

/**
 * Sends `message` to `target` under `policy`: succeeds on a 2xx answer, fails with `DeliveryFailed` (named `name`,
 * with the attempts made and the last reason) when it gives up. Each failed attempt is logged (delivery.ts).
 */
export const send = (
  name: string,
  policy: Delivery.Policy,
  target: Target,
  message: Message
): Effect.Effect<void, Delivery.DeliveryFailed, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const url = Redacted.value(target.url)
    const authorization = target.authorization === undefined ? undefined : Redacted.value(target.authorization)
    const mask = UrlSecrets.masker(url, target.shown, authorization)
    const headers: Record<string, string> = { "user-agent": "effect-runner" }
    if (authorization !== undefined) headers["authorization"] = authorization
    // A request fetch refuses to build (a header value it rejects) would fail the same way on every attempt.
    yield* Effect.try({
      try: () => new Request(url, { method: message.method, headers: { ...headers, "content-type": message.contentType } }),
      catch: (error) =>
        new Delivery.DeliveryFailed({
          name,
          attempts: 1,
          reason: `cannot build the request: ${mask(causes(error))}`,
          retryable: false
        })
    })
    const describe = describer(policy, mask)
    const base = yield* HttpClient.HttpClient
    const request = HttpClientRequest.make(message.method)(url, {
      headers,
      body: HttpBody.text(message.body, message.contentType)
    })
    return yield* Delivery.counted(name, describe, (count) =>
      base.pipe(
        HttpClient.filterStatusOk,
        HttpClient.transformResponse(readAnswer(mask)),
        HttpClient.timeout(policy.timeout),
        HttpClient.transform((attempt) => Effect.andThen(count, attempt)),
        HttpClient.retryTransient({
          retryOn: "errors-only",
          while: isServerError,
          schedule: Delivery.schedule(name, policy, describe)
        })
      ).execute(request))
  }).pipe(Effect.provideService(HttpClient.TracerDisabledWhen, () => true))

/**
 * Reads the answer's body within the attempt's timeout: a 2xx body is drained (so the connection is released), a
 * failed answer's body becomes the excerpt its reason shows.
 */
const readAnswer = (mask: (text: string) => string) =>
<R>(
  effect: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError, R>
) =>
  effect.pipe(
    Effect.tap((response) => Effect.ignore(response.text)),
    Effect.catch((error) => {
      const reason = error.reason
      if (reason._tag !== "StatusCodeError") return Effect.fail(error)
      return Effect.flatMap(Effect.orElseSucceed(reason.response.text, () => ""), (text) => {
        const trimmed = mask(text.trim()).replace(/\s+/g, " ")
        return Effect.fail(
          new HttpClientError.HttpClientError({
            reason: new HttpClientError.StatusCodeError({
              request: reason.request,
              response: reason.response,
              description: trimmed === "" ? undefined : truncate(trimmed, EXCERPT)
            })
          })
        )
      })
    })
  )

/** A 5xx Effect's `retryTransient` does not retry by itself (501, 505, ...). */
const isServerError = (error: HttpClientError.HttpClientError): boolean =>
  error.reason._tag === "StatusCodeError" && error.reason.response.status >= 500

/** One attempt's failure as logs show it; never the error's own message, which quotes the whole URL. */
const describer = (policy: Delivery.Policy, mask: (text: string) => string) =>
(error: HttpClientError.HttpClientError, now: number): Delivery.Failure => {
  const reason = error.reason
  switch (reason._tag) {
    case "StatusCodeError": {
      const status = reason.response.status
      const header = reason.response.headers["retry-after"]
      const parsed = header === undefined ? undefined : Headers.parseRetryAfter(header)
      return {
        reason: `HTTP ${status}${reason.description === undefined ? "" : `: ${reason.description}`}`,
        retryable: HttpClient.isTransientError(error) || isServerError(error),
        retryAfter: parsed !== undefined && Result.isSuccess(parsed) ? Headers.retryAfterDelay(parsed.success, now) : undefined
      }
    }
    case "TransportError":
      return {
        reason: Cause.isTimeoutError(reason.cause)
          ? `no answer within ${Duration.format(policy.timeout)}`
          : mask(reason.cause === undefined ? reason.description ?? "network error" : causes(reason.cause)),
        retryable: true
      }
    default:
      return {
        reason: mask(`${reason._tag}${reason.description === undefined ? "" : `: ${reason.description}`}`),
        retryable: false
      }
  }
}

/** An error's message with its causes (undici: "fetch failed" caused by "connect ECONNREFUSED ..."). */
const causes = (error: unknown): string => {
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
