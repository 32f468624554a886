/** The `runner` command line: `runner <file> [job ...]` (run), `runner graph <file>`, `runner list <file>`. */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import { ExitCode, type Outcome } from "./common.ts"
import * as check from "./check.ts"
import * as cron from "./cron.ts"
import * as doctor from "./doctor.ts"
import * as graph from "./graph.ts"
import * as history from "./history.ts"
import * as list from "./list.ts"
import * as logs from "./logs.ts"
import * as prune from "./prune.ts"
import * as run from "./run.ts"
import * as schedule from "./schedule.ts"
import * as show from "./show.ts"
import { version } from "./version.ts"

export { version }

const subcommands = new Set(["run", "graph", "list", "history", "show", "logs", "prune", "doctor", "schedule", "cron", "check"])
const rootFlags = new Set(["--help", "-h", "--version", "--completions"])

/**
 * `runner tasks/x.ts` means `runner run tasks/x.ts`: the run command is the default. `--resume <runId>` is accepted
 * for `--resume=<runId>` (a bare `--resume` means the latest unfinished run).
 */
const normalize = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const withCommand = args.length === 0 || subcommands.has(args[0]!) || rootFlags.has(args[0]!) ? args : ["run", ...args]
  const out: Array<string> = []
  for (let i = 0; i < withCommand.length; i++) {
    const arg = withCommand[i]!
    const next = withCommand[i + 1]
    if (arg === "--resume" && next !== undefined && runIdPattern.test(next)) {
      out.push(`--resume=${next}`)
      i++
    } else out.push(arg)
  }
  return out
}

const runIdPattern = /^\d{8}-\d{6}-[0-9a-f]{4,}$/

/** Runs the command line and returns the process exit code (interruption is mapped to 130 by the caller). */
export const main = (args: ReadonlyArray<string>): Effect.Effect<number> => {
  const outcome: Outcome = { code: ExitCode.ok }
  const root = Command.make("runner").pipe(
    Command.withDescription("Run typed Effect jobs as a DAG: retries, timeouts, rate limits, structured concurrency."),
    Command.withSubcommands([
      run.command(outcome),
      graph.command(outcome),
      list.command(outcome),
      history.command(outcome),
      show.command(outcome),
      logs.command(outcome),
      prune.command(outcome),
      doctor.command(outcome),
      schedule.command(outcome),
      cron.command(outcome),
      check.command(outcome)
    ])
  )
  return Command.runWith(root, { version })(normalize(args)).pipe(
    Effect.map(() => outcome.code),
    // Parse errors were already printed by the CLI with the command's help.
    Effect.catch(() => Effect.succeed(ExitCode.usage)),
    Effect.provide(NodeServices.layer)
  )
}
