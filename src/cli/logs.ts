/** `runner logs <runId> [job]`: the log lines a run wrote, in order, optionally of one job. */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { JobNotInRun, RunNotFound } from "../Errors.ts"
import * as JournalQueries from "../sql/JournalQueries.ts"
import { journalFlag, type Outcome, print } from "./common.ts"
import { absolute, isoTime, jsonFlag, localTime, printJson, reportError, withJournal } from "./operator.ts"

/** The `--json` document. */
export const toJson = (file: string, runId: string, jobId: string | undefined, lines: ReadonlyArray<JournalQueries.LogLine>) => ({
  journal: absolute(file),
  runId,
  jobId: jobId ?? null,
  lines: lines.map((line) => ({
    time: isoTime(line.at),
    jobId: line.jobId ?? null,
    attempt: line.attempt ?? null,
    level: line.level,
    message: line.message
  }))
})

/** One line per log line: time, job#attempt (or `-` for the run's own lines), level, message; continuations indented. */
export const render = (lines: ReadonlyArray<JournalQueries.LogLine>): string => {
  const who = (line: JournalQueries.LogLine) =>
    line.jobId === undefined ? "-" : line.attempt === undefined ? line.jobId : `${line.jobId}#${line.attempt}`
  const whoWidth = Math.max(...lines.map((line) => who(line).length))
  const levelWidth = Math.max(...lines.map((line) => line.level.length))
  return lines.map((line) => {
    const prefix = `${localTime(line.at, true)}  ${who(line).padEnd(whoWidth)}  ${line.level.padEnd(levelWidth)}  `
    return prefix + line.message.split("\n").join("\n" + " ".repeat(prefix.length))
  }).join("\n")
}

export const command = (outcome: Outcome) =>
  Command.make("logs", {
    runId: Argument.String("runId").pipe(Argument.withDescription("the run id")),
    job: Argument.String("job").pipe(Argument.withDescription("only the lines of this job"), Argument.optional),
    journal: journalFlag,
    json: jsonFlag
  }, ({ job, journal, json, runId }) =>
    Effect.gen(function*() {
      const jobId = Option.getOrUndefined(job)
      const { file, lines } = yield* withJournal(journal, (file) =>
        Effect.gen(function*() {
          if (Option.isNone(yield* JournalQueries.run(runId))) return yield* new RunNotFound({ runId, journal: file })
          if (jobId !== undefined) {
            const jobs = (yield* JournalQueries.jobs(runId)).map((j) => j.jobId)
            if (!jobs.includes(jobId)) return yield* new JobNotInRun({ runId, jobId, available: jobs })
          }
          return { file, lines: yield* JournalQueries.logs(runId, jobId) }
        }))
      if (json) return yield* printJson(toJson(file, runId, jobId, lines))
      if (lines.length > 0) return yield* print(render(lines))
      // Nothing on stdout, so `runner logs ... | grep` stays clean; say so on stderr.
      yield* Effect.sync(() => process.stderr.write(`runner: no log lines for run ${runId}${jobId === undefined ? "" : ` job ${jobId}`}\n`))
    }).pipe(Effect.catch(reportError(outcome)))).pipe(
      Command.withDescription("Print a run's log lines in order (time, job#attempt, level, message), optionally of one job")
    )
