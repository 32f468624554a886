/**
 * Who may see the dashboard. It binds 127.0.0.1 by default; any other host needs a token (a dashboard open to the
 * network shows every run's logs and outputs). With a token, every request carries it: as `Authorization: Bearer T`,
 * as `X-Runner-Token: T`, or as the cookie the login form sets. Tokens are compared in constant time (their SHA-256
 * digests, so neither the length nor a prefix leaks through timing).
 */
import * as crypto from "node:crypto"

/** The cookie the login form sets. */
export const cookieName = "runner_ui_token"

/** Host names that only this machine can reach. */
const loopback = new Set(["127.0.0.1", "localhost", "::1", "[::1]"])

/** Whether a bind address (or a Host header's name) is this machine only. */
export const isLoopback = (host: string): boolean => loopback.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host)

/** Why the dashboard refuses to start on this host without a token, or undefined when it may. */
export const refusal = (host: string, token: string | undefined): string | undefined =>
  isLoopback(host) || (token !== undefined && token !== "")
    ? undefined
    : `--host ${host}: binding anything but 127.0.0.1 shows every run's logs and outputs to the network; ` +
      `give --token T (or set RUNNER_UI_TOKEN) and every request will need it`

const digest = (text: string): Buffer => crypto.createHash("sha256").update(text, "utf8").digest()

/** Constant-time equality of a presented token and the expected one. */
export const tokenMatches = (presented: string | undefined, expected: string): boolean =>
  presented !== undefined && crypto.timingSafeEqual(digest(presented), digest(expected))

/** The token a request presents: header, bearer, or cookie (the first present). */
export const presentedToken = (
  headers: Readonly<Record<string, string | undefined>>,
  cookies: Readonly<Record<string, string | undefined>>
): string | undefined => {
  const authorization = headers["authorization"]
  if (authorization !== undefined && /^bearer /i.test(authorization)) return authorization.slice(7).trim()
  return headers["x-runner-token"] ?? cookies[cookieName]
}

/**
 * Whether a Host header names the loopback interface: without a token the dashboard answers only those, so a web page
 * elsewhere cannot reach it through DNS rebinding (a name of its own pointing at 127.0.0.1).
 */
export const hostHeaderAllowed = (hostHeader: string | undefined): boolean => {
  if (hostHeader === undefined) return false
  const name = hostHeader.startsWith("[") ? hostHeader.slice(0, hostHeader.indexOf("]") + 1) : hostHeader.split(":")[0]!
  return isLoopback(name)
}
