/** Loading the scheduled DAGs of task files and folders, shared by `runner schedule` and `runner cron`. */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Dag from "../../Dag.ts"
import * as Plan from "../Plan.ts"
import { InvalidOption } from "../../Errors.ts"
import * as Loader from "../Loader.ts"
import type * as Scheduler from "../Scheduler.ts"
import { InFile } from "./exit.ts"

/** Task files: each file as given, each folder's `*.ts` files (not recursive) but its tests (`*.test.ts`), sorted. */
export const expand = (targets: ReadonlyArray<string>): Array<string> =>
  targets.flatMap((target) => {
    const stat = fs.statSync(target, { throwIfNoEntry: false })
    if (stat?.isDirectory() !== true) return [target]
    return fs.readdirSync(target)
      .filter((name) => /\.[cm]?ts$/.test(name) && !/\.test\.[cm]?ts$/.test(name))
      .sort()
      .map((name) => path.join(target, name))
  })

/** Loads every target and plans its scheduled DAG; DAGs without a schedule are left out. */
export const load = (targets: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Scheduler.Entry>, InFile> =>
  Effect.gen(function*() {
    const entries: Array<Scheduler.Entry> = []
    const files = expand(targets)
    for (const file of files) {
      const loaded = yield* Effect.mapError(Loader.load(file), (error) => new InFile({ file, error }))
      const trigger = loaded.dag.trigger
      if (trigger === undefined) continue
      const twin = entries.find((e) => e.plan.dag.name === loaded.dag.name)
      if (twin !== undefined) {
        return yield* new InFile({
          file,
          error: new InvalidOption({ where: `dag "${loaded.dag.name}"`, reason: `is also scheduled in ${twin.file}; DAG names must differ` })
        })
      }
      const plan = yield* Effect.mapError(Plan.plan(loaded.dag), (error) => new InFile({ file, error }))
      entries.push({ file, plan, trigger })
    }
    if (entries.length === 0) {
      return yield* new InFile({
        file: targets.join(", "),
        error: new InvalidOption({ where: "schedule", reason: "no scheduled DAG (Dag.make(name, jobs, { schedule: \"0 2 * * *\" }))" })
      })
    }
    return entries
  })
