/**
 * `runner prune --older-than 30d`: deletes finished runs that ended before then, with their jobs, attempts and logs,
 * and cluster mode's rows that are no longer needed (sql/ClusterPrune.ts).
 */
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as duration from "../duration.ts"
import { InvalidOption } from "../../Errors.ts"
import * as JournalQueries from "../sql/JournalQueries.ts"
import { journalFlag, print } from "./common.ts"
import { absolute, isoTime, jsonFlag, localTime, printJson, withJournal } from "./operator.ts"

/** `30d`, `12h`, `90m`, `2w`, `45s`, `500ms`, or an Effect duration string (`"30 days"`); never negative or infinite. */
export const parseAge = (input: string): Option.Option<Duration.Duration> => duration.fromInput(input as Duration.Input)

/** The `--json` document. */
export const toJson = (file: string, olderThan: string, cutoff: number, pruned: JournalQueries.Pruned) => ({
  journal: absolute(file),
  olderThan,
  cutoff: isoTime(cutoff),
  deleted: pruned.runIds.length,
  runIds: pruned.runIds,
  kept: pruned.kept,
  cluster: pruned.cluster
})

export const render = (cutoff: number, pruned: JournalQueries.Pruned): string => {
  const n = pruned.runIds.length
  const lines = [`deleted ${n} run${n === 1 ? "" : "s"} that ended before ${localTime(cutoff)}`]
  if (pruned.kept > 0) {
    lines.push(`kept ${pruned.kept} older run${pruned.kept === 1 ? "" : "s"} that ${pruned.kept === 1 ? "is" : "are"} unfinished or locked`)
  }
  const { executions, jobLeases, resourceLeases, rateSlots } = pruned.cluster
  if (executions + jobLeases + resourceLeases + rateSlots > 0) {
    lines.push(
      `cluster: deleted ${executions} finished workflow execution${executions === 1 ? "" : "s"}, ${jobLeases} job ` +
        `lease${jobLeases === 1 ? "" : "s"}, ${resourceLeases} expired resource slot${resourceLeases === 1 ? "" : "s"}, ` +
        `${rateSlots} old rate-limit start${rateSlots === 1 ? "" : "s"}`
    )
  }
  return lines.join("\n")
}

export const command = Command.make("prune", {
  olderThan: Flag.String("older-than").pipe(
    Flag.withDescription("delete finished runs that ended longer ago than this: 30d, 12h, 90m, 2w or \"30 days\"")
  ),
  journal: journalFlag,
  json: jsonFlag
}, ({ journal, json, olderThan }) =>
  Effect.gen(function*() {
    const age = parseAge(olderThan)
    if (Option.isNone(age)) {
      return yield* new InvalidOption({
        where: "--older-than",
        reason: `invalid duration ${JSON.stringify(olderThan)} (use e.g. 30d, 12h, 90m, 2w or "30 days")`
      })
    }
    const cutoff = (yield* Clock.currentTimeMillis) - Duration.toMillis(age.value)
    const { file, pruned } = yield* withJournal(journal, (file) =>
      Effect.map(JournalQueries.prune(cutoff), (pruned) => ({ file, pruned })))
    yield* json ? printJson(toJson(file, olderThan, cutoff, pruned)) : print(render(cutoff, pruned))
  })).pipe(
    Command.withDescription("Delete finished runs that ended before now minus --older-than (never running or locked ones)")
  )
