/**
 * `runner history [dag] [--limit N]`: the latest runs, newest first, with their status, their jobs (how many ran, how
 * many were reused from an earlier run) and failed jobs. A run's duration is the time it ran: a run resumed after a
 * failure does not count the time it waited for its resume.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { describeCounts } from "../reporter/format.ts"
import * as JournalQueries from "../sql/JournalQueries.ts"
import { journalFlag, print, requirePositive } from "./common.ts"
import {
  absolute,
  durationMillis,
  formatDuration,
  isoTime,
  jsonFlag,
  localTime,
  printJson,
  table,
  withJournal
} from "./operator.ts"

/** The `--json` document. */
export const toJson = (file: string, runs: ReadonlyArray<JournalQueries.RunSummary>) => ({
  journal: absolute(file),
  runs: runs.map((run) => ({
    runId: run.runId,
    dag: run.dag,
    key: run.key ?? null,
    status: run.status,
    trigger: run.trigger,
    startedAt: isoTime(run.startedAt),
    endedAt: isoTime(run.endedAt),
    durationMillis: run.activeMillis ?? null,
    wallClockMillis: durationMillis(run.startedAt, run.endedAt) ?? null,
    executions: run.executionCount,
    jobCounts: run.jobCounts,
    failedJobs: run.failedJobs
  }))
})

export const render = (runs: ReadonlyArray<JournalQueries.RunSummary>): string =>
  table(
    ["run id", "dag", "key", "status", "trigger", "start", "duration", "jobs", "failed jobs"],
    runs.map((run) => [
      run.runId,
      run.dag,
      run.key ?? "-",
      run.status,
      run.trigger,
      localTime(run.startedAt),
      formatDuration(run.activeMillis) + (run.executionCount > 1 ? ` in ${run.executionCount} executions` : ""),
      describeCounts(run.jobCounts),
      run.failedJobs.length === 0 ? "-" : run.failedJobs.join(", ")
    ]),
    [6]
  )

export const command = Command.make("history", {
  dag: Argument.String("dag").pipe(Argument.withDescription("only the runs of this DAG"), Argument.optional),
  limit: Flag.Int("limit").pipe(Flag.withDescription("at most N runs (default 20)"), Flag.withDefault(20)),
  journal: journalFlag,
  json: jsonFlag
}, ({ dag, journal, json, limit }) =>
  Effect.gen(function*() {
    yield* requirePositive("--limit", limit)
    const only = Option.getOrUndefined(dag)
    const [file, runs] = yield* withJournal(journal, (file) =>
      Effect.map(JournalQueries.history({ dag: only, limit }), (runs) => [file, runs] as const))
    if (json) return yield* printJson(toJson(file, runs))
    if (runs.length === 0) return yield* print(`no runs${only === undefined ? "" : ` of ${only}`} in ${file}`)
    yield* print(render(runs))
  })).pipe(
    Command.withDescription(
      "List the latest runs, newest first: status, start, duration, jobs (ran, cached) and failed jobs"
    )
  )
