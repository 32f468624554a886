/**
 * `runner check <file> [job ...]`: the preflight alone, as a checklist — the task file loads and its DAG is valid,
 * every selected job's config resolves, and its declared inputs are readable. Exit 0 when all hold, else 2.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Environment from "../Environment.ts"
import * as Preflight from "../Preflight.ts"
import { loadPlan, print } from "./common.ts"
import { ChecksFailed } from "./exit.ts"
import * as runServices from "./runServices.ts"

const flags = {
  file: Argument.String("file").pipe(Argument.withDescription("the task file")),
  jobs: Argument.String("job").pipe(Argument.withDescription("check only these jobs and the jobs they need"), Argument.variadic()),
  envFile: runServices.flags.envFile,
  json: Flag.Boolean("json").pipe(Flag.withDescription("print the checks as JSON"), Flag.withDefault(false))
}

interface Item {
  readonly ok: boolean
  readonly text: string
}

const handler = (input: {
  readonly file: string
  readonly jobs: ReadonlyArray<string>
  readonly envFile: Option.Option<string>
  readonly json: boolean
}) =>
  Effect.gen(function*() {
    const items: Array<Item> = []
    const planned = yield* Effect.result(loadPlan(input.file, input.jobs))
    if (planned._tag === "Failure") {
      items.push({ ok: false, text: planned.failure.error.message })
    } else {
      const plan = planned.success
      items.push({
        ok: true,
        text: `${input.file}: dag "${plan.dag.name}" is valid: ${plan.jobs.length} job${plan.jobs.length === 1 ? "" : "s"} ` +
          `in ${plan.levels.length} level${plan.levels.length === 1 ? "" : "s"}, no cycles, every need is a job`
      })
      const provider = yield* Effect.result(
        Environment.provider({ env: process.env, envFile: Option.getOrUndefined(input.envFile) })
      )
      if (provider._tag === "Failure") items.push({ ok: false, text: provider.failure.message })
      else {
        const { checks } = yield* Preflight.inspect(plan, provider.success)
        for (const check of checks) items.push({ ok: check.problem === undefined, text: Preflight.render(check) })
        if (checks.length === 0) items.push({ ok: true, text: "no job declares config or inputs" })
      }
    }
    const problems = items.filter((item) => !item.ok).length
    if (input.json) yield* print(JSON.stringify({ file: input.file, ok: problems === 0, checks: items }))
    else {
      yield* print([
        ...items.map((item) => `${item.ok ? "✓" : "✗"} ${item.text}`),
        problems === 0 ? "all checks passed" : `${problems} problem${problems === 1 ? "" : "s"}: a run would not start`
      ].join("\n"))
    }
    if (problems > 0) return yield* new ChecksFailed({ file: input.file, problems })
  })

export const command = Command.make("check", flags, handler).pipe(
  Command.withDescription("Check a task file before running it: DAG valid, config and secrets resolvable, inputs readable")
)
