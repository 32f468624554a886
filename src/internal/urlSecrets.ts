/**
 * The secret parts of a URL, in one place: webhook URLs carry tokens in their path or query (Slack's
 * `/services/T0/B0/<secret>`), and any URL may carry `user:password@`. Every URL the runner prints, logs or journals
 * (`--notify-url`, `--pushgateway`, OTLP endpoints) goes through `show`; credentials travel as a `Basic` header made by
 * `splitCredentials` (fetch refuses URLs that carry them); error texts that may quote the URL (Deno's network errors
 * do) go through `masker`.
 */
import { Buffer } from "node:buffer"

/**
 * A URL as it may be shown, never with its credentials, query or fragment. `"origin"` (the default) masks everything
 * after the origin: `https://hooks.slack.com/services/T0/B0/secret?x=1` is shown as `https://hooks.slack.com/***`.
 * `"path"` keeps the path, for URLs whose path is a known, public route (`/v1/traces`, a Pushgateway's prefix).
 */
export const show = (url: URL, keep: "origin" | "path" = "origin"): string => {
  if (keep === "path") return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`
  return url.pathname === "/" && url.search === "" && url.hash === "" ? url.origin : `${url.origin}/***`
}

// A malformed escape (`%zz`) is kept as written rather than thrown.
const decode = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** The URL without its credentials, and the `Basic ...` header they make (undefined when it had none). */
export const splitCredentials = (url: URL): { readonly url: URL; readonly authorization: string | undefined } => {
  if (url.username === "" && url.password === "") return { url, authorization: undefined }
  const bare = new URL(url.href)
  bare.username = ""
  bare.password = ""
  const credentials = `${decode(url.username)}:${decode(url.password)}`
  return { url: bare, authorization: `Basic ${Buffer.from(credentials, "utf8").toString("base64")}` }
}

/**
 * Replaces, in a text, every form of `url`'s secrets (the whole URL, its path and query, its credentials, the
 * Authorization header made of them) with what `show` gives. For error texts of runtimes that quote the URL.
 */
export const masker = (url: URL, shown: string, authorization?: string): (text: string) => string => {
  const secrets: ReadonlyArray<readonly [string, string]> = ([
    [url.href, shown],
    [url.pathname + url.search, "/***"],
    [decode(url.username), "***"],
    [decode(url.password), "***"],
    [url.username, "***"],
    [url.password, "***"],
    [authorization ?? "", "Basic ***"],
    [authorization?.replace(/^Basic /, "") ?? "", "***"]
  ] as const).filter(([secret]) => secret.length > 1)
  return (text) => secrets.reduce((masked, [secret, replacement]) => masked.split(secret).join(replacement), text)
}
