/** `--help`: `runner <file> [job...]` first, the runner's flags only, and a description for every flag of every command. */
import * as CommandSpec from "effect/cli/CommandSpec"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { assert, describe, it } from "vitest"
import * as help from "../src/internal/cli/help.ts"
import { commandNames, root } from "../src/internal/cli/main.ts"
import { runner } from "./support/spawn.ts"

describe("runner --help", () => {
  it("every flag and argument of every command has a description", async () => {
    const command = await Effect.runPromise(root(commandNames))
    const undescribed: Array<string> = []
    for (const path of [["runner"], ...commandNames.map((name) => ["runner", name])]) {
      const spec = Option.getOrThrow(CommandSpec.resolve(command, path, { builtIns: help.builtIns }))
      assert.isDefined(spec.description, path.join(" "))
      for (const flag of spec.flags) {
        if (!flag.hidden && (flag.description ?? "").trim() === "") undescribed.push(`${path.join(" ")} --${flag.name}`)
      }
      for (const argument of spec.arguments) {
        if ((argument.description ?? "").trim() === "") undescribed.push(`${path.join(" ")} <${argument.name}>`)
      }
    }
    assert.deepStrictEqual(undescribed, [])
    // The walk saw every command, each with its flags.
    const run = Option.getOrThrow(CommandSpec.resolve(command, ["runner", "run"], { builtIns: help.builtIns }))
    assert.includeMembers(run.flags.map((f) => f.name), ["concurrency", "failure-mode", "journal", "notify-url", "log-level"])
  })

  it("starts its usage with runner <file> [job...], and lists neither --wizard nor --completions", () => {
    const result = runner(["--help"])
    assert.strictEqual(result.status, 0, result.stderr)
    const usage = result.stdout.split("USAGE\n")[1]!.split("\n")
    assert.strictEqual(usage[0]!.trim(), "runner <file> [job...] [flags]")
    assert.match(usage[1]!, /runner <command> \[flags\]/)
    assert.notInclude(result.stdout, "--wizard")
    assert.notInclude(result.stdout, "--completions")
    for (const name of commandNames) assert.match(result.stdout, new RegExp(`^  ${name}\\s`, "m"), name)
    const run = runner(["run", "--help"])
    assert.strictEqual(run.stdout.split("USAGE\n")[1]!.split("\n")[0]!.trim(), "runner <file> [job...] [flags]")
  })

  it("--completions still prints a completion script; --wizard is not a flag", () => {
    const completions = runner(["--completions", "bash"])
    assert.strictEqual(completions.status, 0, completions.stderr)
    assert.include(completions.stdout, "runner")
    const wizard = runner(["--wizard"])
    assert.strictEqual(wizard.status, 2)
    assert.match(wizard.stderr, /Unrecognized flag: --wizard/)
  })
})
