/**
 * Which workspace packages take part and the DAG they make: `--filter`, `--affected` and the plan of their jobs, as
 * `runner ws` runs it and `runner list ws` lists it. Apart from ws.ts so that listing does not load the run's code.
 */
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as path from "node:path"
import * as Dag from "../../Dag.ts"
import * as Plan from "../Plan.ts"
import { InvalidOption } from "../../Errors.ts"
import type { SetupError } from "../SetupErrors.ts"
import * as Affected from "../workspace/Affected.ts"
import * as Combine from "../workspace/Combine.ts"
import * as Discovery from "../workspace/Discovery.ts"

/** `--filter`, `--affected`, `--base`, `--head`: which packages take part. */
export const selectionFlags = {
  filter: Flag.String("filter").pipe(
    Flag.withDescription(
      "only these packages: NAME (that package), NAME... (and what it depends on), ...NAME (and what depends on it); " +
        "* matches any characters (@acme/*); repeat to combine (default: every package)"
    ),
    Flag.atLeast(0)
  ),
  affected: Flag.String("affected").pipe(
    Flag.withDescription(
      "only the packages with files changed between --base and --head (git), and what depends on them; " +
        "--affected=all-on-error runs every package when git cannot answer (default: exit 2)"
    ),
    Flag.withOptionalValue("strict"),
    Flag.optional
  ),
  base: Flag.String("base").pipe(
    Flag.withDescription("with --affected: compare from this ref (default: the merge base with the default branch, else HEAD^)"),
    Flag.optional
  ),
  head: Flag.String("head").pipe(
    Flag.withDescription("with --affected: compare to this ref (default: the working tree, uncommitted files included)"),
    Flag.optional
  )
}

export interface Selection {
  readonly filter: ReadonlyArray<string>
  readonly affected: Option.Option<string>
  readonly base: Option.Option<string>
  readonly head: Option.Option<string>
}

/** A planned workspace run, or the reason there is nothing to run; `notes` say how the packages were chosen. */
export type Planned =
  | { readonly _tag: "Plan"; readonly plan: Plan.Plan; readonly workspace: Discovery.Workspace; readonly notes: ReadonlyArray<string> }
  | { readonly _tag: "Nothing"; readonly notes: ReadonlyArray<string> }

/** Finds the workspace above the current directory, selects its packages, loads them and plans jobs `ids` (all when empty). */
export const planWorkspace = (selection: Selection, ids: ReadonlyArray<string>): Effect.Effect<Planned, SetupError> =>
  Effect.gen(function*() {
    const mode = Option.getOrUndefined(selection.affected)
    const base = Option.getOrUndefined(selection.base)
    const head = Option.getOrUndefined(selection.head)
    if (mode !== undefined && mode !== "strict" && mode !== "all-on-error") {
      return yield* new InvalidOption({ where: "--affected", reason: `takes no value or =all-on-error, got "${mode}"` })
    }
    if (mode === undefined && (base !== undefined || head !== undefined)) {
      return yield* new InvalidOption({ where: base !== undefined ? "--base" : "--head", reason: "only applies with --affected" })
    }
    const workspace = yield* Effect.flatMap(Discovery.findRoot(), Discovery.discover)
    const notes: Array<string> = []
    let selected: ReadonlySet<string> | undefined = selection.filter.length === 0
      ? undefined
      : yield* Discovery.select(workspace, selection.filter)
    if (mode !== undefined) {
      const found = yield* Affected.affected(workspace, { base, head }).pipe(
        Effect.map((found) => found as Affected.Affected | undefined),
        Effect.catchTag("AffectedUnavailable", (error) =>
          mode === "all-on-error"
            ? Effect.as(
              Effect.sync(() => process.stderr.write(`runner: warning: ${error.message.split(". Nothing ran.")[0]}; running every selected package (--affected=all-on-error)\n`)),
              undefined
            )
            : Effect.fail(error))
      )
      if (found !== undefined) {
        const dependents = [...found.packages].filter((name) => !found.changed.includes(name))
        const short = (ref: string) => /^[0-9a-f]{40,64}$/.test(ref) ? ref.slice(0, 12) : ref
        notes.push(
          `affected (${short(found.base)}..${short(found.head)}): ` +
            (found.changed.length === 0 ? "no package changed" : `${found.changed.join(", ")} changed`) +
            (dependents.length === 0 ? "" : `; depending on them: ${dependents.join(", ")}`) +
            (found.outside === 0 ? "" : `; ${found.outside} changed file${found.outside === 1 ? "" : "s"} outside the packages`)
        )
        selected = new Set([...(selected ?? found.packages)].filter((name) => found.packages.has(name)))
      }
    }
    if (selected !== undefined && selected.size === 0) {
      return { _tag: "Nothing", notes: [...notes, "no package selected; nothing to run"] } as const
    }
    const loaded = yield* Combine.load(workspace)
    const chosen = workspace.packages.filter((p) => selected === undefined || selected.has(p.name))
    const jobIds = ids.length > 0 ? ids : [...new Set(chosen.flatMap((p) => [...loaded.jobs.get(p.name)!.keys()]))]
    if (jobIds.length === 0) return { _tag: "Nothing", notes: [...notes, "the selected packages have no jobs"] } as const
    const combined = yield* Combine.combine(loaded, jobIds, selected)
    if (combined.jobs.length === 0) {
      return { _tag: "Nothing", notes: [...notes, `no selected package has ${jobIds.join(" or ")}; nothing to run`] } as const
    }
    const dag = Dag.make(`ws:${ids.length > 0 ? ids.join("+") : "all"}`, combined.jobs)
    const plan = yield* Plan.plan(dag)
    const packages = new Set(combined.jobs.map((job) => Combine.info(job)!.pkg))
    notes.unshift(
      `workspace ${path.relative(process.cwd(), workspace.root) || "."}: ${jobIds.join(", ")} in ${packages.size} of ` +
        `${workspace.packages.length} package${workspace.packages.length === 1 ? "" : "s"}`
    )
    return { _tag: "Plan", plan, workspace, notes } as const
  })
