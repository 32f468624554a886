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
import { ExitCode, exitOf, type Failure } from "./exit.ts"
import * as help from "./help.ts"
import { version } from "./version.ts"

export { version }

/** A command module: its `command`, which succeeds or fails with one of the failures exit.ts maps to exit codes. */
interface CommandModule {
  readonly command: Command.Command<any, any, any, Failure, Layer.Success<typeof NodeServices.layer>>
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
  ui: () => import("./ui.ts"),
  prune: () => import("./prune.ts"),
  why: () => import("./why.ts"),
  cache: () => import("./cache.ts"),
  doctor: () => import("./doctor.ts"),
  schedule: () => import("./schedule.ts"),
  cron: () => import("./cron.ts"),
  backfill: () => import("./backfill.ts"),
  check: () => import("./check.ts"),
  worker: () => import("./worker.ts"),
  cancel: () => import("./cancel.ts")
}

/** Every command's name, in help's order. */
export const commandNames: ReadonlyArray<string> = Object.keys(commands)

const subcommands = new Set(commandNames)
const rootFlags = new Set(["--help", "-h", "--version", "-v", "--completions"])

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

/**
 * The commands a command line needs: the one it names; none for `--version`; all of them for the root's help and
 * completions (and for anything else, so the CLI reports it as it would).
 */
const needed = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const first = args[0]
  if (first !== undefined && subcommands.has(first)) return [first]
  if (args.length === 1 && (first === "--version" || first === "-v")) return []
  return commandNames
}

/** The `runner` command with the named subcommands (loaded now). */
export const root = (names: ReadonlyArray<string>) =>
  Effect.map(
    Effect.promise(() => Promise.all(names.map((name) => commands[name]!()))),
    (modules) =>
      Command.make("runner").pipe(
        Command.withDescription("Run typed Effect jobs as a DAG: retries, timeouts, rate limits, structured concurrency."),
        Command.withSubcommands(modules.map((module) => module.command))
      )
  )

/** Runs the command line and returns the process exit code (interruption is mapped to 130 by the caller). */
export const main = (args: ReadonlyArray<string>): Effect.Effect<number> => {
  const normalized = normalize(args)
  return root(needed(normalized)).pipe(
    Effect.flatMap((command) => Command.runWith(command, { version })(normalized)),
    Effect.as(ExitCode.ok),
    // The one place a command's failure becomes an exit code (and, unless it was shown already, a line on stderr).
    Effect.catch((failure) =>
      Effect.sync(() => {
        const { code, stderr } = exitOf(failure)
        if (stderr !== undefined) process.stderr.write(stderr)
        return code
      })
    ),
    // Stdout is for what a command prints (JSON documents and lines included): Effect's own default logger, which logs
    // what happens outside a run (opening and migrating a journal for an operator command), writes to stderr.
    Effect.provideService(References.LogToStderr, true),
    // Jobs' processes start through the runner's own ChildProcessSpawner (process/Spawner.ts), over Node's.
    Effect.provide([Layer.provideMerge(Spawner.layer, NodeServices.layer), help.layer])
  )
}

/** Runs the command line as the process. bin/runner.js calls it, from dist/ or (in a clone) from the sources. */
export const start = (args: ReadonlyArray<string>): void => {
  Runtime.runMain(main(args), (program) => Effect.runFork(program))
}
