/** What every command shares: loading and planning a task file, the journal's path, and printing to stdout. */
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Dag from "../../Dag.ts"
import * as Plan from "../Plan.ts"
import { InvalidOption } from "../../Errors.ts"
import * as checks from "../checks.ts"
import * as Loader from "../Loader.ts"
import { InFile } from "./exit.ts"

/** Loads a task file and plans its DAG (or the named jobs and what they need); a failure names the file. */
export const loadPlan = (file: string, jobs: ReadonlyArray<string> = []): Effect.Effect<Plan.Plan, InFile> =>
  Effect.flatMap(Loader.load(file), (loaded) => Plan.plan(loaded.dag, jobs)).pipe(
    Effect.mapError((error) => new InFile({ file, error }))
  )

/** Writes to stdout. */
export const print = (text: string) => Effect.sync(() => process.stdout.write(text.endsWith("\n") ? text : text + "\n"))

/** Fails unless the flag's value (when given) is a whole number >= 1. */
export const requirePositive = (flag: string, value: number | Option.Option<number>): Effect.Effect<void, InvalidOption> =>
  Option.match(Option.isOption(value) ? value : Option.some(value), {
    onNone: () => Effect.void,
    onSome: (n) => Effect.asVoid(Effect.fromResult(checks.positiveInteger(n, flag)))
  })

/** `--journal PATH`: where runs are recorded. */
export const journalFlag = Flag.String("journal").pipe(
  Flag.withDescription(
    "the journal file, or a postgres://user@host:port/db URL (default: $RUNNER_JOURNAL, else .runner/journal.db in the " +
      "current directory; none: keep nothing)"
  ),
  Flag.optional
)

/** The journal path: the flag, else RUNNER_JOURNAL, else .runner/journal.db (relative to the current directory). */
export const journalPath = (flag: Option.Option<string>): string =>
  Option.getOrUndefined(flag) || process.env["RUNNER_JOURNAL"] || ".runner/journal.db"
