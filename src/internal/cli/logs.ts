/**
 * `runner logs <runId> [job]`: the log lines a run wrote, in order, optionally of one job. A job can print millions of
 * lines, so they are read from the journal a page at a time and written as they come (waiting for stdout to drain),
 * never gathered into one array or one string: memory stays flat whatever the run printed.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { JobNotInRun, RunNotFound } from "../SetupErrors.ts"
import * as JournalQueries from "../sql/JournalQueries.ts"
import { journalFlag } from "./common.ts"
import { absolute, isoTime, jsonFlag, localTime, withJournal } from "./operator.ts"

/** Lines read from the journal at once. */
const PAGE = 2000

/** One line of the `--json` document's `lines`. */
export const lineToJson = (line: JournalQueries.LogLine) => ({
  time: isoTime(line.at),
  jobId: line.jobId ?? null,
  attempt: line.attempt ?? null,
  level: line.level,
  message: line.message
})

const who = (line: JournalQueries.LogLine) =>
  line.jobId === undefined ? "-" : line.attempt === undefined ? line.jobId : `${line.jobId}#${line.attempt}`

/** One text line per log line: time, job#attempt (or `-` for the run's own lines), level, message; continuations indented. */
export const renderLine = (line: JournalQueries.LogLine, widths: { readonly who: number; readonly level: number }): string => {
  const prefix = `${localTime(line.at, true)}  ${who(line).padEnd(widths.who)}  ${line.level.padEnd(widths.level)}  `
  return prefix + line.message.split("\n").join("\n" + " ".repeat(prefix.length))
}

/**
 * Writes to stdout and, when its buffer is full (a slow pipe), waits until it drains. False once stdout is closed
 * (`runner logs ... | head`): there is no one left to read the rest.
 */
const write = (text: string): Effect.Effect<boolean> =>
  Effect.callback<boolean>((resume) => {
    const out = process.stdout
    if (out.destroyed) return resume(Effect.succeed(false))
    if (out.write(text)) return resume(Effect.succeed(true))
    const done = (open: boolean) => () => {
      out.off("drain", drained)
      out.off("close", closed)
      resume(Effect.succeed(open))
    }
    const drained = done(true)
    const closed = done(false)
    out.once("drain", drained)
    out.once("close", closed)
  })

/** Reads every page of the run's lines in order, writing each as it comes. */
const eachPage = (
  runId: string,
  jobId: string | undefined,
  f: (lines: ReadonlyArray<JournalQueries.LogRow>, first: boolean) => Effect.Effect<boolean>
) =>
  Effect.gen(function*() {
    let afterId = 0
    for (let first = true;; first = false) {
      const page = yield* JournalQueries.logPage(runId, jobId, afterId, PAGE)
      if (page.length === 0) return
      if (!(yield* f(page, first))) return
      if (page.length < PAGE) return
      afterId = page[page.length - 1]!.id
    }
  })

/** The `--json` document, the same as `JSON.stringify(doc, null, 2)`, written a page of lines at a time. */
const writeJson = (file: string, runId: string, jobId: string | undefined) =>
  Effect.gen(function*() {
    const head = JSON.stringify({ journal: absolute(file), runId, jobId: jobId ?? null }, null, 2).slice(0, -2)
    let any = false
    yield* write(`${head},\n  "lines": [`)
    yield* eachPage(runId, jobId, (lines, first) => {
      any = true
      const items = lines.map((line) => "\n" + JSON.stringify(lineToJson(line), null, 2).replace(/^/gm, "    "))
      return write((first ? "" : ",") + items.join(","))
    })
    yield* write(any ? "\n  ]\n}\n" : "]\n}\n")
  })

export const command = Command.make("logs", {
  runId: Argument.String("runId").pipe(Argument.withDescription("the run id")),
  job: Argument.String("job").pipe(Argument.withDescription("only the lines of this job"), Argument.optional),
  journal: journalFlag,
  json: jsonFlag
}, ({ job, journal, json, runId }) =>
  withJournal(journal, (file) =>
    Effect.gen(function*() {
      const jobId = Option.getOrUndefined(job)
      if (Option.isNone(yield* JournalQueries.run(runId))) return yield* new RunNotFound({ runId, journal: file })
      if (jobId !== undefined) {
        const jobs = (yield* JournalQueries.jobs(runId)).map((j) => j.jobId)
        if (!jobs.includes(jobId)) return yield* new JobNotInRun({ runId, jobId, available: jobs })
      }
      if (json) return yield* writeJson(file, runId, jobId)
      const widths = yield* JournalQueries.logWidths(runId, jobId)
      if (widths.count === 0) {
        // Nothing on stdout, so `runner logs ... | grep` stays clean; say so on stderr.
        return yield* Effect.sync(() =>
          process.stderr.write(`runner: no log lines for run ${runId}${jobId === undefined ? "" : ` job ${jobId}`}\n`)
        )
      }
      yield* eachPage(runId, jobId, (lines) => write(lines.map((line) => renderLine(line, widths) + "\n").join("")))
    }))).pipe(
    Command.withDescription("Print a run's log lines in order (time, job#attempt, level, message), optionally of one job")
  )
