/**
 * The dashboard's HTTP application and server: one Effect handler over Effect's `HttpServer` (Node's http module,
 * which Bun and Deno also provide), routing by path to the pages, the JSON API, the log download, the live events
 * and the embedded assets. It only reads: every route is GET (HEAD), except the login form's POST, which sets a
 * cookie and nothing else; the journal connection it is given is read-only.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as SqlClient from "effect/sql/SqlClient"
import * as Headers from "effect/http/Headers"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as UrlParams from "effect/http/UrlParams"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import * as JournalQueries from "../sql/JournalQueries.ts"
import * as Api from "./Api.ts"
import * as Assets from "./Assets.ts"
import * as Auth from "./Auth.ts"
import * as Pages from "./Pages.ts"
import * as Queries from "./Queries.ts"
import * as Sse from "./Sse.ts"

/** What the application needs to know besides the journal. */
export interface Config {
  /** The journal's path, as shown in the copyable commands. */
  readonly journal: string
  /** When set, every request must present it. */
  readonly token: string | undefined
  /** How often a live view re-reads the journal while its run is running (ms). Default 250. */
  readonly liveIntervalMillis?: number
}

const securityHeaders = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store"
}

const page = (body: string, status = 200) =>
  HttpServerResponse.text(body, { status, contentType: "text/html; charset=utf-8", headers: securityHeaders })

const json = (schema: Parameters<typeof Api.encode>[0], value: unknown, status = 200) =>
  HttpServerResponse.text(JSON.stringify(Api.encode(schema, value as never), null, 2) + "\n", {
    status,
    contentType: "application/json; charset=utf-8",
    headers: securityHeaders
  })

const jsonError = (status: number, error: string) =>
  HttpServerResponse.text(JSON.stringify({ error }) + "\n", { status, contentType: "application/json", headers: securityHeaders })

const positive = (text: string | null, fallback: number, max: number): number => {
  const n = text === null ? NaN : Number(text)
  return Number.isInteger(n) && n >= 1 ? Math.min(n, max) : fallback
}

const nonEmpty = (text: string | null): string | undefined => text === null || text === "" ? undefined : text

const dateParam = (text: string | null, plusDays = 0): number | undefined => {
  if (text === null || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return undefined
  const t = Date.parse(`${text}T00:00:00Z`)
  return Number.isNaN(t) ? undefined : t + plusDays * 86_400_000
}

const filtersOf = (params: URLSearchParams): Queries.RunFilters => ({
  dag: nonEmpty(params.get("dag")),
  status: nonEmpty(params.get("status")),
  key: nonEmpty(params.get("key")),
  trigger: nonEmpty(params.get("trigger")),
  from: dateParam(params.get("from")),
  // A date range includes its last day.
  to: dateParam(params.get("to"), 1)
})

/** Runs per page of `/`, and the most one page may ask for. */
const RUNS_PAGE = 50
/** Log lines per page. */
const LOG_PAGE = 500

/** Routes under `/runs/<runId>...`. */
const runRoute = /^\/(api\/)?runs\/([^/]+)(\/logs(?:\.txt)?|\/events)?$/

/** The application: a response for every request, never a failure (errors become a 500 page naming the problem). */
export const app = (config: Config) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const url = new URL(request.url, "http://localhost")
    const path = url.pathname
    const params = url.searchParams
    const header = (name: string) => Option.getOrUndefined(Headers.get(request.headers, name))

    if (config.token === undefined && !Auth.hostHeaderAllowed(header("host"))) {
      return HttpServerResponse.text("runner ui answers only requests to 127.0.0.1 or localhost\n", { status: 421 })
    }
    if (path === "/assets/app.css") {
      return HttpServerResponse.text(Assets.css, { contentType: "text/css; charset=utf-8", headers: { "cache-control": "max-age=3600" } })
    }
    if (path === "/assets/app.js") {
      return HttpServerResponse.text(Assets.js, {
        contentType: "text/javascript; charset=utf-8",
        headers: { "cache-control": "max-age=3600" }
      })
    }
    if (config.token !== undefined) {
      if (path === "/login" && request.method === "POST") {
        const form = yield* Effect.orElseSucceed(request.urlParamsBody, () => UrlParams.empty)
        const token = Option.getOrUndefined(UrlParams.getFirst(form, "token"))
        const then = Option.getOrElse(UrlParams.getFirst(form, "then"), () => "/")
        // Only a path of this site: never an absolute URL (an open redirect).
        const target = then.startsWith("/") && !then.startsWith("//") ? then : "/"
        if (!Auth.tokenMatches(token, config.token)) return page(Pages.loginPage(true, target), 401)
        return HttpServerResponse.empty({
          status: 303,
          headers: {
            location: target,
            "set-cookie": `${Auth.cookieName}=${encodeURIComponent(token!)}; Path=/; HttpOnly; SameSite=Strict`
          }
        })
      }
      const cookies = Object.fromEntries(
        Object.entries(request.cookies).map(([k, v]) => [k, k === Auth.cookieName ? safeDecode(v) : v])
      )
      const presented = Auth.presentedToken(
        { authorization: header("authorization"), "x-runner-token": header("x-runner-token") },
        cookies
      )
      if (!Auth.tokenMatches(presented, config.token)) {
        if (path.startsWith("/api/") || path.endsWith("/events") || path.endsWith(".txt")) {
          return jsonError(401, "this dashboard needs its token: Authorization: Bearer <token>, or sign in at /login")
        }
        return page(Pages.loginPage(false, path === "/login" ? "/" : `${path}${url.search}`), 401)
      }
      if (path === "/login") return HttpServerResponse.redirect("/", { status: 303 })
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return HttpServerResponse.text("the dashboard is read-only: only GET\n", { status: 405, headers: { allow: "GET, HEAD" } })
    }

    if (path === "/" || path === "/api/runs") {
      const filters = filtersOf(params)
      const limit = positive(params.get("limit"), RUNS_PAGE, 500)
      const { next, runs } = yield* Queries.listRuns(filters, Queries.parseCursor(params.get("after") ?? undefined), limit)
      const cursor = next === undefined ? undefined : Queries.formatCursor(next)
      if (path === "/api/runs") return json(Api.RunList, { runs: runs.map(Api.runSummary), next: cursor ?? null })
      return page(Pages.runsPage(runs, filters, yield* Queries.dagNames(), cursor, limit))
    }
    if (path === "/grid" || path === "/api/grid") {
      const dag = nonEmpty(params.get("dag"))
      const limit = positive(params.get("runs"), 25, 100)
      const only = nonEmpty(params.get("only"))
      if (path === "/api/grid") {
        if (dag === undefined) return jsonError(400, "dag: which DAG's grid (?dag=NAME)")
        // A refresh names the unfinished runs: only those are read again.
        if (only !== undefined) {
          const runs = yield* Queries.runsByIds(dag, only.split(",").slice(0, 100))
          const { cells, jobIds } = yield* Queries.gridCells(runs.map((r) => r.runId))
          return json(Api.GridDocument, Api.gridDocument({ runs, cells, jobIds }))
        }
        return json(Api.GridDocument, Api.gridDocument(yield* Queries.grid(dag, limit)))
      }
      const grid = dag === undefined ? undefined : yield* Queries.grid(dag, limit)
      return page(Pages.gridPage(dag, yield* Queries.dagNames(), grid, limit))
    }

    const match = runRoute.exec(path)
    if (match !== null) {
      const api = match[1] !== undefined
      const runId = safeDecode(match[2]!)
      const sub = match[3]
      const run = yield* JournalQueries.run(runId)
      if (Option.isNone(run)) {
        return api || sub === "/events" ? jsonError(404, `no run ${runId} in the journal`) : page(Pages.notFoundPage(`No run ${runId} in the journal.`), 404)
      }
      if (sub === undefined) {
        const jobs = yield* JournalQueries.jobs(runId)
        const attempts = yield* Queries.attempts(runId)
        const outputs = yield* Queries.outputs(runId)
        const needs = yield* Queries.needs(runId)
        const waits = yield* Queries.waits(runId)
        if (api) return json(Api.RunDocument, Api.runDocument(run.value, jobs, attempts, outputs, needs, waits))
        return page(Pages.runPage(run.value, jobs, attempts, outputs, config.journal, Date.now(), { needs, waits }))
      }
      if (api) return jsonError(404, `no such resource: ${path}`)
      const filters: Queries.LogFilters = {
        jobId: nonEmpty(params.get("job")),
        q: nonEmpty(params.get("q")),
        level: nonEmpty(params.get("level"))
      }
      if (sub === "/events") {
        const lastEventId = Number(header("last-event-id") ?? params.get("after") ?? NaN)
        const services = yield* Effect.context<SqlClient.SqlClient>()
        return HttpServerResponse.stream(
          Sse.events(runId, filters, Number.isInteger(lastEventId) ? lastEventId : undefined, config.liveIntervalMillis ?? 250)
            .pipe(Stream.provideContext(services)),
          {
            contentType: "text/event-stream",
            headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
          }
        )
      }
      if (sub === "/logs.txt") {
        const services = yield* Effect.context<SqlClient.SqlClient>()
        return HttpServerResponse.stream(Sse.rawLog(runId, filters).pipe(Stream.provideContext(services)), {
          contentType: "text/plain; charset=utf-8",
          headers: { "content-disposition": `attachment; filename="${runId.replace(/[^A-Za-z0-9_.-]/g, "_")}.log"` }
        })
      }
      const jobs = yield* JournalQueries.jobs(runId)
      const after = positive(params.get("after"), 0, Number.MAX_SAFE_INTEGER)
      const { lines, next } = yield* Queries.logPage(runId, filters, after, LOG_PAGE)
      return page(Pages.logsPage(runId, jobs.map((j) => j.jobId), filters, lines, after, next, Queries.isLive(run.value.status)))
    }
    return page(Pages.notFoundPage(`Nothing at ${path}.`), 404)
  }).pipe(
    Effect.catchCause((cause) =>
      Effect.succeed(
        HttpServerResponse.text(`runner ui: ${Cause.pretty(cause).split("\n")[0]}\n`, { status: 500, headers: securityHeaders })
      )
    )
  )

const safeDecode = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/**
 * Serves the application on host:port (port 0: any free port) until the current scope closes; succeeds with its URL
 * once it listens.
 */
export const serve = (config: Config & { readonly host: string; readonly port: number }) =>
  Effect.gen(function*() {
    const services = yield* Layer.build(
      Layer.provide(
        NodeHttpServer.layerServer(() => http.createServer(), {
          port: config.port,
          host: config.host,
          gracefulShutdownTimeout: "1 second"
        }),
        NodeHttpServer.layerHttpServices
      )
    )
    const server = Context.get(services, HttpServer.HttpServer)
    yield* HttpServer.serveEffect(app(config)).pipe(Effect.provideContext(services))
    return HttpServer.formatAddress(server.address)
  })
