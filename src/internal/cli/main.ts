/**
 * The `runner` command line: `runner <file> [job ...]` (run), `runner graph <file>`, `runner list <file>`, ... Each
 * command's module is loaded only when that command runs, so a run does not pay for the operator commands.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as Spawner from "../process/Spawner.ts"
import * as Runtime from "../runtime/Runtime.ts"
import type { Outcome } from "./common.ts"
import { version } from "./version.ts"

export { version }

/** A command module: its `command` builds the subcommand, writing the exit code into `outcome`. */
interface CommandModule {
  readonly command: (outcome: Outcome) => Command.Command<any, any, any, any, Layer.Success<typeof NodeServices.layer>>
}

/** The subcommands, in the order help lists them, each loaded on demand. */
const commands: Record<string, () => Promise<CommandModule>> = {
  run: () => import("./run.ts"),
  init: () => import("./init.ts"),
  ws: () => import("./ws.ts"),
  graph: () => import("./graph.ts"),
  list: () => import("./list.ts"),
  history: () => import("./history.ts"),
  show: () => import("./show.ts"),
  logs: () => import("./logs.ts"),
  prune: () => import("./prune.ts"),
  doctor: () => import("./doctor.ts"),
  schedule: () => import("./schedule.ts"),
  cron: () => import("./cron.ts"),
  check: () => import("./check.ts")
}

const subcommands = new Set(Object.keys(commands))
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

/** Exit codes main uses itself (the others are in common.ts, loaded with the commands). */
const ok = 0
const usage = 2

/**
 * The commands a command line needs: the one it names; none for `--version`; all of them for the root's help and
 * completions (and for anything else, so the CLI reports it as it would).
 */
const needed = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const first = args[0]
  if (first !== undefined && subcommands.has(first)) return [first]
  if (args.length === 1 && first === "--version") return []
  return Object.keys(commands)
}

/** Runs the command line and returns the process exit code (interruption is mapped to 130 by the caller). */
export const main = (args: ReadonlyArray<string>): Effect.Effect<number> => {
  const normalized = normalize(args)
  return Effect.promise(() => Promise.all(needed(normalized).map((name) => commands[name]!()))).pipe(
    Effect.flatMap((modules) => {
      const outcome: Outcome = { code: ok }
      const root = Command.make("runner").pipe(
        Command.withDescription("Run typed Effect jobs as a DAG: retries, timeouts, rate limits, structured concurrency."),
        Command.withSubcommands(modules.map((module) => module.command(outcome)))
      )
      return Command.runWith(root, { version })(normalized).pipe(
        Effect.map(() => outcome.code),
        // Parse errors were already printed by the CLI with the command's help.
        Effect.catch(() => Effect.succeed(usage))
      )
    }),
    // Stdout is for what a command prints (JSON documents and lines included): Effect's own default logger, which logs
    // what happens outside a run (opening and migrating a journal for an operator command), writes to stderr.
    Effect.provideService(References.LogToStderr, true),
    // Jobs' processes start through the runner's own ChildProcessSpawner (process/Spawner.ts), over Node's.
    Effect.provide(Layer.provideMerge(Spawner.layer, NodeServices.layer))
  )
}

/** Runs the command line as the process. bin/runner.js calls it, from dist/ or (in a clone) from the sources. */
export const start = (args: ReadonlyArray<string>): void => {
  Runtime.runMain(main(args), (program) => Effect.runFork(program))
}
