/**
 * `runner show <runId>`: one run — who started it, where, how it ended, how many of its jobs ran or were reused — and
 * each job's status, attempts and error, skip reason or the run a cached job's success came from.
 * Durations are the time the run and its jobs ran: a run resumed after a failure sums its executions, and its
 * wall-clock span (which includes the wait for the resume) is shown apart, labelled.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { RunNotFound } from "../SetupErrors.ts"
import { countJobs, describeCounts } from "../reporter/format.ts"
import * as JournalQueries from "../sql/JournalQueries.ts"
import { firstLine } from "../render.ts"
import { journalFlag, print } from "./common.ts"
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
export const toJson = (file: string, run: JournalQueries.RunDetail, jobs: ReadonlyArray<JournalQueries.JobDetail>) => ({
  journal: absolute(file),
  run: {
    runId: run.runId,
    dag: run.dag,
    key: run.key ?? null,
    status: run.status,
    trigger: run.trigger,
    startedAt: isoTime(run.startedAt),
    endedAt: isoTime(run.endedAt),
    durationMillis: run.activeMillis ?? null,
    wallClockMillis: durationMillis(run.startedAt, run.endedAt) ?? null,
    host: run.host,
    pid: run.pid,
    runnerVersion: run.runnerVersion,
    definitionHash: run.definitionHash,
    jobCounts: countJobs(jobs)
  },
  executions: run.executions,
  jobs: jobs.map(JournalQueries.jobDocument)
})

export const render = (run: JournalQueries.RunDetail, jobs: ReadonlyArray<JournalQueries.JobDetail>): string => {
  const fields: ReadonlyArray<readonly [string, string]> = [
    ["dag", run.dag],
    ["key", run.key ?? "-"],
    ["status", run.status],
    ["trigger", run.trigger],
    ["started", localTime(run.startedAt)],
    ["ended", run.endedAt === undefined ? "-" : localTime(run.endedAt)],
    ...(run.executions.length > 1
      ? [
        ["duration", `${formatDuration(run.activeMillis)} running, in ${run.executions.length} executions`] as const,
        [
          "wall clock",
          `${formatDuration(durationMillis(run.startedAt, run.endedAt))} from start to end, with the waits between executions`
        ] as const
      ]
      : [["duration", formatDuration(run.activeMillis)] as const]),
    ["jobs", describeCounts(countJobs(jobs))],
    ["host", run.host],
    ["pid", String(run.pid)],
    ["runner version", run.runnerVersion],
    ["definition hash", run.definitionHash]
  ]
  const width = Math.max(...fields.map(([name]) => name.length))
  const jobTable = jobs.length === 0 ? "no jobs recorded" : table(
    ["job", "status", "attempts", "duration", "detail"],
    jobs.map((job) => [
      job.jobId,
      job.status,
      String(job.attempts),
      formatDuration(job.activeMillis),
      job.error !== undefined
        ? firstLine(job.error)
        : job.cachedFrom !== undefined
        ? `from run ${job.cachedFrom}`
        : job.reason ?? ""
    ]),
    [2, 3]
  )
  const executions = run.executions.map((e) => {
    const git = e["gitTracked"] === false
      ? " (untracked: not in git)"
      : typeof e["gitCommit"] === "string"
      ? ` at commit ${String(e["gitCommit"]).slice(0, 12)}${e["gitDirty"] === true ? " (uncommitted changes)" : ""}`
      : ""
    return `  ${typeof e["at"] === "number" ? localTime(e["at"]) : "-"}  ${e["user"]}@${e["host"]} pid ${e["pid"]}: ` +
      `runner ${e["runnerVersion"]}, effect ${e["effectVersion"]}, ${e["runtime"]}, ${e["taskFile"]}${git}`
  })
  return [
    `run ${run.runId}`,
    ...fields.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`),
    "",
    jobTable,
    ...(executions.length === 0 ? [] : ["", "executed by:", ...executions])
  ].join("\n")
}

export const command = Command.make("show", {
  runId: Argument.String("runId").pipe(Argument.withDescription("the run id, as printed by the run or by runner history")),
  journal: journalFlag,
  json: jsonFlag
}, ({ journal, json, runId }) =>
  Effect.gen(function*() {
    const { file, jobs, run } = yield* withJournal(journal, (file) =>
      Effect.gen(function*() {
        const run = yield* JournalQueries.run(runId)
        if (Option.isNone(run)) return yield* new RunNotFound({ runId, journal: file })
        return { file, run: run.value, jobs: yield* JournalQueries.jobs(runId) }
      }))
    yield* json ? printJson(toJson(file, run, jobs)) : print(render(run, jobs))
  })).pipe(
    Command.withDescription(
      "Show a run and each of its jobs: status, attempts, duration, error, skip reason or the run it was cached from"
    )
  )
