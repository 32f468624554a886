/**
 * Prometheus metrics of runs, the batch-job way: after each run, gauges describing the latest run of each DAG, written
 * atomically to a textfile for node_exporter's textfile collector (`--metrics-file`) and/or PUT to a Pushgateway
 * grouped by dag (`--pushgateway`, through the runner's HTTP stack: src/internal/http.ts). Each sink is one observer:
 * its failure is logged and never changes a run's outcome.
 */
import { Buffer } from "node:buffer"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as HttpClient from "effect/http/HttpClient"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Semaphore from "effect/Semaphore"
import { InvalidOption } from "../Errors.ts"
import type * as Delivery from "./delivery.ts"
import * as Http from "./http.ts"
import * as Journal from "./Journal.ts"
import type * as Observer from "./Observer.ts"
import type * as RunEvent from "./RunEvent.ts"

export interface Options {
  /** `--metrics-file PATH`: a `*.prom` file in an existing folder; `{dag}` in its name makes one file per DAG. */
  readonly file: string | undefined
  /** `--pushgateway URL`: the Pushgateway's base URL; `user:password@` in it becomes basic auth. */
  readonly pushgateway: string | undefined
}

/** The metric families in the order they are written, with their HELP text. All are gauges: each describes a run. */
export const families = {
  effect_runner_run_duration_seconds: "Wall-clock duration of the latest run of the DAG.",
  effect_runner_run_status: "Outcome of the latest run of the DAG: 1 for its status, 0 for the others.",
  effect_runner_last_run_timestamp_seconds: "When the latest run of the DAG ended, in seconds since the epoch.",
  effect_runner_last_success_timestamp_seconds:
    "When the latest successful run of the DAG ended, in seconds since the epoch (absent if none is journaled).",
  effect_runner_job_duration_seconds: "Duration of each job in the latest run of the DAG, retries included.",
  effect_runner_job_attempts: "Attempts of each job in the latest run of the DAG (0 when cached, restored or skipped).",
  effect_runner_job_status: "Final status of each job in the latest run of the DAG: 1 for its status, 0 for the others."
} as const

export type Family = keyof typeof families

/** One series and its value. */
export interface Sample {
  readonly name: Family
  readonly labels: ReadonlyArray<readonly [name: string, value: string]>
  readonly value: number
}

// Every state is written (0 or 1), the state-set idiom: a status change never leaves a stale series behind.
const runStatuses: ReadonlyArray<RunEvent.RunStatus> = ["succeeded", "failed", "interrupted"]
// "cached": reused from an earlier run without running (up-to-date skipping), apart from "succeeded" so a dashboard
// tells work done from work skipped.
const jobStatuses: ReadonlyArray<RunEvent.JobStatus> = [
  "succeeded",
  "cached",
  "restored",
  "failed",
  "skipped",
  "interrupted"
]

/** The series of one finished run. `lastSuccess` (epoch ms) is left out when undefined. */
export const samples = (summary: Observer.Summary, lastSuccess: number | undefined): ReadonlyArray<Sample> => {
  const dag = ["dag", summary.dag] as const
  const out: Array<Sample> = [
    { name: "effect_runner_run_duration_seconds", labels: [dag], value: summary.durationMillis / 1000 },
    ...runStatuses.map((status): Sample => ({
      name: "effect_runner_run_status",
      labels: [dag, ["status", status]],
      value: summary.status === status ? 1 : 0
    })),
    { name: "effect_runner_last_run_timestamp_seconds", labels: [dag], value: summary.finishedAt / 1000 }
  ]
  if (lastSuccess !== undefined) {
    out.push({ name: "effect_runner_last_success_timestamp_seconds", labels: [dag], value: lastSuccess / 1000 })
  }
  for (const job of summary.jobs) {
    // `job_id`, not `job`: Prometheus owns `job` (the scrape job; the Pushgateway's grouping key overwrites it).
    const id = ["job_id", job.jobId] as const
    out.push(
      { name: "effect_runner_job_duration_seconds", labels: [dag, id], value: job.durationMillis / 1000 },
      { name: "effect_runner_job_attempts", labels: [dag, id], value: job.attempts },
      ...jobStatuses.map((status): Sample => ({
        name: "effect_runner_job_status",
        labels: [dag, id, ["status", status]],
        value: job.status === status ? 1 : 0
      }))
    )
  }
  return out
}

/** A label value as the text exposition format wants it: backslash, double quote and newline escaped. */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

const formatValue = (value: number): string =>
  Number.isNaN(value) ? "NaN" : value === Infinity ? "+Inf" : value === -Infinity ? "-Inf" : String(value)

/** The text exposition (format 0.0.4): each family once, with HELP and TYPE, its series together; no timestamps. */
export const render = (all: ReadonlyArray<Sample>): string => {
  const lines: Array<string> = []
  for (const [name, help] of Object.entries(families)) {
    const series = all.filter((sample) => sample.name === name)
    if (series.length === 0) continue
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
    for (const sample of series) {
      const labels = sample.labels.map(([label, value]) => `${label}="${escapeLabelValue(value)}"`).join(",")
      lines.push(`${name}{${labels}} ${formatValue(sample.value)}`)
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`
}

/** Writing the textfile or pushing to the Pushgateway failed (logged as a warning by the run). */
export class MetricsError extends Schema.TaggedError<MetricsError>()("MetricsError", {
  /** The file, or `PUT <url>` of the Pushgateway (never with credentials). */
  target: Schema.String,
  reason: Schema.String,
  /** Whether another attempt may succeed (network errors, timeouts, HTTP 5xx and 429). */
  retryable: Schema.Boolean
}) {
  override get message(): string {
    return `${this.target}: ${this.reason}`
  }
}

const describe = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const cause = error.cause instanceof Error ? ((error.cause as { code?: string }).code ?? error.cause.message) : undefined
  return cause === undefined || error.message.includes(cause) ? error.message : `${error.message} (${cause})`
}

// ---------------------------------------------------------------------------------------------------------------
// The last success

/**
 * When the DAG last succeeded: this run if it did, else the journal's latest success, so a failed run does not lose it
 * (the textfile is rewritten and the Pushgateway group replaced every run). Unknown if the journal cannot say.
 */
const lastSuccessOf = (journal: Journal.Journal["Service"], summary: Observer.Summary) =>
  summary.status === "succeeded"
    ? Effect.succeed<number | undefined>(summary.finishedAt)
    : journal.lastSuccess(summary.dag).pipe(
      Effect.map(Option.getOrUndefined),
      Effect.catch((error) =>
        Effect.as(
          Effect.logWarning(`metrics: ${error.message}; effect_runner_last_success_timestamp_seconds is left out`),
          undefined
        )
      )
    )

// ---------------------------------------------------------------------------------------------------------------
// The textfile

const placeholder = "{dag}"

/** The file of a DAG: `{dag}` in the name becomes the DAG's name with anything but `A-Za-z0-9_.-` as `_`. */
export const fileFor = (template: string, dag: string): string =>
  template.replaceAll(placeholder, dag.replace(/[^A-Za-z0-9_.-]/g, "_"))

const checkFile = (template: string): Effect.Effect<string, InvalidOption> => Effect.suspend(() => {
  const invalid = (reason: string) => Effect.fail(new InvalidOption({ where: "--metrics-file", reason }))
  if (!template.endsWith(".prom")) {
    return invalid(`node_exporter's textfile collector reads only *.prom files, got ${template}`)
  }
  const folder = path.dirname(template)
  if (folder.includes(placeholder)) return invalid(`${placeholder} may only appear in the file's name, not its folder`)
  if (fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory() !== true) {
    return invalid(`the folder ${folder} does not exist`)
  }
  return Effect.succeed(template)
})

/**
 * Replaces a file atomically, as node_exporter requires (it may read at any moment): a temporary file in the same
 * folder, not named `*.prom` so the collector never reads it half-written, then a rename over the old one.
 */
export const writeAtomically = (file: string, content: string): Effect.Effect<void, MetricsError> => {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${Math.floor(Math.random() * 0x1000000).toString(16)}.tmp`
  )
  const fail = (what: string) => (error: unknown) =>
    new MetricsError({ target: file, reason: `${what}: ${describe(error)}`, retryable: false })
  return Effect.tryPromise({ try: () => fs.promises.writeFile(temp, content, { mode: 0o644 }), catch: fail("write") }).pipe(
    Effect.andThen(Effect.tryPromise({ try: () => fs.promises.rename(temp, file), catch: fail("rename") })),
    Effect.onError(() => Effect.ignore(Effect.tryPromise(() => fs.promises.rm(temp, { force: true }))))
  )
}

/**
 * The textfile observer. A process that runs several DAGs (`runner schedule`) keeps the latest run of each and
 * rewrites the file with all of them; with `{dag}` in the name, each DAG has its own file.
 */
const textfile = (template: string, journal: Journal.Journal["Service"]): Observer.Observer => {
  // Runs of the daemon may end together: one writer at a time, so a slower write never replaces a newer file.
  const writer = Semaphore.makeUnsafe(1)
  const files = new Map<string, Map<string, ReadonlyArray<Sample>>>()
  return {
    name: `--metrics-file ${template}`,
    onFinish: (summary) =>
      Effect.gen(function*() {
        const series = samples(summary, yield* lastSuccessOf(journal, summary))
        const file = fileFor(template, summary.dag)
        yield* writer.withPermit(Effect.suspend(() => {
          const dags = files.get(file) ?? new Map<string, ReadonlyArray<Sample>>()
          files.set(file, dags)
          dags.set(summary.dag, series)
          return writeAtomically(file, render([...dags.values()].flat()))
        }))
      })
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The Pushgateway

/** A Pushgateway to push to. */
export interface Gateway {
  /** The base URL without credentials or trailing slash: what logs show. */
  readonly base: string
  /** The base URL without credentials, and the credentials as a header (http.ts). */
  readonly target: Http.Target
}

/** Parses `--pushgateway`: http(s), no query or fragment; credentials move to an Authorization header. */
export const parseGateway = (raw: string): Effect.Effect<Gateway, InvalidOption> => {
  const invalid = (reason: string) => Effect.fail(new InvalidOption({ where: "--pushgateway", reason }))
  if (!URL.canParse(raw)) return invalid("expected a URL like http://127.0.0.1:9091")
  const url = new URL(raw)
  if (url.protocol !== "http:" && url.protocol !== "https:") return invalid(`expected http or https, got ${url.protocol}`)
  if (url.search !== "" || url.hash !== "") return invalid("expected a base URL without query or fragment")
  url.pathname = url.pathname.replace(/\/+$/, "")
  // Its path is a prefix of the Pushgateway's API (a proxy's), not a token: it is shown.
  const target = Http.target(url, "path")
  return Effect.succeed({ base: target.shown, target })
}

/** The grouping key `job="effect_runner", dag=<name>` as a path; a name with `/` takes the base64url form. */
export const groupingPath = (dag: string): string =>
  dag.includes("/")
    ? `/metrics/job/effect_runner/dag@base64/${Buffer.from(dag, "utf8").toString("base64url")}`
    : `/metrics/job/effect_runner/dag/${encodeURIComponent(dag)}`

/** 4 attempts, 250 ms, 500 ms then 1 s apart, 10 s for each; a `Retry-After` up to 10 s is waited for. */
export const pushPolicy: Delivery.Policy = {
  attempts: 4,
  timeout: Duration.seconds(10),
  delay: (retry) => Duration.millis(250 * 2 ** (retry - 1)),
  maxRetryAfter: Duration.seconds(10)
}

/** Pushes a DAG's metrics (a PUT: replaces its group), retrying what may pass later (http.ts). */
export const push = (gateway: Gateway, dag: string, body: string): Effect.Effect<void, MetricsError, HttpClient.HttpClient> =>
  Effect.suspend(() => {
    const path = groupingPath(dag)
    const url = new URL(Redacted.value(gateway.target.url).href.replace(/\/+$/, "") + path)
    const target = { ...gateway.target, url: Redacted.make(url), shown: gateway.base + path }
    return Http.send(`--pushgateway ${gateway.base}`, pushPolicy, target, {
      method: "PUT",
      contentType: "text/plain; version=0.0.4; charset=utf-8",
      body
    }).pipe(
      Effect.mapError((error) =>
        new MetricsError({
          target: `PUT ${target.shown}`,
          reason: `${error.reason} (${error.attempts} attempt${error.attempts === 1 ? "" : "s"})`,
          retryable: error.retryable
        })
      )
    )
  })

const pushgateway = (
  gateway: Gateway,
  journal: Journal.Journal["Service"]
): Effect.Effect<Observer.Observer, never, HttpClient.HttpClient> =>
  Effect.map(Effect.context<HttpClient.HttpClient>(), (services) => ({
    name: `--pushgateway ${gateway.base}`,
    onFinish: (summary) =>
      Effect.gen(function*() {
        const series = samples(summary, yield* lastSuccessOf(journal, summary))
        yield* push(gateway, summary.dag, render(series)).pipe(Effect.provideContext(services))
      })
  }))

/** The observers `--metrics-file` and `--pushgateway` ask for; bad values fail here, before anything runs. */
export const observers = (
  options: Options
): Effect.Effect<ReadonlyArray<Observer.Observer>, InvalidOption, Journal.Journal | HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const out: Array<Observer.Observer> = []
    if (options.file !== undefined) out.push(textfile(yield* checkFile(options.file), journal))
    if (options.pushgateway !== undefined) out.push(yield* pushgateway(yield* parseGateway(options.pushgateway), journal))
    return out
  })
