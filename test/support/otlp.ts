/** An OTLP/HTTP receiver in the test's process: it keeps every request (traces and metrics, JSON or protobuf). */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface Request {
  readonly path: string
  readonly contentType: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
}

export interface Receiver {
  readonly url: string
  readonly requests: Array<Request>
  readonly close: () => Promise<void>
}

export const receiver = (): Promise<Receiver> =>
  new Promise((resolve) => {
    const requests: Array<Request> = []
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        requests.push({
          path: req.url ?? "",
          contentType: req.headers["content-type"] ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks)
        })
        res.writeHead(200, { "content-type": req.headers["content-type"] ?? "application/json" })
        res.end(req.headers["content-type"]?.includes("json") ? "{}" : "")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () => new Promise((done) => server.close(() => done()))
      })
    })
  })

/** The bodies posted to /v1/traces, as text (for the http/json protocol). */
export const traceBodies = (r: Receiver): Array<string> =>
  r.requests.filter((q) => q.path === "/v1/traces").map((q) => q.body.toString("utf8"))
