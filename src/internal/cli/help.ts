/**
 * How `--help` reads. Effect's CLI writes the usage of a command with subcommands as `runner <subcommand> [flags]`,
 * but the runner's first use is `runner <file> [job...]` (the `run` command is the default): that line comes first
 * in the root's help and in run's. Of Effect's built-in global flags the runner keeps --help, --version and
 * --log-level; --wizard (interactive prompts for a command's flags) has no use for a batch runner and is gone, and
 * --completions (a shell completion script) still works but is not listed, so the help shows the runner's flags only.
 */
import * as CliConfig from "effect/cli/CliConfig"
import * as CliOutput from "effect/cli/CliOutput"
import * as Flag from "effect/cli/Flag"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import type { HelpDoc } from "effect/cli/HelpDoc"
import * as Layer from "effect/Layer"

/** The built-in global flags the runner accepts: Effect's, without --wizard, with --completions unlisted. */
export const builtIns: ReadonlyArray<GlobalFlag.BuiltIn> = [
  GlobalFlag.Help,
  GlobalFlag.Version,
  GlobalFlag.Action({ flag: Flag.withHidden(GlobalFlag.Completions.flag), run: GlobalFlag.Completions.run }),
  GlobalFlag.LogLevel
]

/** The usage lines of a command path, when the runner writes them rather than Effect. */
const usage = (path: ReadonlyArray<string> | undefined): string | undefined => {
  if (path === undefined) return undefined
  if (path.length === 1) return "runner <file> [job...] [flags]\n  runner <command> [flags]"
  if (path.length === 2 && path[1] === "run") return "runner <file> [job...] [flags]\n  runner run <file> [job...] [flags]"
  if (path.length === 2 && path[1] === "why") return "runner why <file> <job> [flags]"
  return undefined
}

/** Effect's help text, with the runner's usage lines. */
const formatter = (): CliOutput.Formatter => {
  const base = CliOutput.defaultFormatter()
  return {
    ...base,
    formatHelpDoc: (doc: HelpDoc) => base.formatHelpDoc({ ...doc, usage: usage(doc.commandPath) ?? doc.usage })
  }
}

/** The CLI's configuration: the built-in flags above and the help formatter. */
export const layer: Layer.Layer<never> = Layer.mergeAll(
  CliConfig.layer({ builtIns }),
  CliOutput.layer(formatter())
)
