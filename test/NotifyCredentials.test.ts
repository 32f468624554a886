/** `--notify-url` with `user:password@`: sent as basic auth (fetch refuses credentials in URLs), never shown. */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as HttpClient from "effect/http/HttpClient"
import * as Http from "../src/internal/http.ts"
import * as Notify from "../src/internal/notify/Notify.ts"
import { runnerAsync, type RuntimeName } from "./support/spawn.ts"

const PASSWORD = "s3cret-pw"
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`

describe("--notify-url credentials", () => {
  it.effect("parseUrl moves user:password@ (percent-decoded) to a Basic header; the URL and what is shown keep none", () =>
    Effect.gen(function*() {
      const target = yield* Notify.parseUrl(`https://ops:p%40ss@hooks.example.com/hook`)
      assert.strictEqual(Redacted.value(target.url).href, "https://hooks.example.com/hook")
      assert.strictEqual(target.shown, "https://hooks.example.com/***")
      assert.strictEqual(Redacted.value(target.authorization!), basic("ops", "p@ss"))
      assert.isUndefined((yield* Notify.parseUrl("https://hooks.example.com/hook")).authorization)
    }))

  it.effect("a request that cannot be built is tried once, and its reason does not repeat the credentials", () =>
    Effect.gen(function*() {
      // A header fetch refuses (a newline in it): every attempt would fail the same way.
      const target: Http.Target = {
        url: Redacted.make(new URL("http://127.0.0.1:9/hook")),
        shown: "http://127.0.0.1:9/***",
        authorization: Redacted.make(`Basic ${PASSWORD}\nX-Injected: 1`)
      }
      let calls = 0
      const client = HttpClient.make(() => {
        calls++
        return Effect.die("never sent")
      })
      const error = yield* Effect.flip(
        Http.send("n", Notify.webhookPolicy, target, { method: "POST", contentType: "application/json", body: "{}" }).pipe(
          Effect.provideService(HttpClient.HttpClient, client)
        )
      )
      assert.strictEqual(error.attempts, 1)
      assert.isFalse(error.retryable)
      assert.strictEqual(calls, 0)
      assert.match(error.reason, /^cannot build the request: /)
      assert.notInclude(error.reason, PASSWORD)
    }))
})

/** A receiver on 127.0.0.1 that records each request's path and Authorization header. */
const receiver = async () => {
  const requests: Array<{ path: string; authorization: string | undefined }> = []
  const server = http.createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      requests.push({ path: req.url!, authorization: req.headers.authorization })
      res.writeHead(200).end("ok")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return { port, requests, close: () => new Promise((resolve) => server.close(resolve)) }
}

describe.concurrent("runner --notify-url http://user:pass@host/...", () => {
  it.each<RuntimeName>(["node", "bun", "deno"])("POSTs once with Authorization: Basic and the URL without credentials (%s)", async (runtime) => {
    const server = await receiver()
    const url = `http://ops:${PASSWORD}@127.0.0.1:${server.port}/hook`
    const result = await runnerAsync(
      ["test/fixtures/notify-dag.ts", "--journal", "none", "--log-format", "plain", "--notify", "always", "--notify-url", url],
      { NOTIFY_FAIL: "0" },
      runtime
    ).done
    await server.close()
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    assert.deepStrictEqual(server.requests, [{ path: "/hook", authorization: basic("ops", PASSWORD) }])
    const output = result.stdout + result.stderr
    assert.notInclude(output, PASSWORD)
    assert.notInclude(output, basic("ops", PASSWORD).slice(6))
    assert.notMatch(output, /notify-url .*failed/)
  }, 60_000)
})
