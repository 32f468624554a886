/** `runner list <file>`: the jobs of a task file with their description and needs. */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import type * as Dag from "../Dag.ts"
import { loadPlan, type Outcome, print, reportSetupError } from "./common.ts"

export const render = (plan: Dag.Plan): string => {
  const width = Math.min(32, Math.max(...plan.jobs.map((p) => p.job.id.length)))
  const lines = plan.jobs.map(({ deps, job }) => {
    const needs = deps.length === 0 ? undefined : `(needs ${deps.map((d) => plan.jobs[d.index]!.job.id).join(", ")})`
    return [job.id.padEnd(width), job.description, needs].filter((s) => s !== undefined).join("  ").trimEnd()
  })
  return [`${plan.dag.name}: ${plan.jobs.length} job${plan.jobs.length === 1 ? "" : "s"}`, ...lines].join("\n")
}

export const command = (outcome: Outcome) =>
  Command.make("list", { file: Argument.String("file").pipe(Argument.withDescription("the task file")) }, ({ file }) =>
    loadPlan(file).pipe(
      Effect.flatMap((plan) => print(render(plan))),
      Effect.catch(reportSetupError(outcome))
    )).pipe(Command.withDescription("List the jobs of a task file with their description and needs"))
