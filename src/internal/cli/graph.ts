/**
 * `runner graph <file> [--format mermaid|dot]`: the DAG as a Mermaid flowchart or a Graphviz digraph. `runner graph
 * ws [job ...]` draws a workspace's jobs, each package a subgraph, package-order edges dashed.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import type * as Dag from "../../Dag.ts"
import type * as Plan from "../Plan.ts"
import * as Combine from "../workspace/Combine.ts"
import { print } from "./common.ts"
import { planFileOrWorkspace, selectionArguments } from "./list.ts"

export type Format = "mermaid" | "dot"

export const render = (plan: Plan.Plan, format: Format): string => {
  const node = (i: number) => `j${i}`
  const quote = (s: string) => JSON.stringify(s)
  const ordering = (p: Plan.PlannedJob, name: string) => Combine.info(p.job)?.ordering.has(name) === true
  const groups = packages(plan)
  if (format === "dot") {
    const declare = (p: Plan.PlannedJob, indent: string) =>
      `${indent}${node(p.index)} [label=${quote(p.job.id)}${p.job.critical ? "" : ", style=dashed"}];`
    return [
      `digraph ${quote(plan.dag.name)} {`,
      "  rankdir=LR;",
      ...(groups === undefined ? plan.jobs.map((p) => declare(p, "  ")) : [...groups].flatMap(([pkg, jobs], i) => [
        `  subgraph cluster_${i} {`,
        `    label=${quote(pkg)};`,
        ...jobs.map((p) => declare(p, "    ")),
        "  }"
      ])),
      ...plan.jobs.flatMap((p) =>
        p.deps.map((d) => `  ${node(d.index)} -> ${node(p.index)}${ordering(p, d.name) ? " [style=dashed]" : ""};`)
      ),
      "}"
    ].join("\n")
  }
  const label = (s: string) => `"${s.replace(/"/g, "#quot;")}"`
  const declare = (p: Plan.PlannedJob, indent: string) => `${indent}${node(p.index)}[${label(p.job.id)}]`
  return [
    "flowchart LR",
    ...(groups === undefined ? plan.jobs.map((p) => declare(p, "  ")) : [...groups].flatMap(([pkg, jobs], i) => [
      `  subgraph p${i}[${label(pkg)}]`,
      ...jobs.map((p) => declare(p, "    ")),
      "  end"
    ])),
    ...plan.jobs.flatMap((p) =>
      p.deps.map((d) => `  ${node(d.index)} ${ordering(p, d.name) ? "-.->" : "-->"} ${node(p.index)}`)
    )
  ].join("\n")
}

/** A workspace plan's jobs by package (in plan order); undefined for a plan of one task file. */
const packages = (plan: Plan.Plan): ReadonlyMap<string, ReadonlyArray<Plan.PlannedJob>> | undefined => {
  if (!plan.jobs.some((p) => Combine.info(p.job) !== undefined)) return undefined
  const groups = new Map<string, Array<Plan.PlannedJob>>()
  for (const p of plan.jobs) {
    const pkg = Combine.info(p.job)?.pkg ?? "(outside the workspace)"
    groups.set(pkg, [...groups.get(pkg) ?? [], p])
  }
  return groups
}

export const command = Command.make("graph", {
  ...selectionArguments,
  format: Flag.Literals("format", ["mermaid", "dot"]).pipe(
    Flag.withDefault("mermaid" as const),
    Flag.withDescription("mermaid (default) or dot")
  )
}, (input) =>
  planFileOrWorkspace(input).pipe(
    Effect.flatMap((plan) => plan === undefined ? Effect.void : print(render(plan, input.format)))
  )).pipe(Command.withDescription("Print the DAG as a Mermaid flowchart or Graphviz dot (`graph ws [job ...]`: a workspace's)"))

