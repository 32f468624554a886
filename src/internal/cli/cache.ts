/**
 * `runner cache prune [--older-than 30d] [--keep N]`: trims the successes kept for reuse (jobs with `cache`), never
 * the history of runs: `runner history` and `show` still list every run and job, including jobs that were reused
 * from a pruned entry. A pruned entry only means its job runs again next time its inputs match. The memo of declared
 * files' hashes loses the files that no longer exist.
 */
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import { InvalidOption } from "../../Errors.ts"
import * as CacheQueries from "../sql/CacheQueries.ts"
import { journalFlag, print } from "./common.ts"
import { absolute, isoTime, jsonFlag, localTime, printJson, withJournal } from "./operator.ts"
import { parseAge } from "./prune.ts"

/** What `prune` does with neither option: entries older than this go. */
export const defaultOlderThan = "30d"

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

/** What was asked, in words: "older than 30d", "beyond the newest 3 of their job", or both. */
const criteria = (olderThan: string | undefined, keep: number | undefined): string =>
  [
    olderThan === undefined ? undefined : `created more than ${olderThan} ago`,
    keep === undefined ? undefined : `beyond the newest ${keep} of their job`
  ].filter((s) => s !== undefined).join(", or ")

export const render = (
  olderThan: string | undefined,
  cutoff: number | undefined,
  keep: number | undefined,
  pruned: CacheQueries.Pruned
): string => {
  const when = cutoff === undefined ? "" : ` (before ${localTime(cutoff)})`
  return [
    `removed ${plural(pruned.removed, "cache entry", "cache entries")} ${criteria(olderThan, keep)}${when}; kept ${pruned.kept}`,
    ...(pruned.fileHashesRemoved === 0
      ? []
      : [`forgot the hashes of ${plural(pruned.fileHashesRemoved, "file")} that no longer exist${pruned.fileHashesRemoved === 1 ? "s" : ""}`]),
    "runs and their jobs are kept (runner prune deletes old runs)"
  ].join("\n")
}

/** The `--json` document. */
export const toJson = (
  file: string,
  olderThan: string | undefined,
  cutoff: number | undefined,
  keep: number | undefined,
  pruned: CacheQueries.Pruned
) => ({
  journal: absolute(file),
  olderThan: olderThan ?? null,
  cutoff: cutoff === undefined ? null : isoTime(cutoff),
  keep: keep ?? null,
  removed: pruned.removed,
  kept: pruned.kept,
  fileHashesRemoved: pruned.fileHashesRemoved
})

const prune = Command.make("prune", {
  olderThan: Flag.String("older-than").pipe(
    Flag.withDescription(
      `remove entries created longer ago than this: 30d, 12h, 90m, 2w or "30 days" (default ${defaultOlderThan} when ` +
        "--keep is not given either)"
    ),
    Flag.optional
  ),
  keep: Flag.Int("keep").pipe(
    Flag.withDescription("keep only the newest N entries of each job of each DAG (0 removes them all); with --older-than, an entry goes if either says so"),
    Flag.optional
  ),
  journal: journalFlag,
  json: jsonFlag
}, (input) =>
  Effect.gen(function*() {
    const keep = Option.getOrUndefined(input.keep)
    if (keep !== undefined && (!Number.isInteger(keep) || keep < 0)) {
      return yield* new InvalidOption({ where: "--keep", reason: `must be a whole number >= 0, got ${keep}` })
    }
    const olderThan = Option.getOrUndefined(input.olderThan) ?? (keep === undefined ? defaultOlderThan : undefined)
    let cutoff: number | undefined
    if (olderThan !== undefined) {
      const age = parseAge(olderThan)
      if (Option.isNone(age)) {
        return yield* new InvalidOption({
          where: "--older-than",
          reason: `invalid duration ${JSON.stringify(olderThan)} (use e.g. 30d, 12h, 90m, 2w or "30 days")`
        })
      }
      cutoff = (yield* Clock.currentTimeMillis) - Duration.toMillis(age.value)
    }
    const { file, pruned } = yield* withJournal(input.journal, (file) =>
      Effect.map(
        CacheQueries.prune({ cutoff, keep, exists: (path) => fs.existsSync(path) }),
        (pruned) => ({ file, pruned })
      ))
    yield* input.json ? printJson(toJson(file, olderThan, cutoff, keep, pruned)) : print(render(olderThan, cutoff, keep, pruned))
  })).pipe(
    Command.withDescription(
      `Remove kept successes of jobs with \`cache\` older than --older-than and/or beyond the newest --keep per job ` +
        `(default: --older-than ${defaultOlderThan}); never runs or their history`
    )
  )

export const command = Command.make("cache").pipe(
  Command.withDescription("Manage the successes kept for jobs with `cache` (up-to-date skipping): cache prune"),
  Command.withSubcommands([prune])
)
