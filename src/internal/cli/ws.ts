/**
 * `runner ws <job> [<job> ...]`: runs job `<job>` of every workspace package that has it, as one DAG of
 * `<package>#<job>` jobs (see Workspace.ts), narrowed by `--filter` and `--affected`. `runner graph ws` and
 * `runner list ws` plan the same way (wsSelection.ts).
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { print } from "./common.ts"
import { checkFlags, executePlan, flags as runFlags, type RunFlags } from "./run.ts"
import { planWorkspace, type Selection, selectionFlags } from "./wsSelection.ts"

type Input = RunFlags & Selection & { readonly jobs: ReadonlyArray<string> }

const handler = (input: Input) =>
  Effect.gen(function*() {
    yield* checkFlags(input)
    const planned = yield* planWorkspace(input, input.jobs)
    for (const note of planned.notes) yield* print(`ws: ${note}`)
    if (planned._tag === "Nothing") return
    return yield* executePlan(planned.plan, input, path.join(planned.workspace.root, "package.json"))
  })

const { file: _file, jobs: _jobs, ...shared } = runFlags

export const command = Command.make("ws", {
    jobs: Argument.String("job").pipe(
      Argument.withDescription("the job to run in every package that has it (e.g. build); several are allowed"),
      Argument.variadic({ min: 1 })
    ),
    ...selectionFlags,
    ...shared
  }, handler).pipe(
    Command.withDescription(
      "Monorepos: run a job in every workspace package that has it, each after the same job of the packages it depends on"
    )
  )
