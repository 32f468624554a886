/**
 * Tracing: each run, job and attempt is an Effect span, and a span a job opens (`Effect.fn`, `Effect.withSpan`) is a
 * child of its attempt. Point the runner at any OTLP/HTTP collector (Jaeger, Tempo, Honeycomb, an OTel Collector):
 *
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 runner examples/effect-native/tracing.ts
 *
 * and the run arrives as one trace: `run tracing` → `job crawl` → `attempt 1` → `fetch-page` and `parse`.
 */
import { Effect } from "effect"
import { Dag, Job } from "effect-runner"

/** `Effect.fn` opens a span per call, named, with the call's attributes. */
const fetchPage = Effect.fn("fetch-page")(function*(url: string) {
  yield* Effect.annotateCurrentSpan("url.full", url)
  yield* Effect.sleep("5 millis") // stands for the request
  return `<html><title>${url}</title></html>`
})

/** `Effect.withSpan` wraps any effect in a span. */
const parse = (html: string) => Effect.sync(() => html.length).pipe(Effect.withSpan("parse"))

export const crawl = Job.make("crawl", {
  run: () => Effect.flatMap(fetchPage("https://example.com/"), parse)
})

export default Dag.make("tracing", [crawl])
