/** `runner graph <file> [--format mermaid|dot]`: the DAG as a Mermaid flowchart or a Graphviz digraph. */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import type * as Dag from "../Dag.ts"
import { loadPlan, type Outcome, print, reportSetupError } from "./common.ts"

export type Format = "mermaid" | "dot"

export const render = (plan: Dag.Plan, format: Format): string => {
  const node = (i: number) => `j${i}`
  const quote = (s: string) => JSON.stringify(s)
  if (format === "dot") {
    return [
      `digraph ${quote(plan.dag.name)} {`,
      "  rankdir=LR;",
      ...plan.jobs.map((p) => `  ${node(p.index)} [label=${quote(p.job.id)}${p.job.critical ? "" : ", style=dashed"}];`),
      ...plan.jobs.flatMap((p) => p.deps.map((d) => `  ${node(d.index)} -> ${node(p.index)};`)),
      "}"
    ].join("\n")
  }
  const label = (s: string) => `"${s.replace(/"/g, "#quot;")}"`
  return [
    "flowchart LR",
    ...plan.jobs.map((p) => `  ${node(p.index)}[${label(p.job.id)}]`),
    ...plan.jobs.flatMap((p) => p.deps.map((d) => `  ${node(d.index)} --> ${node(p.index)}`))
  ].join("\n")
}

export const command = (outcome: Outcome) =>
  Command.make("graph", {
    file: Argument.String("file").pipe(Argument.withDescription("the task file")),
    format: Flag.Literals("format", ["mermaid", "dot"]).pipe(
      Flag.withDefault("mermaid" as const),
      Flag.withDescription("mermaid (default) or dot")
    )
  }, ({ file, format }) =>
    loadPlan(file).pipe(
      Effect.flatMap((plan) => print(render(plan, format))),
      Effect.catch(reportSetupError(outcome))
    )).pipe(Command.withDescription("Print the DAG as a Mermaid flowchart or Graphviz dot"))
