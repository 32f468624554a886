/**
 * The runner's metrics (runs, jobs, attempts, durations), fed from the run's events into a registry of their own, so
 * that the OTLP metrics exporter sends these and not whatever else the process records.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as RunEvent from "../RunEvent.ts"

/** Seconds, from 5 ms to a day: batch jobs span both. */
const secondsBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400]

/** The metrics this module exports (names as the collector receives them). */
export const metrics = {
  runs: Metric.counter("runner.runs", { description: "Runs that ended, by dag and status", incremental: true }),
  runDuration: Metric.histogram("runner.run.duration", {
    description: "How long runs took, by dag and status",
    boundaries: secondsBoundaries,
    attributes: { unit: "seconds" }
  }),
  jobs: Metric.counter("runner.jobs", { description: "Jobs of ended runs, by dag, job and status", incremental: true }),
  jobDuration: Metric.histogram("runner.job.duration", {
    description: "How long jobs took, retries included, by dag, job and status (jobs that ran)",
    boundaries: secondsBoundaries,
    attributes: { unit: "seconds" }
  }),
  attempts: Metric.counter("runner.job.attempts", {
    description: "Job attempts that ended, by dag, job and outcome (succeeded, failed, retried, interrupted)",
    incremental: true
  })
}

/** Feeds the metrics from one observer's events. */
export const recorder = () => {
  // Attempt events name their run, not its dag.
  const dags = new Map<string, string>()
  // Attempts in progress: a job interrupted while waiting for its retry has no attempt to count.
  const running = new Set<string>()
  const attempt = (event: { readonly runId: string; readonly jobId: string }, outcome: string) =>
    !running.delete(`${event.runId}\u0000${event.jobId}`) ? Effect.void : Metric.update(
      Metric.withAttributes(metrics.attempts, {
        "runner.dag": dags.get(event.runId) ?? "",
        "runner.job.id": event.jobId,
        "runner.outcome": outcome
      }),
      1
    )
  return (event: RunEvent.RunEvent): Effect.Effect<void> => {
    switch (event._tag) {
      case "RunStarted":
        dags.set(event.runId, event.dag)
        return Effect.void
      case "AttemptStarted":
        running.add(`${event.runId}\u0000${event.jobId}`)
        return Effect.void
      case "AttemptFailed":
        return attempt(event, event.retryInMillis === undefined ? "failed" : "retried")
      case "AttemptSucceeded":
        return attempt(event, "succeeded")
      case "JobInterrupted":
        return attempt(event, "interrupted")
      case "RunFinished": {
        dags.delete(event.runId)
        for (const key of running) if (key.startsWith(`${event.runId}\u0000`)) running.delete(key)
        const run = { "runner.dag": event.dag, "runner.status": event.status }
        return Effect.all([
          Metric.update(Metric.withAttributes(metrics.runs, run), 1),
          Metric.update(Metric.withAttributes(metrics.runDuration, run), event.durationMillis / 1000),
          ...event.jobs.flatMap((job) => {
            const attributes = { "runner.dag": event.dag, "runner.job.id": job.jobId, "runner.status": job.status }
            return [
              Metric.update(Metric.withAttributes(metrics.jobs, attributes), 1),
              ...(job.attempts > 0
                ? [Metric.update(Metric.withAttributes(metrics.jobDuration, attributes), job.durationMillis / 1000)]
                : [])
            ]
          })
        ], { discard: true })
      }
      default:
        return Effect.void
    }
  }
}
