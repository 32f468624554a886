/**
 * `runner list <file>`: the jobs of a task file with their description and needs. `runner list ws [job ...]`: the
 * jobs of a workspace's packages, by package.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import type * as Dag from "../../Dag.ts"
import type * as Plan from "../Plan.ts"
import { InvalidOption } from "../../Errors.ts"
import type { SetupError } from "../SetupErrors.ts"
import * as Combine from "../workspace/Combine.ts"
import { loadPlan, print } from "./common.ts"
import type { InFile } from "./exit.ts"
import { planWorkspace, type Selection, selectionFlags } from "./wsSelection.ts"

export const render = (plan: Plan.Plan): string => {
  const width = Math.min(32, Math.max(...plan.jobs.map((p) => p.job.id.length)))
  const lines = plan.jobs.map(({ deps, job }) => {
    const info = Combine.info(job)
    const typed = deps.filter((d) => info?.ordering.has(d.name) !== true)
    const after = deps.filter((d) => info?.ordering.has(d.name) === true)
    const needs = [
      typed.length === 0 ? undefined : `needs ${typed.map((d) => plan.jobs[d.index]!.job.id).join(", ")}`,
      after.length === 0 ? undefined : `after ${after.map((d) => plan.jobs[d.index]!.job.id).join(", ")}`
    ].filter((s) => s !== undefined)
    return [job.id.padEnd(width), job.description, needs.length === 0 ? undefined : `(${needs.join("; ")})`]
      .filter((s) => s !== undefined).join("  ").trimEnd()
  })
  return [`${plan.dag.name}: ${plan.jobs.length} job${plan.jobs.length === 1 ? "" : "s"}`, ...lines].join("\n")
}

/** The task file argument (or `ws`), the jobs, and the workspace selection flags, as graph and list take them. */
export const selectionArguments = {
  file: Argument.String("file").pipe(Argument.withDescription("the task file, or ws for the workspace around the current directory")),
  jobs: Argument.String("job").pipe(
    Argument.withDescription("only these jobs and what they need (with ws: these jobs of every package; default: all)"),
    Argument.variadic()
  ),
  ...selectionFlags
}

/** Plans the task file, or (file `ws`) the workspace; undefined when the workspace selection leaves nothing. */
export const planFileOrWorkspace = (
  input: Selection & { readonly file: string; readonly jobs: ReadonlyArray<string> }
): Effect.Effect<Plan.Plan | undefined, SetupError | InFile> => {
  if (input.file === "ws") {
    return Effect.flatMap(planWorkspace(input, input.jobs), (planned) =>
      Effect.as(
        Effect.sync(() => planned.notes.forEach((note) => process.stderr.write(`ws: ${note}\n`))),
        planned._tag === "Plan" ? planned.plan : undefined
      ))
  }
  const flag = input.filter.length > 0 ? "--filter" : input.affected._tag === "Some" ? "--affected" : undefined
  if (flag !== undefined) {
    return Effect.fail(new InvalidOption({ where: flag, reason: "only applies to ws (e.g. runner list ws --filter @acme/core)" }))
  }
  return loadPlan(input.file, input.jobs)
}

export const command = Command.make("list", selectionArguments, (input) =>
  planFileOrWorkspace(input).pipe(
    Effect.flatMap((plan) => plan === undefined ? Effect.void : print(render(plan)))
  )).pipe(Command.withDescription("List the jobs of a task file (or of a workspace: list ws) with their description and needs"))
