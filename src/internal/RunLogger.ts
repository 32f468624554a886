/**
 * The logger of a run: `Effect.log` inside jobs (and shell output) goes to the Reporter, to be shown, and to the
 * Journal, to be kept — with the run id, job id and attempt the executor annotates.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as render from "./render.ts"
import { Journal } from "./Journal.ts"
import { levelOf, Reporter } from "./reporter/Reporter.ts"
import * as Secrets from "./Secrets.ts"

/** Replaces the default loggers for the run. */
export const layer: Layer.Layer<never, never, Reporter | Journal> = Layer.unwrap(Effect.gen(function*() {
  const reporter = yield* Reporter
  const journal = yield* Journal
  const logger = Logger.make<unknown, void>(({ date, fiber, logLevel, message }) => {
    const annotations = fiber.getRef(References.CurrentLogAnnotations)
    const { attempt, jobId, runId } = annotations
    const entry = {
      at: date.getTime(),
      level: levelOf(logLevel),
      // The run's secrets never reach the terminal or the journal in clear. Rendering never throws: this runs in the
      // job's fiber, where a throw would fail the job.
      message: fiber.getRef(Secrets.CurrentMasker).mask((Array.isArray(message) ? message : [message]).map(render.message).join(" ")),
      jobId: typeof jobId === "string" ? jobId : undefined,
      attempt: typeof attempt === "number" ? attempt : undefined,
      runId: typeof runId === "string" ? runId : undefined
    }
    reporter.log(entry)
    if (entry.runId !== undefined) journal.log({ ...entry, runId: entry.runId })
  })
  return Logger.layer([logger])
}))
