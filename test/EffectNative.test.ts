/**
 * The acceptance example examples/effect-native/layer.ts, run through the CLI on Node, Bun and Deno against a local
 * HTTP server: the DAG's layer provides an HttpClient and the user's Greeter, built once per run and released after it.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { root, runnerAsync, type RuntimeName } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const runtimes: ReadonlyArray<RuntimeName> = ["node", "bun", "deno"]
const example = path.join(root, "examples/effect-native/layer.ts")
const tempDir = tempDirs("runner-effect-native-")

/** A tiny API: `GET /names` answers the names, or `status` while it is not 200. Counts the requests it gets. */
const server = { status: 200, requests: [] as Array<string>, url: "" }
const listener = http.createServer((request, response) => {
  server.requests.push(`${request.method} ${request.url}`)
  if (request.url !== "/names") return void response.writeHead(404).end()
  if (server.status !== 200) return void response.writeHead(server.status).end("unavailable")
  response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ names: ["Ada", "Grace"] }))
})
beforeAll(() =>
  new Promise<void>((resolve) =>
    listener.listen(0, "127.0.0.1", () => {
      server.url = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`
      resolve()
    })
  )
)
afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())))

// The server lives in this process, so the runner must be started without blocking it (no spawnSync).
const run = (runtime: RuntimeName) =>
  runnerAsync(
    [example, "--journal", path.join(tempDir(), "journal.db"), "--log-format", "plain"],
    { GREETING_API: server.url },
    runtime
  ).done

const count = (text: string, needle: string) => text.split(needle).length - 1

describe.each(runtimes)("examples/effect-native/layer.ts on %s", (runtime) => {
  it("the jobs use the layer's HttpClient and Greeter; the layer is built once and released after the run", async () => {
    server.status = 200
    server.requests = []
    const result = await run(runtime)
    const output = result.stdout + result.stderr
    assert.strictEqual(result.status, 0, output)
    assert.deepStrictEqual(server.requests, ["GET /names"])
    assert.include(result.stdout, "Hello, Ada!")
    assert.include(result.stdout, "Hello, Grace!")
    assert.strictEqual(count(output, "greeter acquired"), 1, output)
    assert.strictEqual(count(output, "greeter released"), 1, output)
    assert.isBelow(output.indexOf("greeter acquired"), output.indexOf("names started"), output)
    assert.isAbove(output.indexOf("greeter released"), output.indexOf("greet ✓ succeeded"), output)
  })

  it("an API that answers 503: the HTTP job's typed failure is retried, the run fails, the layer is still released", async () => {
    server.status = 503
    server.requests = []
    const result = await run(runtime)
    const output = result.stdout + result.stderr
    assert.strictEqual(result.status, 1, output)
    // One attempt and two retries, each one request.
    assert.deepStrictEqual(server.requests, ["GET /names", "GET /names", "GET /names"])
    assert.include(output, "503")
    assert.notInclude(output, "Hello,")
    assert.strictEqual(count(output, "greeter released"), 1, output)
  })
})

/** No layer at all: `HttpClient` is one of the runner's own services, like FileSystem and ChildProcessSpawner. */
const noLayerTaskFile = `
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import { Dag, Job } from "effect-runner"

export const fetchNames = Job.make("fetch-names", {
  config: { url: Config.String("GREETING_API") },
  run: ({ config }) => Effect.gen(function*() {
    const client = HttpClient.filterStatusOk(yield* HttpClient.HttpClient)
    const response = yield* client.get(config.url + "/names")
    const body = (yield* response.json) as { readonly names: ReadonlyArray<string> }
    yield* Effect.log("names: " + body.names.join(" and "))
    return body.names.length
  })
})

export default Dag.make("no-layer", [fetchNames])
`

describe.each(runtimes)("the runner's own HttpClient on %s", (runtime) => {
  it("a job uses HttpClient with no layer in its DAG", async () => {
    server.status = 200
    server.requests = []
    const file = path.join(tempDir(), "no-layer.ts")
    fs.writeFileSync(file, noLayerTaskFile)
    const result = await runnerAsync([file, "--journal", "none", "--log-format", "plain"], { GREETING_API: server.url }, runtime).done
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    assert.deepStrictEqual(server.requests, ["GET /names"])
    assert.include(result.stdout, "names: Ada and Grace")
  })
})
